"""The factory's MQTT ingest: one subscription, three kinds of topics.

* ``spBv1.0/...``: Sparkplug B, handled by :class:`SparkplugHost`;
* JSON telemetry matched by the tag rules (``factory/<site>/<line>/<machine>/telemetry`` by default);
* JSON reject reasons (``.../reject``) and genealogy records (``factory/<site>/trace``).

With no broker URL configured the scene also starts the embedded broker, so ``make run`` still
goes over real MQTT. That broker admits no anonymous client: the platform's subscriber, every
``devices`` entry and (``demo_devices``) one generated account per plant site and per Sparkplug edge
node of the plant model, each allowed to publish only under its own topics
(:func:`demo_accounts`); the host's STATE topic is the platform's alone. The in-process simulators
ask the running server for their passwords (:func:`device_login`). With an external broker its own
ACLs apply and ``mqtt.username``/``password`` are the platform's login there.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import aiomqtt
import msgspec

from citybrain import sdk
from citybrain.gateways.mqtt import (
    BrokerAccounts,
    EmbeddedBroker,
    Incoming,
    MqttSubscriber,
    Submit,
    TagMap,
    message_id,
    topic_matches,
)
from citybrain.scenes.factory.events import FactoryReject, FactoryTags, FactoryTrace, MaterialInput
from citybrain.scenes.factory.plant import PlantBook
from citybrain.scenes.factory.settings import FactorySettings, IngestSettings
from citybrain.scenes.factory.spb_host import SparkplugHost
from citybrain.scenes.factory.world import FactoryWorld
from citybrain.sdk import MAX_TS, MIN_TS, DecodeError, Event

log = logging.getLogger(__name__)


class _RejectMsg(msgspec.Struct):
    reason: str
    count: int = 1
    ts: int | None = None


class _TraceMsg(msgspec.Struct, forbid_unknown_fields=True):
    unit: str
    ts: int
    kind_of_unit: str = "unit"
    line: str = ""
    machine: str = ""
    operator: str = ""
    start_ts: int = 0
    inputs: list[MaterialInput] = msgspec.field(default_factory=list)
    params: dict[str, float | bool | str] = msgspec.field(default_factory=dict)
    result: str = "good"
    reason: str = ""


_REJECT = msgspec.json.Decoder(_RejectMsg)
_TRACE = msgspec.json.Decoder(_TraceMsg)


def _check_ts(ts: int, topic: str) -> int:
    if not MIN_TS <= ts <= MAX_TS:
        raise DecodeError(f"{topic}: ts {ts} is not epoch milliseconds of 2000..2100")
    return ts


class BoundedCounts(OrderedDict[str, int]):
    """Counts by name, at most ``limit`` names: the least recently seen one is folded into
    ``"(other)"`` (a publisher inventing topics cannot grow the map)."""

    OTHER = "(other)"

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = max(1, limit)

    def add(self, name: str, n: int = 1) -> None:
        if name in self:
            self[name] += n
            self.move_to_end(name)
            return
        self[name] = n
        while len(self) > self.limit:
            old, count = self.popitem(last=False)
            if old == self.OTHER:
                self[old] = count  # keep the bucket, evict the next one
                continue
            self[self.OTHER] = self.get(self.OTHER, 0) + count
            self.move_to_end(self.OTHER, last=False)


class FactoryIngest:
    """Incoming MQTT message -> factory events (raises DecodeError for what cannot be read)."""

    def __init__(self, cfg: IngestSettings, book: PlantBook, host: SparkplugHost | None) -> None:
        self.cfg, self.book, self.host = cfg, book, host
        self.tags = TagMap(cfg.tag_rules)
        self.unmapped = BoundedCounts(cfg.max_unmapped)
        if host is not None:  # Sparkplug metrics no machine maps, as spb:<group>/<node>[/<device>]
            host.on_unmapped = self.unmapped.add

    def __call__(self, msg: Incoming) -> list[Event]:
        topic = msg.topic
        if topic.startswith("spBv1.0/"):
            if self.host is None or topic.startswith("spBv1.0/STATE/"):
                return []
            return self.host.handle(msg)
        if topic_matches(self.cfg.reject_topic, topic):
            return self._reject(msg)
        if topic_matches(self.cfg.trace_topic, topic):
            return [self._trace(msg)]
        rule = self.tags.match(topic)
        if rule is None:
            self.unmapped.add(topic)
            return []
        r = self.tags.apply(rule, topic, msg.payload, msg.received_ms)
        key = self.book.by_source(r.entity)
        if key is None:
            self.unmapped.add(r.entity)
            return []
        return [
            FactoryTags(
                key=key,
                ts=_check_ts(r.ts, topic),
                source=f"mqtt:{topic}",
                id=message_id(topic, msg.payload),
                values=r.values,
                units=r.units,
            )
        ]

    def _reject(self, msg: Incoming) -> list[Event]:
        try:
            m = _REJECT.decode(msg.payload)
        except msgspec.DecodeError as err:
            raise DecodeError(f"{msg.topic}: {err}") from err
        levels = msg.topic.split("/")
        try:
            entity = self.cfg.reject_entity.format(*levels)
        except IndexError as err:
            raise DecodeError(f"{msg.topic}: too few levels for {self.cfg.reject_entity!r}") from err
        key = self.book.by_source(entity)
        if key is None or m.count < 1 or not m.reason:
            return []
        ts = _check_ts(m.ts if m.ts is not None else msg.received_ms, msg.topic)
        return [
            FactoryReject(
                key=key,
                ts=ts,
                source=f"mqtt:{msg.topic}",
                id=message_id(msg.topic, msg.payload),
                reason=m.reason[:128],
                count=min(m.count, 1_000_000),
            )
        ]

    def _trace(self, msg: Incoming) -> FactoryTrace:
        try:
            m = _TRACE.decode(msg.payload)
        except msgspec.DecodeError as err:
            raise DecodeError(f"{msg.topic}: {err}") from err
        if not m.unit or len(m.unit) > 128:
            raise DecodeError(f"{msg.topic}: unit id must be 1..128 characters")
        site = msg.topic.split("/")[1]
        return FactoryTrace(
            key=m.unit,
            ts=_check_ts(m.ts, msg.topic),
            source=f"mqtt:{msg.topic}",
            id=message_id(msg.topic, msg.payload),
            kind_of_unit=m.kind_of_unit[:32],
            site=site,
            line=m.line,
            machine=m.machine,
            operator=m.operator,
            start_ts=m.start_ts,
            inputs=m.inputs,
            params=m.params,
            result=m.result[:32],
            reason=m.reason,
        )


SPB_EDGE_PUBLISH = ("NBIRTH/{n}", "NDEATH/{n}", "NDATA/{n}", "DBIRTH/{n}/+", "DDATA/{n}/+", "DDEATH/{n}/+")
SPB_EDGE_SUBSCRIBE = ("NCMD/{n}", "DCMD/{n}/+")


def site_user(site: str) -> str:
    return f"site-{site}"


def edge_user(group: str, node: str) -> str:
    return f"spb-{group}-{node}"


def _own(topic_filter: str, site: str) -> str:
    """A site's own topics: the JSON topic filters with the site level (the first ``+``) filled."""
    levels = topic_filter.split("/")
    if len(levels) > 1 and levels[1] == "+":
        levels[1] = site
    return "/".join(levels)


def demo_accounts(cfg: IngestSettings, book: PlantBook) -> dict[str, tuple[list[str], list[str]]]:
    """(publish, subscribe) filters by username: one account per plant site (its JSON topics) and
    one per Sparkplug edge node (its own NBIRTH...DDEATH, its commands and the hosts' STATE)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    json_topics = [r.topic for r in cfg.tag_rules] + [cfg.reject_topic, cfg.trace_topic]
    for site in book.sites():
        out[site_user(site.id)] = ([_own(t, site.id) for t in json_topics], [])
    for ref in book.machines():
        src = ref.machine.source
        if src.startswith("spb:") and src.count("/") >= 1:
            group, node = src[4:].split("/")[:2]
            base = f"spBv1.0/{group}/"
            pub = [base + t.format(n=node) for t in SPB_EDGE_PUBLISH]
            sub = [base + t.format(n=node) for t in SPB_EDGE_SUBSCRIBE] + ["spBv1.0/STATE/+"]
            out[edge_user(group, node)] = (pub, sub)
    return out


def device_login(servers: Sequence[Any], cfg: IngestSettings, user: str) -> str | None:
    """The password of ``user``: from the running factory server (generated demo accounts), else
    from the scene's ``devices`` settings; None to connect without one (an external open broker)."""
    for srv in servers:
        if isinstance(srv, FactoryMqttServer) and user in srv.passwords:
            return srv.passwords[user]
    dev = cfg.devices.get(user)
    return dev.password if dev is not None and not dev.password.startswith("sha256:") else None


class FactoryMqttServer:
    """The scene server: (embedded broker,) Sparkplug host state and the MQTT subscriber."""

    def __init__(self, rt: sdk.Runtime[FactorySettings, FactoryWorld], submit: Submit | None = None) -> None:
        self.cfg = rt.settings.ingest
        self.rt = rt
        self.book = rt.world.book
        mq = self.cfg.mqtt
        self.passwords: dict[str, str] = {}  # generated demo accounts (simulators in this process)
        self.broker: EmbeddedBroker | None = None
        if not mq.url:
            accounts = BrokerAccounts(self.cfg.devices)
            user = mq.username or mq.client_id
            mq = msgspec.structs.replace(
                mq, username=user, password=accounts.add(user, self._host_publishes(), mq.topics, mq.password)
            )
            if self.cfg.demo_devices:
                for name, (pub, sub) in demo_accounts(self.cfg, self.book).items():
                    if name not in accounts.accounts:
                        self.passwords[name] = accounts.add(name, pub, sub)
            self.broker = EmbeddedBroker("127.0.0.1", mq.embedded_port, accounts)
        self.host: SparkplugHost | None = None
        self.state_ts = 0  # the Sparkplug STATE timestamp of the current connection (its CONNECT time)
        if self.cfg.sparkplug:
            self.host = SparkplugHost(self.book, self._send, self.cfg.rebirth_interval_s)
        self.ingest = FactoryIngest(self.cfg, self.book, self.host)
        self.subscriber = MqttSubscriber(
            mq, self.ingest, submit or rt.submit,
            will=self._will if self.host is not None else None, on_connect=self._on_connect,
        )  # fmt: skip

    @property
    def state_topic(self) -> str:
        return f"spBv1.0/STATE/{self.cfg.host_id}"

    def _host_publishes(self) -> list[str]:
        """The platform's own publications: its STATE (no one else's) and commands to edge nodes."""
        return [self.state_topic, "spBv1.0/+/NCMD/+", "spBv1.0/+/DCMD/+/+"]

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.subscriber.send(topic, payload, qos, retain)

    def _state(self, online: bool) -> bytes:
        return msgspec.json.encode({"online": online, "timestamp": self.state_ts})

    def _will(self) -> aiomqtt.Will:
        """Sparkplug 3.0 host death certificate, registered at every CONNECT and stamped with that
        CONNECT's time: an edge node ignores an offline STATE older than the online one it saw."""
        self.state_ts = time.time_ns() // 1_000_000
        return aiomqtt.Will(self.state_topic, self._state(False), 1, True)

    def _on_connect(self, sub: MqttSubscriber) -> None:
        if self.host is not None:  # host birth, same timestamp as the Will: edge nodes wait for it
            sub.send(self.state_topic, self._state(True), 1, True)

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.start()
        if self.host is not None:
            try:
                self.host.restore(self.rt.store.find_events(["factory.spb_birth"]))
            except Exception:  # a host without history still works: it asks for rebirths
                log.exception("could not restore Sparkplug births from the store")
        await self.subscriber.start()

    async def stop(self) -> None:
        # a clean disconnect drops the Will: say offline first, with the connection's timestamp
        last = [(self.state_topic, self._state(False), 1, True)] if self.host is not None else []
        await self.subscriber.stop(last)
        if self.broker is not None:
            await self.broker.stop()

    def status(self) -> dict[str, Any]:
        return {
            "broker": self.cfg.mqtt.url or f"embedded mqtt://127.0.0.1:{self.cfg.mqtt.embedded_port}",
            "connected": self.subscriber.connected.is_set(),
            "mqtt": self.subscriber.stats.as_dict(),
            "sparkplug": self.host.status() if self.host else [],
            "sparkplug_stats": vars(self.host.stats) if self.host else {},
            "unmapped": dict(self.ingest.unmapped),
            "broker_refusals": vars(self.broker.accounts.stats) if self.broker else {},
        }


def servers(rt: sdk.Runtime[FactorySettings, FactoryWorld]) -> list[FactoryMqttServer]:
    if not rt.settings.ingest.enabled:
        return []
    server = rt.world.server = FactoryMqttServer(rt)  # the API shows its status
    return [server]

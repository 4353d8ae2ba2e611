"""The factory's MQTT ingest: one subscription, three kinds of topics.

* ``spBv1.0/...``: Sparkplug B, handled by :class:`SparkplugHost`;
* JSON telemetry matched by the tag rules (``factory/<site>/<line>/<machine>/telemetry`` by default);
* JSON reject reasons (``.../reject``) and genealogy records (``factory/<site>/trace``).

With no broker URL configured the scene also starts the embedded broker, so ``make run`` still
goes over real MQTT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import aiomqtt
import msgspec

from citybrain.core.errors import ConfigError, DecodeError
from citybrain.core.events import MAX_TS, MIN_TS, Event
from citybrain.gateways.mqtt import (
    EmbeddedBroker,
    FieldMap,
    Incoming,
    MqttConfig,
    MqttSubscriber,
    Submit,
    TagMap,
    TagRule,
    message_id,
    topic_matches,
)
from citybrain.scenes.factory.events import FactoryReject, FactoryTags, FactoryTrace, MaterialInput
from citybrain.scenes.factory.plant import PlantBook, book_for
from citybrain.scenes.factory.spb_host import SparkplugHost

log = logging.getLogger(__name__)


def _default_rules() -> list[TagRule]:
    return [
        TagRule(
            topic="factory/+/+/+/telemetry",
            entity="{1}/{3}",
            fields={"temp_dc": FieldMap(tag="temp", scale=0.1, unit="°C")},  # deci-degrees on the wire
        )
    ]


class IngestSettings(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = True
    mqtt: MqttConfig = msgspec.field(
        default_factory=lambda: MqttConfig(topics=["factory/#", "spBv1.0/#"], client_id="citybrain-factory")
    )
    tag_rules: list[TagRule] = msgspec.field(default_factory=_default_rules)
    reject_topic: str = "factory/+/+/+/reject"
    reject_entity: str = "{1}/{3}"
    trace_topic: str = "factory/+/trace"
    sparkplug: bool = True
    host_id: str = "citybrain"
    rebirth_interval_s: float = 5.0


def ingest_settings(settings: Mapping[str, Any]) -> IngestSettings:
    try:
        return msgspec.convert(dict(settings.get("ingest", {})), IngestSettings)
    except msgspec.ValidationError as err:
        raise ConfigError(f"scenes.factory.ingest: {err}") from err


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


class FactoryIngest:
    """Incoming MQTT message -> factory events (raises DecodeError for what cannot be read)."""

    def __init__(self, cfg: IngestSettings, book: PlantBook, host: SparkplugHost | None) -> None:
        self.cfg, self.book, self.host = cfg, book, host
        self.tags = TagMap(cfg.tag_rules)
        self.unmapped: dict[str, int] = {}

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
            self.unmapped[topic] = self.unmapped.get(topic, 0) + 1
            return []
        r = self.tags.apply(rule, topic, msg.payload, msg.received_ms)
        key = self.book.by_source(r.entity)
        if key is None:
            self.unmapped[r.entity] = self.unmapped.get(r.entity, 0) + 1
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


class FactoryMqttServer:
    """The scene server: (embedded broker,) Sparkplug host state and the MQTT subscriber."""

    def __init__(self, platform: Any, settings: Mapping[str, Any], submit: Submit | None = None) -> None:
        self.cfg = ingest_settings(settings)
        self.platform = platform
        self.book = book_for(settings)
        mq = self.cfg.mqtt
        self.broker = EmbeddedBroker("127.0.0.1", mq.embedded_port) if not mq.url else None
        self.host: SparkplugHost | None = None
        will = None
        if self.cfg.sparkplug:
            self.host = SparkplugHost(self.book, self._send, self.cfg.rebirth_interval_s)
            will = aiomqtt.Will(
                self.state_topic, msgspec.json.encode({"online": False, "timestamp": 0}), 1, True
            )
        self.ingest = FactoryIngest(self.cfg, self.book, self.host)
        self.subscriber = MqttSubscriber(
            mq, self.ingest, submit or platform.batcher.submit, will=will, on_connect=self._on_connect
        )

    @property
    def state_topic(self) -> str:
        return f"spBv1.0/STATE/{self.cfg.host_id}"

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.subscriber.send(topic, payload, qos, retain)

    def _on_connect(self, sub: MqttSubscriber) -> None:
        if self.host is not None:  # Sparkplug 3.0 host birth: edge nodes wait for it before NBIRTH
            body = msgspec.json.encode({"online": True, "timestamp": time.time_ns() // 1_000_000})
            sub.send(self.state_topic, body, 1, True)

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.start()
        if self.host is not None and self.platform is not None:
            try:
                self.host.restore(self.platform.store.find_events(["factory.spb_birth"]))
            except Exception:  # a host without history still works: it asks for rebirths
                log.exception("could not restore Sparkplug births from the store")
        await self.subscriber.start()

    async def stop(self) -> None:
        await self.subscriber.stop()
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
        }


SERVERS: dict[int, FactoryMqttServer] = {}  # by id(platform): the API shows the server's status


def servers(platform: Any, settings: Mapping[str, Any]) -> list[FactoryMqttServer]:
    if not ingest_settings(settings).enabled:
        return []
    server = FactoryMqttServer(platform, settings)
    SERVERS[id(platform)] = server
    return [server]

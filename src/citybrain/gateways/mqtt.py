"""A generic MQTT subscriber run as a scene server, an embedded broker, and JSON tag mapping.

Delivery guarantee (QoS 1, "acknowledged means durable"):

* The client connects with a persistent session (``clean_session=False``, a stable client id) and
  turns paho's automatic acknowledgements off (``manual_ack_set(True)``; aiomqtt 2.5 has no public
  switch for it, see empicano/aiomqtt#345, so we reach its paho client). A PUBACK is sent only after
  ``submit`` (``platform.batcher.submit``) returned, i.e. once the events are in the store.
* PUBACKs go out in the order the PUBLISHes arrived (MQTT 3.1.1 section 4.6): batches are decoded in
  arrival order and one acker task awaits their submissions first-in first-out.
* If a submission fails (store error, backpressure) nothing of it is acknowledged and the session
  is dropped: on reconnect the broker redelivers every unacknowledged QoS 1 message (and what it
  queued for the session meanwhile). A crash of this process has the same effect.
* Redelivery means "at least once": handlers give events ids derived from the message content, so
  the store keeps one copy.
* QoS 0 publications (Sparkplug NDATA/DDATA by specification) carry no acknowledgement: they are
  taken as they come and can be lost by the broker or the network, as the publisher chose.

Reconnects back off exponentially (``backoff_min_s`` doubling up to ``backoff_max_s``, with jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlparse

import aiomqtt
import msgspec

from citybrain.core.errors import ConfigError, DecodeError
from citybrain.core.events import Event

log = logging.getLogger(__name__)

Scalar = float | bool | str


@dataclass(frozen=True)
class Incoming:
    """One received PUBLISH."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    received_ms: int


# A handler turns a message into events; it raises DecodeError for a payload it cannot read.
Handler = Callable[[Incoming], list[Event]]
Submit = Callable[[list[Event]], Awaitable[None]]


class MqttConfig(msgspec.Struct, forbid_unknown_fields=True):
    url: str = ""  # mqtt://host:port; empty = start the embedded broker on 127.0.0.1:embedded_port
    # a scene's subclass gives its own defaults (see FactoryMqtt): never "#" or a shared client id
    # on a broker other applications use; empty is refused when the subscriber starts
    topics: list[str] = msgspec.field(default_factory=list)  # subscriptions (MQTT filters)
    client_id: str = ""  # stable and unique: the broker keeps the persistent session by it
    username: str = ""  # the platform's login on an external broker
    password: str = ""  # its password
    qos: int = 1  # subscription QoS; 1 or 2 for acknowledged-means-durable
    keepalive_s: int = 30  # MQTT keepalive
    backoff_min_s: float = 0.5  # reconnect delay, doubling with jitter...
    backoff_max_s: float = 30.0  # ...up to this
    batch_max: int = 2_000  # messages decoded into one submission
    pipeline_depth: int = 8  # submissions in flight before reading pauses (backpressure)
    embedded_port: int = 1884  # the embedded broker's port (when url is empty)


def parse_url(url: str) -> tuple[str, int]:
    u = urlparse(url if "://" in url else f"mqtt://{url}")
    if u.scheme not in ("mqtt", "tcp") or not u.hostname:
        raise ConfigError(f"MQTT url {url!r} must look like mqtt://host:port")
    return u.hostname, u.port or 1883


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: ``+`` one level, ``#`` the rest (including none)."""
    pp, tt = pattern.split("/"), topic.split("/")
    for i, p in enumerate(pp):
        if p == "#":
            return True
        if i >= len(tt) or (p != "+" and p != tt[i]):
            return False
    return len(pp) == len(tt)


def message_id(topic: str, payload: bytes, part: int = 0) -> str:
    """A stable event id for the ``part``-th event of a message: redeliveries dedupe in the store."""
    h = hashlib.blake2b(digest_size=16)
    h.update(topic.encode())
    h.update(b"\0")
    h.update(payload)
    h.update(part.to_bytes(4, "big"))
    return h.hexdigest()


@dataclass
class MqttStats:
    connects: int = 0
    connect_failures: int = 0
    messages: int = 0
    bad_payloads: int = 0
    handler_errors: int = 0
    events: int = 0
    acked: int = 0
    submit_failures: int = 0
    sent: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


OnConnect = Callable[["MqttSubscriber"], None]
Publication = tuple[str, bytes, int, bool]  # topic, payload, qos, retain


class MqttSubscriber:
    """Subscribes to ``cfg.topics``; every message goes through ``handler`` and ``submit``.
    ``will`` is called at every connect for that connection's Will (a Sparkplug host stamps its
    death certificate with the connect time); ``on_connect`` runs once each connection is up."""

    def __init__(
        self,
        cfg: MqttConfig,
        handler: Handler,
        submit: Submit,
        *,
        will: Callable[[], aiomqtt.Will] | None = None,
        on_connect: OnConnect | None = None,
    ) -> None:
        if not cfg.topics:
            raise ConfigError("mqtt.topics is empty: name the topic filters to subscribe to")
        if not cfg.client_id:
            raise ConfigError("mqtt.client_id is empty: the broker keeps the session by it")
        self.cfg = cfg
        self.host, self.port = parse_url(cfg.url) if cfg.url else ("127.0.0.1", cfg.embedded_port)
        self.handler, self.submit = handler, submit
        self.will, self.on_connect = will, on_connect
        self.stats = MqttStats()
        self.connected = asyncio.Event()
        self._outbox: asyncio.Queue[Publication] = asyncio.Queue(10_000)
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None  # of the current connection

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.cfg.client_id}")

    async def stop(self, last: Sequence[Publication] = (), timeout: float = 2.0) -> None:
        """Disconnect cleanly; ``last`` is published first while still connected (a Sparkplug host's
        offline STATE: a clean DISCONNECT makes the broker drop the Will)."""
        client = self._client
        if client is not None and self.connected.is_set():
            for topic, payload, qos, retain in last:
                try:
                    await asyncio.wait_for(client.publish(topic, payload, qos=qos, retain=retain), timeout)
                except Exception as err:  # the broker may be gone already; its Will covers that
                    log.warning("MQTT: could not publish %s before disconnecting: %s", topic, err)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected.clear()

    def send(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Queue a publication (commands such as a Sparkplug rebirth request); sent when connected."""
        try:
            self._outbox.put_nowait((topic, payload, qos, retain))
        except asyncio.QueueFull:
            log.warning("MQTT outbox full; dropped a publication to %s", topic)

    async def _run(self) -> None:
        delay = self.cfg.backoff_min_s
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # broker gone, refused, failed submission: back off and retry
                self.stats.connect_failures += 1
                log.warning(
                    "MQTT %s:%s session ended (%s); retrying in %.1fs", self.host, self.port, err, delay
                )
            finally:
                self.connected.clear()
            if time.monotonic() - started > 10 * self.cfg.backoff_max_s:
                delay = self.cfg.backoff_min_s  # a long healthy session resets the backoff
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.cfg.backoff_max_s)

    # -- one connection -------------------------------------------------------------------------
    async def _session(self) -> None:
        c = self.cfg
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=c.client_id,
            clean_session=False,
            keepalive=c.keepalive_s,
            username=c.username or None,
            password=c.password or None,
            will=self.will() if self.will is not None else None,
        )
        # before connecting: the broker may redeliver the moment the session resumes
        client._client.manual_ack_set(True)
        async with client:
            self._client = client
            self.stats.connects += 1
            for t in c.topics:
                await client.subscribe(t, qos=c.qos)
            self.connected.set()
            if self.on_connect is not None:
                self.on_connect(self)
            acks: asyncio.Queue[tuple[asyncio.Future[None], list[tuple[int, int]]]] = asyncio.Queue(
                c.pipeline_depth
            )
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._reader(client, acks))
                tg.create_task(self._acker(client, acks))
                tg.create_task(self._sender(client))
                tg.create_task(self._watch(client))

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        # the reader may be parked on backpressure and the acker on a slow submission: neither would
        # see the connection drop, so wait for it here and end the session. Shielded: cancelling
        # this task (the session ending) must not cancel aiomqtt's own future, or its __aexit__
        # takes the connection for closed and never disconnects (the socket would stay open)
        await asyncio.shield(client._disconnected)
        raise ConnectionError("disconnected from the broker")

    async def _reader(
        self, client: aiomqtt.Client, acks: asyncio.Queue[tuple[asyncio.Future[None], list[tuple[int, int]]]]
    ) -> None:
        it = client.messages
        while True:
            batch = [await anext(it)]
            queued = client._queue  # take what is already queued without a task per message
            while len(batch) < self.cfg.batch_max and not queued.empty():
                batch.append(queued.get_nowait())
            events: list[Event] = []
            mids: list[tuple[int, int]] = []
            now = time.time_ns() // 1_000_000
            for m in batch:
                self.stats.messages += 1
                if m.qos > 0:
                    mids.append((m.mid, m.qos))
                payload = m.payload if isinstance(m.payload, bytes | bytearray) else str(m.payload).encode()
                try:
                    events.extend(self.handler(Incoming(m.topic.value, bytes(payload), m.qos, m.retain, now)))
                except DecodeError as err:
                    # a bad payload never becomes good: acknowledge it, or it would come back forever
                    self.stats.bad_payloads += 1
                    log.warning(
                        "bad MQTT payload on %s: %s (%s)", m.topic.value, err, bytes(payload[:64]).hex()
                    )
                except Exception:
                    self.stats.handler_errors += 1
                    log.exception("MQTT handler failed on %s", m.topic.value)
            self.stats.events += len(events)
            fut: asyncio.Future[None] = asyncio.ensure_future(self.submit(events))
            fut.add_done_callback(_retrieve)  # a session may end before its acker awaits this
            await acks.put((fut, mids))  # waits when pipeline_depth submissions are in flight

    async def _acker(
        self, client: aiomqtt.Client, acks: asyncio.Queue[tuple[asyncio.Future[None], list[tuple[int, int]]]]
    ) -> None:
        while True:
            fut, mids = await acks.get()
            try:
                await fut
            except Exception as err:
                self.stats.submit_failures += 1
                # leave these (and everything after them) unacknowledged: drop the session so the
                # broker redelivers them once we are back
                raise ConnectionError(f"submission failed, not acknowledged: {err}") from err
            for mid, qos in mids:
                client._client.ack(mid, qos)
            self.stats.acked += len(mids)

    async def _sender(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload, qos, retain = await self._outbox.get()
            await client.publish(topic, payload, qos=qos, retain=retain)
            self.stats.sent += 1


def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()


def filter_covers(allowed: str, requested: str) -> bool:
    """True when every topic ``requested`` (an MQTT filter) matches is also matched by ``allowed``:
    ``a/#`` covers ``a/+/b``; ``a/+`` does not cover ``a/#``; nothing but ``#`` covers ``#``."""
    al, rl = allowed.split("/"), requested.split("/")
    for i, a in enumerate(al):
        if a == "#":
            return True
        if i >= len(rl):
            return False
        r = rl[i]
        if r == "#" or (a != "+" and (r == "+" or r != a)):
            return False
    return len(al) == len(rl)


class MqttAccount(msgspec.Struct, forbid_unknown_fields=True):
    """One identity on the embedded broker: what it may publish and subscribe to (MQTT filters).
    ``password`` is the secret itself or ``sha256:<hex>`` of it."""

    password: str
    publish: list[str] = msgspec.field(default_factory=list)
    subscribe: list[str] = msgspec.field(default_factory=list)


def _password_ok(expected: str, given: str) -> bool:
    if expected.startswith("sha256:"):
        given = "sha256:" + hashlib.sha256(given.encode()).hexdigest()
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class BrokerStats:
    refused_logins: int = 0
    refused_publish: int = 0
    refused_subscribe: int = 0


class BrokerAccounts:
    """The embedded broker's identities and topic ACLs. No anonymous access; a client id must begin
    with its username (so one device cannot take over another's session); a Will must be a topic
    the account may publish (the broker sends it on the account's behalf)."""

    def __init__(self, accounts: dict[str, MqttAccount] | None = None) -> None:
        self.accounts: dict[str, MqttAccount] = dict(accounts or {})
        self.stats = BrokerStats()

    def add(self, username: str, publish: list[str], subscribe: list[str], password: str = "") -> str:
        """Add (or replace) an account; returns its password (a new random one unless given)."""
        password = password or secrets.token_urlsafe(24)
        self.accounts[username] = MqttAccount(password, list(publish), list(subscribe))
        return password

    def login(
        self, username: str | None, password: str | None, client_id: str | None, will: str | None
    ) -> bool:
        acc = self.accounts.get(username or "")
        ok = (
            acc is not None
            and username is not None
            and _password_ok(acc.password, password or "")
            and (client_id or "").startswith(username)
            and (will is None or self.may_publish(username, will))
        )
        if not ok:
            self.stats.refused_logins += 1
            log.warning("embedded MQTT broker refused user %r (client id %r)", username, client_id)
        return ok

    def may_publish(self, username: str | None, topic: str) -> bool:
        acc = self.accounts.get(username or "")
        ok = acc is not None and any(topic_matches(f, topic) for f in acc.publish)
        if not ok:
            self.stats.refused_publish += 1
            log.info("embedded MQTT broker: %r may not publish to %s", username, topic)
        return ok

    def may_subscribe(self, username: str | None, topic_filter: str) -> bool:
        acc = self.accounts.get(username or "")
        ok = acc is not None and any(filter_covers(f, topic_filter) for f in acc.subscribe)
        if not ok:
            self.stats.refused_subscribe += 1
            log.info("embedded MQTT broker: %r may not subscribe to %s", username, topic_filter)
        return ok


class EmbeddedBroker:
    """An in-process MQTT broker (amqtt) on loopback, for the one-command demo: the simulators and
    the subscriber still talk real MQTT, each under its own account (:class:`BrokerAccounts`).
    Measured at a few thousand messages/s; use Mosquitto on a real site."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 1884, accounts: BrokerAccounts | None = None
    ) -> None:
        self.host, self.port = host, port
        self.accounts = accounts or BrokerAccounts()
        self._broker: Any = None

    async def start(self) -> None:
        from citybrain.gateways import mqtt_broker  # imported late: only the embedded mode needs amqtt

        self._broker = mqtt_broker.GuardedBroker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {  # amqtt loads plugins by dotted path and hands each its Config
                    f"{mqtt_broker.__name__}.AccountsAuth": {"accounts": self.accounts},
                    f"{mqtt_broker.__name__}.AccountsAcl": {"accounts": self.accounts},
                },
            }
        )
        self._can_bind()  # a taken port in one line here, not amqtt's logged traceback
        try:
            await self._broker.start()
        except Exception as err:  # amqtt's BrokerError: one that could not bind becomes the OSError
            if not isinstance(err.__cause__, OSError):
                raise
            self._broker = None
            raise self._bind_error(err.__cause__) from err
        n = len(self.accounts.accounts)
        log.info("embedded MQTT broker on %s:%s (%d accounts)", self.host, self.port, n)

    def _can_bind(self) -> None:
        """OSError (as ``start`` raises it) when the broker's address cannot be bound now."""
        probe = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers bind
            probe.bind((self.host, self.port))
        except OSError as err:
            raise self._bind_error(err) from None
        finally:
            probe.close()

    def _bind_error(self, err: OSError) -> OSError:
        why = os.strerror(err.errno) if err.errno else str(err)
        return OSError(err.errno, f"embedded MQTT broker on {self.host}:{self.port}: {why}")

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


# -- JSON payloads -> tags -------------------------------------------------------------------------
class FieldMap(msgspec.Struct, forbid_unknown_fields=True):
    """How one JSON field becomes a tag value: ``value * scale + offset`` for numbers."""

    tag: str = ""  # tag name; default: the field path
    type: Literal["float", "int", "bool", "str"] = "float"
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""


class TagRule(msgspec.Struct, forbid_unknown_fields=True):
    """Messages on ``topic`` (an MQTT filter) carry tags of the entity named by ``entity``, a
    template over the topic levels (``{0}`` is the first level)."""

    topic: str
    entity: str
    ts_field: str = "ts"  # epoch ms (or s, when ts_unit = "s"); missing: time of receipt
    ts_unit: Literal["ms", "s"] = "ms"
    fields: dict[str, FieldMap] = msgspec.field(default_factory=dict)  # dotted JSON paths
    passthrough: bool = True  # unmapped top-level numbers, booleans and strings become tags as-is


@dataclass(frozen=True)
class TagReading:
    entity: str
    ts: int
    values: dict[str, Scalar]
    units: dict[str, str]


_JSON = msgspec.json.Decoder(dict[str, Any])


def _path(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _convert(value: Any, fm: FieldMap, where: str) -> Scalar:
    if fm.type == "str":
        return str(value)
    if fm.type == "bool":
        if isinstance(value, bool | int | float):
            return bool(value)
        raise DecodeError(f"{where}: expected a boolean, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(f"{where}: expected a number, got {value!r}")
    out = value * fm.scale + fm.offset
    # 12 significant digits: 1702 * 0.1 is 170.2, not 170.20000000000002
    return float(round(out)) if fm.type == "int" else float(f"{out:.12g}")


class TagMap:
    """The first rule whose topic filter matches decides how a JSON message becomes tags."""

    def __init__(self, rules: list[TagRule]) -> None:
        self.rules = rules

    def match(self, topic: str) -> TagRule | None:
        return next((r for r in self.rules if topic_matches(r.topic, topic)), None)

    def apply(self, rule: TagRule, topic: str, payload: bytes, received_ms: int) -> TagReading:
        try:
            doc = _JSON.decode(payload)
        except msgspec.DecodeError as err:
            raise DecodeError(f"{topic}: not a JSON object ({err})") from err
        levels = topic.split("/")
        try:
            entity = rule.entity.format(*levels)
        except (IndexError, KeyError) as err:
            raise DecodeError(f"{topic}: entity template {rule.entity!r} needs more topic levels") from err
        ts = _path(doc, rule.ts_field) if rule.ts_field else None
        if ts is None:
            ts_ms = received_ms
        elif isinstance(ts, int | float) and not isinstance(ts, bool):
            ts_ms = int(ts * 1000) if rule.ts_unit == "s" else int(ts)
        else:
            raise DecodeError(f"{topic}: field {rule.ts_field!r} is not a number: {ts!r}")
        values: dict[str, Scalar] = {}
        units: dict[str, str] = {}
        for path, fm in rule.fields.items():
            raw = _path(doc, path)
            if raw is None:
                continue
            name = fm.tag or path
            values[name] = _convert(raw, fm, f"{topic}: field {path!r}")
            if fm.unit:
                units[name] = fm.unit
        if rule.passthrough:
            mapped = {p.split(".", 1)[0] for p in rule.fields}
            for k, v in doc.items():
                if k in mapped or k == rule.ts_field or k in values:
                    continue
                if isinstance(v, bool | str):
                    values[k] = v
                elif isinstance(v, int | float):
                    values[k] = float(v)
        return TagReading(entity, ts_ms, values, units)

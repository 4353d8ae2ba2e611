"""A Sparkplug B host application: births, deaths, aliases, sequence numbers, rebirth requests.

Per edge node (``group/node``) we keep whether it is online, the ``bdSeq`` of its current session,
the last ``seq`` and the alias table of its BIRTH; per device its own alias table and online flag.

* NBIRTH: new session (seq 0); aliases bound; the node's machine goes online.
* DBIRTH: the device's aliases bound; its machine goes online with the values of the birth.
* NDATA/DDATA: aliases resolved; ``seq`` must be the previous + 1 (mod 256). On a gap, or an alias,
  metric name or device we do not know, or data from a node without a birth, we send NCMD
  ``Node Control/Rebirth = true`` (at most once per ``rebirth_interval_s`` per node). A metric its
  BIRTH did not announce is dropped (Sparkplug 3.0: the BIRTH defines the metrics); what we can
  resolve is kept: a gap means something may be missing, not that what arrived is wrong.
* Values keep their type: integers stay ``int`` (Int64/UInt64 exact), floats ``float``.
* Metrics of a node or device that no machine of the plant model names go to ``on_unmapped``.
* NDEATH: only if its ``bdSeq`` matches the current session's (a late Will of an older session
  must not kill a newer one); the node and all its devices go offline. DDEATH: the device does.

The alias tables are also stored (``factory.spb_birth`` events, durable before the BIRTH is
acknowledged), so a restarted host can resolve aliases of DATA messages the broker redelivers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from citybrain.gateways.mqtt import Incoming, message_id
from citybrain.protocols import sparkplug_b as spb
from citybrain.scenes.factory.events import FactoryLink, FactoryTags, SpbBirth, TagValue
from citybrain.scenes.factory.plant import PlantBook
from citybrain.sdk import MAX_TS, MIN_TS, DecodeError, Event

log = logging.getLogger(__name__)
REBIRTH = "Node Control/Rebirth"
# mqtt-spb-wrapper names its data metrics ``DATA/<name>`` in a BIRTH and ``<name>`` in DATA messages
WRAPPER_DATA = "DATA/"
Send = Callable[[str, bytes, int, bool], None]


@dataclass
class _Device:
    online: bool = False
    aliases: dict[int, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # the metrics of its BIRTH


@dataclass
class _Node:
    online: bool = False
    bd_seq: int = -1
    seq: int | None = None
    aliases: dict[int, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # the metrics of its NBIRTH
    devices: dict[str, _Device] = field(default_factory=dict)
    gaps: int = 0
    last_rebirth_request: float = 0.0
    births: int = 0


@dataclass
class SpbStats:
    messages: int = 0
    births: int = 0
    deaths: int = 0
    stale_deaths: int = 0
    seq_gaps: int = 0
    unknown_aliases: int = 0
    unknown_names: int = 0
    rebirth_requests: int = 0


def _bind(p: spb.Payload) -> tuple[dict[int, str], set[str]]:
    """A BIRTH's alias table and metric names."""
    return {m.alias: m.name for m in p.metrics if m.alias is not None and m.name}, {
        m.name for m in p.metrics if m.name
    }


def _ts(ms: int | None, received: int) -> int:
    if ms is None:
        return received
    if not MIN_TS <= ms <= MAX_TS:
        raise DecodeError(f"Sparkplug timestamp {ms} is not epoch milliseconds of 2000..2100")
    return ms


class SparkplugHost:
    def __init__(
        self,
        book: PlantBook,
        send: Send,
        rebirth_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book, self.send = book, send
        self.rebirth_interval_s = rebirth_interval_s
        self.clock = clock
        self.nodes: dict[str, _Node] = {}
        self.stats = SpbStats()
        self.on_unmapped: Callable[[str], None] | None = None  # a source no machine names, per message

    # -- restart ----------------------------------------------------------------------------------
    def restore(self, births: list[Event]) -> None:
        """Alias tables of the last births (oldest first) from the store, after a restart. The
        sequence is unknown then: the next message sets it without being called a gap."""
        for ev in births:
            if not isinstance(ev, SpbBirth):
                continue
            group, node, *dev = ev.key.split("/")
            n = self.nodes.setdefault(f"{group}/{node}", _Node())
            table = {int(a): name for a, name in ev.aliases.items()}
            names = set(ev.datatypes) | set(table.values())
            if dev:
                n.devices[dev[0]] = _Device(online=True, aliases=table, names=names)
            else:
                n.aliases, n.names, n.bd_seq, n.online = table, names, ev.bd_seq, True
            n.seq = None

    # -- messages ---------------------------------------------------------------------------------
    def handle(self, msg: Incoming) -> list[Event]:
        t = spb.parse_topic(msg.topic)
        if t.type in ("NCMD", "DCMD"):
            return []  # commands (ours included) are not data
        p = spb.decode_payload(msg.payload)
        self.stats.messages += 1
        nk = f"{t.group}/{t.node}"
        node = self.nodes.get(nk)
        ts = _ts(p.timestamp, msg.received_ms)
        out: list[Event] = []
        if t.type == "NBIRTH":
            old = node or _Node()  # a new session; the node's counters and rebirth rate limit go on
            node = self.nodes[nk] = _Node(online=True, seq=p.seq if p.seq is not None else 0)
            node.births, node.gaps, node.last_rebirth_request = old.births, old.gaps, old.last_rebirth_request
            node.bd_seq = next(
                (int(m.value) for m in p.metrics if m.name == "bdSeq" and isinstance(m.value, int)), -1
            )
            node.aliases, node.names = _bind(p)
            node.births += 1
            self.stats.births += 1
            out.append(self._birth_event(msg, nk, node.bd_seq, p, ts))
            out += self._link(msg, f"spb:{nk}", ts, True, "NBIRTH")
            out += self._tags(msg, f"spb:{nk}", p, node.aliases, ts, birth=True)
            return out
        if t.type == "NDEATH":
            bd = next((m.value for m in p.metrics if m.name == "bdSeq"), None)
            if node is None or (bd is not None and node.bd_seq >= 0 and bd != node.bd_seq):
                self.stats.stale_deaths += 1
                return []
            self.stats.deaths += 1
            node.online, node.seq = False, None
            out += self._link(msg, f"spb:{nk}", ts, False, "NDEATH")
            for dev_id, d in node.devices.items():
                d.online = False
                out += self._link(msg, f"spb:{nk}/{dev_id}", ts, False, "NDEATH of its node")
            return out
        if node is None or not node.online:
            self._rebirth(t.group, t.node, "data from a node without a birth")
            node = self.nodes.setdefault(nk, _Node())
        self._check_seq(t, node, p.seq)
        if t.type == "NDATA":
            return self._tags(msg, f"spb:{nk}", p, node.aliases, ts, birth=False, node=t, known=node.names)
        src = f"spb:{nk}/{t.device}"
        if t.type == "DBIRTH":
            born = node.devices[t.device] = _Device(online=True)
            born.aliases, born.names = _bind(p)
            self.stats.births += 1
            out.append(self._birth_event(msg, f"{nk}/{t.device}", node.bd_seq, p, ts))
            out += self._link(msg, src, ts, True, "DBIRTH")
            out += self._tags(msg, src, p, born.aliases, ts, birth=True)
            return out
        dev: _Device | None = node.devices.get(t.device)
        if t.type == "DDEATH":
            if dev is not None:
                dev.online = False
            self.stats.deaths += 1
            return self._link(msg, src, ts, False, "DDEATH")
        if dev is None:  # DDATA of a device we never saw born
            self._rebirth(t.group, t.node, f"data from unknown device {t.device}")
            dev = node.devices[t.device] = _Device()
        return self._tags(msg, src, p, dev.aliases, ts, birth=False, node=t, known=dev.names)

    def _check_seq(self, t: spb.SpbTopic, node: _Node, seq: int | None) -> None:
        if seq is None:
            return
        if node.seq is not None and seq != (node.seq + 1) % 256:
            node.gaps += 1
            self.stats.seq_gaps += 1
            self._rebirth(t.group, t.node, f"sequence gap: expected {(node.seq + 1) % 256}, got {seq}")
        node.seq = seq

    def _rebirth(self, group: str, node_id: str, why: str) -> None:
        node = self.nodes.setdefault(f"{group}/{node_id}", _Node())
        now = self.clock()
        if now - node.last_rebirth_request < self.rebirth_interval_s and node.last_rebirth_request:
            return
        node.last_rebirth_request = now
        self.stats.rebirth_requests += 1
        log.info("Sparkplug rebirth requested from %s/%s: %s", group, node_id, why)
        cmd = spb.Payload(
            timestamp=time.time_ns() // 1_000_000,
            metrics=[spb.Metric(name=REBIRTH, datatype=spb.BOOLEAN, value=True)],
        )
        topic = spb.topic_for(spb.SpbTopic(group, "NCMD", node_id))
        self.send(topic, spb.encode_payload(cmd), 0, False)

    # -- events -----------------------------------------------------------------------------------
    def _birth_event(self, msg: Incoming, key: str, bd_seq: int, p: spb.Payload, ts: int) -> SpbBirth:
        return SpbBirth(
            key=key,
            ts=ts,
            source="spb",
            id=message_id(msg.topic, msg.payload, 1_000_000),
            bd_seq=bd_seq,
            aliases={str(m.alias): m.name for m in p.metrics if m.alias is not None and m.name},
            datatypes={m.name: m.datatype for m in p.metrics if m.name},
        )

    def _link(self, msg: Incoming, source: str, ts: int, online: bool, reason: str) -> list[Event]:
        key = self.book.by_source(source)
        if key is None:
            return []
        eid = message_id(msg.topic, msg.payload, 2_000_000 + len(source))
        return [FactoryLink(key=key, ts=ts, source=source, id=eid, online=online, reason=reason)]

    def _tags(
        self,
        msg: Incoming,
        source: str,
        p: spb.Payload,
        aliases: dict[int, str],
        ts: int,
        *,
        birth: bool,
        node: spb.SpbTopic | None = None,
        known: set[str] | None = None,
    ) -> list[Event]:
        """``known``: the metric names of the BIRTH (for DATA messages); a metric outside it is
        dropped and asks for a rebirth."""
        key = self.book.by_source(source)
        by_ts: dict[int, dict[str, TagValue]] = {}
        for m in p.metrics:
            name = m.name or (aliases.get(m.alias) if m.alias is not None else None)
            if not name:
                self.stats.unknown_aliases += 1
                if node is not None:
                    self._rebirth(node.group, node.node, f"unknown alias {m.alias}")
                continue
            if name == "bdSeq" or name.startswith("Node Control/"):
                continue
            if known is not None and name not in known:
                if WRAPPER_DATA + name not in known:
                    self.stats.unknown_names += 1
                    if node is not None:
                        self._rebirth(node.group, node.node, f"metric {name!r} not in its BIRTH")
                    continue
                name = WRAPPER_DATA + name  # the BIRTH's name is the metric's
            v = m.value
            if m.is_null or v is None or isinstance(v, bytes):
                continue  # null, bytes, datasets, templates: not tags we chart
            mts = _ts(m.timestamp, ts) if m.timestamp is not None else ts
            by_ts.setdefault(mts, {})[name] = v  # ints stay ints: an Int64/UInt64 is exact
        if key is None:
            if by_ts and self.on_unmapped is not None:
                self.on_unmapped(source)
            return []
        return [
            FactoryTags(
                key=key,
                ts=mts,
                source=source,
                id=message_id(msg.topic, msg.payload, i),
                values=vals,
                birth=birth,
            )
            for i, (mts, vals) in enumerate(sorted(by_ts.items()))
        ]

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "node": k,
                "online": n.online,
                "bd_seq": n.bd_seq,
                "seq": n.seq,
                "gaps": n.gaps,
                "births": n.births,
                "devices": {d: {"online": v.online, "aliases": len(v.aliases)} for d, v in n.devices.items()},
            }
            for k, n in sorted(self.nodes.items())
        ]

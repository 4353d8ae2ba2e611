"""Processors: pure, stateful logic over batches of events.

A processor instance owns one bus partition. It reads events, keeps per-entity state in a msgspec
Struct, and emits metrics, entity states and alert signals through an :class:`Emitter`. The runtime
checkpoints the state together with the bus offset and the outputs in one store transaction, so a
restart never double counts. Nothing here touches a server: a pipeline runs in a unit test.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic

import msgspec
from typing_extensions import TypeVar

from citybrain.core.events import Event
from citybrain.core.ledger import transaction
from citybrain.core.outputs import (
    SEVERITY_RANK,
    Alert,
    AlertOp,
    LateEvent,
    MetricPoint,
    Outputs,
    Severity,
    StateUpdate,
)


@dataclass(frozen=True)
class AlertRule:
    """How a rule's signals become alerts.

    ``for_ms``: the condition must hold that long before an alert opens; ``clear_ms``: it must be
    clear that long before the alert resolves itself. Together they suppress flapping.
    ``update_every_ms`` throttles refreshes of an open alert (severity changes always go through).
    """

    name: str
    scene: str
    title: str
    severity: Severity = "warning"
    for_ms: int = 0
    clear_ms: int = 60_000
    update_every_ms: int = 10_000
    doc: str = ""
    # dispatch: each alert it opens also opens a case of this type (core/cases), for this department
    case_type: str = ""
    case_department: str = ""


class AlertTrack(msgspec.Struct):
    pending_since: int | None = None
    clear_since: int | None = None
    alert_id: str | None = None
    opened_ts: int = 0
    last_emit: int = 0
    count: int = 0
    severity: str = "warning"


class AlertBook(msgspec.Struct):
    """Per dedupe key: where each rule's condition stands. Checkpointed with the processor state."""

    tracks: dict[str, AlertTrack] = msgspec.field(default_factory=dict)

    def forget(self, key: str) -> bool:
        """Drop every rule's track of ``key`` (an erasure); True when there was one."""
        gone = [dk for dk in self.tracks if dk.split(":", 1)[1:] == [key]]
        for dk in gone:
            del self.tracks[dk]
        return bool(gone)


class Emitter:
    """Collects one batch's outputs; the runtime commits them with the checkpoint."""

    def __init__(self, processor: str, partition: int, book: AlertBook, out: Outputs) -> None:
        self.processor = processor
        self.partition = partition
        self.book = book
        self.out = out

    def metric(self, name: str, key: str, ts: int, value: float) -> None:
        self.out.metrics.append(MetricPoint(name, key, ts, float(value)))

    def state(self, scene: str, key: str, ts: int, data: dict[str, Any]) -> None:
        self.out.states.append(StateUpdate(scene, key, ts, data))

    def event(self, ev: Event) -> None:
        """Publish a derived event to the bus (re-keyed for a next stage).

        Its id must be deterministic (leave it empty for a content hash, or derive it from the
        input): derived events are published before the batch commits, so a crash in between
        re-derives the same ids on replay and the store skips them as duplicates.
        """
        self.out.events.append(ev)

    def post(
        self, txn: str, ts: int, kind: str, ref: str, lines: Sequence[tuple[str, int]], memo: str = ""
    ) -> None:
        """Record a money movement in the double-entry ledger (core/ledger.py): ``lines`` are
        (account, fen) summing to zero, debits positive. Written in the same transaction as this
        batch's state and checkpoint; ``txn`` is the movement's idempotency key (a second
        transaction with the same id fails the commit). Raises ``ValidationError`` if unbalanced."""
        self.out.postings.extend(transaction(txn, ts, kind, ref, self.processor.split(".")[0], lines, memo))

    def late(self, poff: int, ev: Event, watermark: int) -> None:
        self.out.late.append(LateEvent(self.processor, self.partition, poff, ev.id, ev.ts, watermark))

    def signal(
        self,
        rule: AlertRule,
        key: str,
        ts: int,
        active: bool,
        *,
        message: str = "",
        severity: Severity | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Report whether ``rule`` holds for ``key`` at event time ``ts``."""
        dk = f"{rule.name}:{key}"
        tr = self.book.tracks.get(dk)
        sev: Severity = severity or rule.severity
        if not active:
            if tr is None:
                return
            if tr.alert_id is None:
                del self.book.tracks[dk]
                return
            tr.clear_since = tr.clear_since if tr.clear_since is not None else ts
            if ts - tr.clear_since >= rule.clear_ms:
                self._emit("resolve", rule, key, dk, tr, ts, message or "condition cleared", sev, data)
                del self.book.tracks[dk]
            return
        if tr is None:
            tr = self.book.tracks[dk] = AlertTrack(pending_since=ts)
        tr.clear_since = None
        if tr.alert_id is None:
            if ts - (tr.pending_since if tr.pending_since is not None else ts) < rule.for_ms:
                return
            tr.alert_id = hashlib.blake2b(f"{dk}@{ts}".encode(), digest_size=8).hexdigest()
            tr.opened_ts, tr.count, tr.severity = ts, 1, sev
            self._emit("open", rule, key, dk, tr, ts, message, sev, data)
            return
        tr.count += 1
        escalated = SEVERITY_RANK[sev] != SEVERITY_RANK[tr.severity]
        if escalated or ts - tr.last_emit >= rule.update_every_ms:
            tr.severity = sev
            self._emit("update", rule, key, dk, tr, ts, message, sev, data)

    def _emit(
        self,
        op: str,
        rule: AlertRule,
        key: str,
        dk: str,
        tr: AlertTrack,
        ts: int,
        message: str,
        sev: Severity,
        data: dict[str, Any] | None,
    ) -> None:
        assert tr.alert_id is not None
        tr.last_emit = ts
        alert = Alert(
            id=tr.alert_id, rule=rule.name, scene=rule.scene, key=key, dedupe_key=dk, severity=sev,
            title=rule.title, message=message, data=data or {}, opened_ts=tr.opened_ts, last_ts=ts,
            count=tr.count,
        )  # fmt: skip
        if op == "resolve":
            alert.status, alert.resolved_by, alert.resolved_ts = "resolved", "system", ts
            alert.resolve_note = message
        self.out.alerts.append(AlertOp(op, alert))  # type: ignore[arg-type]


S = TypeVar("S", bound=msgspec.Struct)
E = TypeVar("E", bound=Event, default=Any)  # Processor[S]: any of its kinds


class Processor(ABC, Generic[S, E]):
    """Subclass with ``name``, ``kinds``, ``state_type`` and ``process``. ``E`` is what ``kinds``
    admits (one kind, or their union): the pipeline hands ``process`` only events of ``kinds``, so
    a processor of ``Processor[MyState, MyEvent]`` reads typed events without checking them."""

    name: ClassVar[str]
    kinds: ClassVar[tuple[type[Event], ...]]
    state_type: ClassVar[type[msgspec.Struct]]
    # dict fields of the state holding one entry per entity (a city's plates): committed entry by
    # entry, only those a batch changed (core/keyed.py); the rest of the state is one blob
    keyed: ClassVar[tuple[str, ...]] = ()

    def __init__(self, partition: int, config: Any = None) -> None:
        self.partition = partition
        self.config = config
        self.state: S = self.state_type()  # type: ignore[assignment]

    @abstractmethod
    def process(self, batch: Sequence[tuple[int, E]], out: Emitter) -> None:
        """Handle events (offset, event) of this processor's kinds, in offset order."""

    def tick(self, now_ms: int, out: Emitter) -> None:
        """Called about once a second with wall-clock time (silence and timeout rules)."""

    def forget(self, key: str) -> bool:
        """Drop what the state holds of entity ``key`` (a data subject's erasure); True when it
        held anything. The default removes ``key`` from every dict of the state's own fields, the
        shape per-key state has (``vehicles[vin]``, an aggregation's ``open`` and ``keys``); a
        processor keeping a subject elsewhere overrides it."""
        found = False
        for name in self.state.__struct_fields__:
            held = getattr(self.state, name)
            if isinstance(held, dict) and key in held:
                del held[key]
                found = True
        return found


class Envelope(msgspec.Struct):
    """What a checkpoint holds besides the offset."""

    state: msgspec.Raw
    alerts: AlertBook


def snapshot(proc: Processor[Any], book: AlertBook) -> bytes:
    return msgspec.msgpack.encode(Envelope(msgspec.Raw(msgspec.msgpack.encode(proc.state)), book))


def restore(proc: Processor[Any], blob: bytes) -> AlertBook:
    env = msgspec.msgpack.decode(blob, type=Envelope)
    proc.state = msgspec.msgpack.decode(env.state, type=proc.state_type)
    return env.alerts

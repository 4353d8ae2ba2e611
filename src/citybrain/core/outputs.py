"""What processors produce: metric points, entity states, alert operations, late and quarantined events."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from citybrain.core.events import Event, kind_of, to_json
from citybrain.core.ledger import Posting

Severity = Literal["info", "warning", "major", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "major": 2, "critical": 3}
AlertStatus = Literal["open", "acknowledged", "resolved"]


class MetricPoint(msgspec.Struct, frozen=True):
    """One value of a named metric for an entity key at a bucket start time (epoch ms)."""

    name: str
    key: str
    ts: int
    value: float


class StateUpdate(msgspec.Struct, frozen=True):
    """The latest state of one entity of a scene (replaces the previous one)."""

    scene: str
    key: str
    ts: int
    data: dict[str, Any]


class Alert(msgspec.Struct, kw_only=True):
    """An alert and its lifecycle: open -> acknowledged -> resolved (who, when, note)."""

    id: str
    rule: str
    scene: str
    key: str
    dedupe_key: str
    severity: Severity
    status: AlertStatus = "open"
    title: str
    message: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    opened_ts: int
    last_ts: int
    count: int = 1
    acked_by: str | None = None
    acked_ts: int | None = None
    ack_note: str | None = None
    resolved_by: str | None = None
    resolved_ts: int | None = None
    resolve_note: str | None = None


class AlertOp(msgspec.Struct, frozen=True):
    """``open`` inserts the alert; ``update`` refreshes an unresolved one; ``resolve`` closes it."""

    op: Literal["open", "update", "resolve"]
    alert: Alert


class LateEvent(msgspec.Struct, frozen=True):
    """An event that arrived after its window closed (watermark minus allowed lateness)."""

    processor: str
    partition: int
    poff: int
    id: str
    ts: int
    watermark: int


class Quarantined(msgspec.Struct, frozen=True):
    """An event set aside with the reason: the platform refused it (``stage="ingest"``, e.g. its
    time is outside the accepted window), a processor kept failing on it (``"process"``), or its
    stored payload could not be read back (``"read"``). It is kept, never silently dropped."""

    stage: str
    processor: str
    partition: int
    poff: int
    id: str
    kind: str
    key: str
    source: str
    ts: int
    reason: str
    payload: str

    @classmethod
    def of(cls, stage: str, ev: Event, reason: str, processor: str = "", partition: int = -1,
           poff: int = -1) -> Quarantined:  # fmt: skip
        return cls(stage, processor, partition, poff, ev.id, kind_of(ev), ev.key, ev.source, ev.ts,
                   reason[:2000], to_json(ev).decode())  # fmt: skip


class Outputs(msgspec.Struct):
    """Everything one processor batch produced, committed in one transaction with its checkpoint."""

    metrics: list[MetricPoint] = msgspec.field(default_factory=list)
    states: list[StateUpdate] = msgspec.field(default_factory=list)
    alerts: list[AlertOp] = msgspec.field(default_factory=list)
    late: list[LateEvent] = msgspec.field(default_factory=list)
    quarantined: list[Quarantined] = msgspec.field(default_factory=list)
    # derived events for a next stage (e.g. per-vehicle traversals re-keyed by road segment)
    events: list[Any] = msgspec.field(default_factory=list)
    # money movements (core/ledger.py), written with the state change that caused them
    postings: list[Posting] = msgspec.field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.metrics
            or self.states
            or self.alerts
            or self.late
            or self.quarantined
            or self.events
            or self.postings
        )

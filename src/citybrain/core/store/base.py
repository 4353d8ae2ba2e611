"""The store interface every backend implements (DuckDB embedded, PostgreSQL scaled out).

The embedded bus uses the ``events`` table as its durable log: ``append_events`` assigns each new
event its partition offset inside the same write that makes it durable, and processors read it
back with ``read_events`` when they fall behind or restart.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from citybrain.core.errors import ConfigError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.outputs import Alert, AlertOp, Outputs, Quarantined

log = logging.getLogger(__name__)

Agg = Literal["avg", "min", "max", "sum", "count", "last"]
AGGS: dict[str, str] = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)",
    "last": "max(value)",  # replaced per backend where a true last() exists; max of an upserted bucket
}


@dataclass
class AppendResult:
    """Events made durable by one append, with their (partition, offset), and the duplicates skipped."""

    accepted: list[tuple[int, int, Event]] = field(default_factory=list)
    duplicates: int = 0
    # the same events by partition: first offset and the events in offset order (a store that
    # assigns offsets fills it as it goes; else it is derived from ``accepted``)
    groups: dict[int, tuple[int, list[Event]]] = field(default_factory=dict)

    def by_partition(self) -> dict[int, tuple[int, list[Event]]]:
        if not self.groups:
            for p, off, ev in self.accepted:
                self.groups.setdefault(p, (off, []))[1].append(ev)
        return self.groups


@dataclass(frozen=True)
class AlertQuery:
    status: str | None = None
    severity: str | None = None
    scene: str | None = None
    key: str | None = None
    since: int | None = None
    limit: int = 200


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_ts: int
    revoked_ts: int | None


class Store(ABC):
    """Durable tables: raw events (the embedded log), metrics, states, alerts, checkpoints, tokens, audit."""

    @abstractmethod
    def heads(self) -> dict[int, int]:
        """Highest offset per partition ever written (0 where none)."""

    @abstractmethod
    def append_events(self, events: Sequence[Event], partition_of: Callable[[str], int]) -> AppendResult:
        """Store new events durably (skipping ids already stored); return their offsets.

        Each event's payload is the JSON encoding of that event object itself, so a stored payload is
        always its own event's content, whatever the order or the duplicates of the batch.
        """

    @abstractmethod
    def read_events(self, partition: int, after: int, limit: int) -> list[tuple[int, Event]]:
        """Events of one partition with offset > ``after``, in offset order."""

    @abstractmethod
    def find_events(
        self,
        kinds: Sequence[str],
        *,
        keys: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        contains: str | None = None,
        limit: int = 100_000,
    ) -> list[Event]:
        """Stored events of ``kinds`` (of ``keys``, in ``[start, end)``, whose JSON contains the
        text ``contains``), oldest first: for scenes that look back (genealogy, replay)."""

    @abstractmethod
    def count_events(self) -> int: ...

    @abstractmethod
    def load_checkpoint(self, processor: str, partition: int) -> tuple[int, bytes] | None: ...

    @abstractmethod
    def commit(self, processor: str, partition: int, poff: int, state: bytes, out: Outputs) -> list[Alert]:
        """Outputs and the checkpoint in one transaction; returns the alerts as they now stand."""

    @abstractmethod
    def record_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        """Alert operations from outside a processor batch (a gateway's identity alerts), in one
        transaction of their own; returns the alerts as they now stand."""

    @abstractmethod
    def states(self, scene: str, key: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]: ...

    @abstractmethod
    def metric_keys(self, name: str) -> list[str]: ...

    @abstractmethod
    def metric_series(
        self, name: str, key: str, start: int, end: int, bucket_ms: int, agg: Agg
    ) -> list[tuple[int, float]]: ...

    @abstractmethod
    def alerts(self, q: AlertQuery) -> list[Alert]: ...

    @abstractmethod
    def alert(self, alert_id: str) -> Alert: ...

    @abstractmethod
    def transition_alert(
        self, alert_id: str, action: Literal["ack", "resolve"], who: str, note: str
    ) -> Alert: ...

    @abstractmethod
    def late_count(self) -> int: ...

    @abstractmethod
    def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep events set aside outside a processor commit (refused at ingest, unreadable)."""

    @abstractmethod
    def quarantined(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest quarantined events with their stage and reason."""

    @abstractmethod
    def quarantine_count(self) -> int: ...

    @abstractmethod
    def add_token(self, token_id: str, name: str, scopes: Sequence[str], digest: str, now: int) -> None: ...

    @abstractmethod
    def token_by_hash(self, digest: str) -> Token | None: ...

    @abstractmethod
    def tokens(self) -> list[Token]: ...

    @abstractmethod
    def revoke_token(self, token_id: str, now: int) -> None: ...

    @abstractmethod
    def audit(self, ts: int, actor: str, action: str, target: str, detail: dict[str, Any]) -> None: ...

    @abstractmethod
    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]: ...

    @abstractmethod
    def apply_retention(self, cutoffs: dict[str, int]) -> dict[str, int]:
        """Delete rows older than each table's cutoff (epoch ms); events only once processed."""

    @abstractmethod
    def export(
        self, table: str, fmt: Literal["parquet", "csv"], path: str, since: int | None, until: int | None
    ) -> int:
        """Write a table (optionally a time range) to a file; returns the row count."""

    @abstractmethod
    def close(self) -> None: ...


_ALERT_DEC = msgspec.json.Decoder(dict[str, Any])


def event_from_row(eid: str, ingest_ts: int, payload: str) -> Event:
    """A stored event: its JSON (which may lack the id and ingest time) + columns."""
    ev = REGISTRY.decode_one(payload)
    ev.id, ev.ingest_ts = eid, int(ingest_ts)
    return ev


def events_from_rows(rows: Sequence[Sequence[Any]]) -> list[Event]:
    """Rows ``(id, ingest_ts, payload)`` -> events for a look-back query; a row that no longer
    decodes is left out (the pipeline quarantines it when it reads the log), so one bad row
    cannot make a query fail for good."""
    out: list[Event] = []
    for eid, ingest_ts, payload in rows:
        try:
            out.append(event_from_row(eid, ingest_ts, payload))
        except (msgspec.DecodeError, ConfigError) as err:
            log.warning("stored event %s does not decode, left out of the query: %s", eid, err)
    return out


def decode_log_rows(
    partition: int, rows: Sequence[Sequence[Any]], seen_bad: set[tuple[int, int]]
) -> tuple[list[tuple[int, Event]], list[Quarantined]]:
    """Rows ``(poff, id, ingest_ts, payload, kind, key, source, ts)`` of the event log -> events.

    A payload that no longer decodes (a kind whose scene is gone, a row written by a faulty
    version) must not stop every processor of its partition for ever: it is skipped and returned
    for quarantine, once per process (``seen_bad``), while the row itself stays in the log.
    """
    events: list[tuple[int, Event]] = []
    bad: list[Quarantined] = []
    for off, eid, ingest_ts, payload, kind, key, source, ts in rows:
        try:
            events.append((int(off), event_from_row(eid, ingest_ts, payload)))
        except (msgspec.DecodeError, ConfigError) as err:
            if (partition, int(off)) in seen_bad:
                continue
            seen_bad.add((partition, int(off)))
            log.error("event log %d/%d (id %s) cannot be decoded, skipped and quarantined: %s",
                      partition, off, eid, err)  # fmt: skip
            bad.append(Quarantined("read", "", partition, int(off), eid, kind, key, source, int(ts),
                                   f"stored payload does not decode: {err}", payload))  # fmt: skip
    return events, bad


READ_LOG = (
    "SELECT poff, id, ingest_ts, payload, kind, key, source, ts FROM events "
    "WHERE partition = ? AND poff > ? ORDER BY poff LIMIT ?"
)
QUARANTINE_LIST = (
    "SELECT stage, processor, partition, poff, id, kind, key, source, ts, reason, payload, recorded_ts "
    "FROM quarantine ORDER BY recorded_ts DESC LIMIT ?"
)


def quarantine_dict(row: Sequence[Any]) -> dict[str, Any]:
    names = ("stage", "processor", "partition", "poff", "id", "kind", "key", "source", "ts", "reason",
             "payload", "recorded_ts")  # fmt: skip
    return dict(zip(names, row, strict=True))


def alert_from_row(row: Sequence[Any]) -> Alert:
    (aid, rule, scene, key, dedupe, sev, status, title, message, data, opened, last, count,
     acked_by, acked_ts, ack_note, resolved_by, resolved_ts, resolve_note) = row  # fmt: skip
    return Alert(
        id=aid, rule=rule, scene=scene, key=key, dedupe_key=dedupe, severity=sev, status=status,
        title=title, message=message, data=_ALERT_DEC.decode(data), opened_ts=opened, last_ts=last,
        count=count, acked_by=acked_by, acked_ts=acked_ts, ack_note=ack_note, resolved_by=resolved_by,
        resolved_ts=resolved_ts, resolve_note=resolve_note,
    )  # fmt: skip

"""Stored rows <-> values, the same for every backend: events, alerts, quarantine, tokens, audit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain.core.errors import ConfigError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.outputs import Alert, Quarantined
from citybrain.core.store.base import Erasure, Token

log = logging.getLogger(__name__)
JSON = msgspec.json.Encoder()
_DICT = msgspec.json.Decoder(dict[str, Any])


def json_text(value: Any) -> str:
    return JSON.encode(value).decode()


def json_dict(text: str) -> dict[str, Any]:
    return _DICT.decode(text)


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


def quarantine_dict(row: Sequence[Any]) -> dict[str, Any]:
    names = ("stage", "processor", "partition", "poff", "id", "kind", "key", "source", "ts", "reason",
             "payload", "recorded_ts")  # fmt: skip
    return dict(zip(names, row, strict=True))


def quarantine_rows(items: Sequence[Quarantined], now: int) -> list[list[object]]:
    return [[*msgspec.structs.astuple(q), now] for q in items]


def alert_from_row(row: Sequence[Any]) -> Alert:
    (aid, rule, scene, key, dedupe, sev, status, title, message, data, opened, last, count,
     acked_by, acked_ts, ack_note, resolved_by, resolved_ts, resolve_note) = row  # fmt: skip
    return Alert(
        id=aid, rule=rule, scene=scene, key=key, dedupe_key=dedupe, severity=sev, status=status,
        title=title, message=message, data=json_dict(data), opened_ts=opened, last_ts=last,
        count=count, acked_by=acked_by, acked_ts=acked_ts, ack_note=ack_note, resolved_by=resolved_by,
        resolved_ts=resolved_ts, resolve_note=resolve_note,
    )  # fmt: skip


def alert_params(a: Alert) -> list[Any]:
    """An alert as the parameters of ``schema.INSERT_ALERT`` (the order of ``ALERT_COLUMNS``)."""
    return [
        a.id, a.rule, a.scene, a.key, a.dedupe_key, a.severity, a.status, a.title, a.message,
        json_text(a.data), a.opened_ts, a.last_ts, a.count, a.acked_by, a.acked_ts, a.ack_note,
        a.resolved_by, a.resolved_ts, a.resolve_note,
    ]  # fmt: skip


def token_from_row(row: Sequence[Any]) -> Token:
    tid, name, scopes, created, revoked, owner = row
    return Token(tid, name, tuple(s for s in scopes.split(",") if s), int(created), revoked, owner or "")


def erasure_from_row(row: Sequence[Any]) -> Erasure:
    eid, scene, key, reason, by, requested, done, deleted = row
    counts = {k: int(v) for k, v in json_dict(deleted).items()}
    return Erasure(eid, scene, key, reason, by, int(requested), None if done is None else int(done), counts)


def audit_dict(row: Sequence[Any]) -> dict[str, Any]:
    ts, actor, action, target, detail = row
    return {"ts": int(ts), "actor": actor, "action": action, "target": target, "detail": json_dict(detail)}

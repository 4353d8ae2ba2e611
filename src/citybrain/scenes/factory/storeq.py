"""Read-only queries of the factory's raw events in the store (genealogy, replay, Sparkplug births).

The store's public interface reads the log by partition offset only; genealogy and replay need
events by kind, key and time. Until the core offers that (proposed: ``Store.find_events(kinds,
keys, start, end, contains, limit)`` and a ``genealogy`` edge table), this module runs SELECTs in
the portable SQL subset through each backend's own read path. It never writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from citybrain.core.errors import StoreError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.store.base import Store


def rows(store: Store, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A read in the portable subset (``?`` placeholders) on DuckDB or PostgreSQL."""
    if not sql.lstrip().upper().startswith("SELECT"):
        raise StoreError("storeq runs SELECT statements only")
    pg_rows = getattr(store, "_rows", None)
    if pg_rows is not None:  # PostgreSQL: its read path retries once across a reconnect
        out: list[tuple[Any, ...]] = pg_rows(sql, list(params))
        return out
    cur = getattr(store, "_cur", None)
    if cur is None:
        raise StoreError(f"{type(store).__name__} offers no read path for factory queries")
    result: list[tuple[Any, ...]] = cur().execute(sql, list(params)).fetchall()
    return result


def find_events(
    store: Store,
    kinds: Sequence[str],
    *,
    keys: Sequence[str] | None = None,
    start: int | None = None,
    end: int | None = None,
    contains: str | None = None,
    limit: int = 100_000,
) -> list[Event]:
    """Events of ``kinds`` (optionally of ``keys``, in ``[start, end)``, whose payload contains the
    text ``contains``), oldest first."""
    where = [f"kind IN ({', '.join('?' * len(kinds))})"]
    params: list[Any] = list(kinds)
    if keys is not None:
        if not keys:
            return []
        where.append(f"key IN ({', '.join('?' * len(keys))})")
        params.extend(keys)
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts < ?")
        params.append(end)
    if contains is not None:
        where.append("payload LIKE ?")
        # "_" stays a one-character wildcard: a false match is possible, so callers check the events
        params.append("%" + contains.replace("%", "") + "%")
    sql = f"SELECT id, ingest_ts, payload FROM events WHERE {' AND '.join(where)} ORDER BY ts, id LIMIT ?"
    params.append(limit)
    out: list[Event] = []
    for eid, ingest_ts, payload in rows(store, sql, params):
        ev = REGISTRY.decode_one(payload)
        ev.id, ev.ingest_ts = eid, int(ingest_ts)
        out.append(ev)
    return out

"""DuckDB, the embedded default store: one process owns the file; writes are serialised by a lock.

Events go in as Arrow batches (never row by row: DuckDB's row inserts run at ~2k rows/s); a
commit returns only after DuckDB has written its WAL, so an acknowledged batch survives kill -9.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import msgspec
import pyarrow as pa

from citybrain.core.errors import ConflictError, NotFoundError, StoreError
from citybrain.core.events import Event, kind_of
from citybrain.core.outputs import Alert, AlertOp, Outputs, Quarantined
from citybrain.core.store import schema
from citybrain.core.store.base import (
    AGGS,
    QUARANTINE_LIST,
    READ_LOG,
    Agg,
    AlertQuery,
    AppendResult,
    Store,
    Token,
    alert_from_row,
    decode_log_rows,
    events_from_rows,
    quarantine_dict,
)

_JSON = msgspec.json.Encoder()
_DICT = msgspec.json.Decoder(dict[str, Any])

EVENT_SCHEMA = pa.schema(
    [
        ("partition", pa.int32()), ("poff", pa.int64()), ("id", pa.string()), ("kind", pa.string()),
        ("key", pa.string()), ("source", pa.string()), ("ts", pa.int64()), ("ingest_ts", pa.int64()),
        ("payload", pa.string()),
    ]
)  # fmt: skip


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class DuckStore(Store):
    def __init__(self, path: str | Path, *, read_only: bool = False, checkpoint_mb: int = 64) -> None:
        self.path = str(path)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as err:
            raise StoreError(
                f"cannot open {self.path}: {str(err).splitlines()[0]} "
                "(is a citybrain server already running on this data folder?)"
            ) from err
        self._wlock = threading.RLock()
        self._local = threading.local()
        self._bad_rows: set[tuple[int, int]] = set()  # log rows already quarantined as unreadable
        if not read_only:
            with self._wlock:
                # fewer, larger checkpoints: DuckDB compresses on checkpoint, the main cost of ingest
                self._con.execute(f"SET checkpoint_threshold = '{checkpoint_mb}MB'")
                for ddl in schema.TABLES.values():
                    self._con.execute(ddl)
        self._heads = self._load_heads()

    # -- connections ---------------------------------------------------------------------------
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
        return cur

    def _one(self, sql: str, params: list[Any] | None = None) -> Any:
        """The first row (or None); reads the whole result, which DuckDB needs before the next query."""
        return _first(self._cur().execute(sql, params or []))

    def _load_heads(self) -> dict[int, int]:
        rows = (
            self._cur()
            .execute(
                "SELECT partition, max(poff) FROM (SELECT partition, poff FROM events "
                "UNION ALL SELECT partition, poff FROM checkpoints) t GROUP BY partition"
            )
            .fetchall()
        )
        return {int(p): int(o) for p, o in rows}

    def heads(self) -> dict[int, int]:
        return dict(self._heads)

    # -- the event log -------------------------------------------------------------------------
    def append_events(self, events: Sequence[Event], partition_of: Callable[[str], int]) -> AppendResult:
        unique: dict[str, int] = {}
        for i, ev in enumerate(events):
            unique.setdefault(ev.id, i)
        result = AppendResult(duplicates=len(events) - len(unique))
        if not unique:
            return result
        with self._wlock:
            cur = self._cur()
            seen = self._stored_ids(cur, [events[i] for i in unique.values()])
            fresh = [events[i] for eid, i in unique.items() if eid not in seen]
            result.duplicates += len(unique) - len(fresh)
            if not fresh:
                return result
            parts = [partition_of(ev.key) for ev in fresh]
            offs: list[int] = []
            heads = self._heads
            groups = result.groups
            for p, ev in zip(parts, fresh, strict=True):
                o = heads.get(p, 0) + 1
                heads[p] = o
                offs.append(o)
                g = groups.get(p)
                if g is None:
                    groups[p] = (o, [ev])
                else:
                    g[1].append(ev)
            table = pa.Table.from_arrays(
                [
                    pa.array(parts, pa.int32()), pa.array(offs, pa.int64()),
                    pa.array([e.id for e in fresh], pa.string()),
                    pa.array([kind_of(e) for e in fresh], pa.string()),
                    pa.array([e.key for e in fresh], pa.string()),
                    pa.array([e.source for e in fresh], pa.string()),
                    pa.array([e.ts for e in fresh], pa.int64()),
                    pa.array([e.ingest_ts for e in fresh], pa.int64()),
                    pa.array([_JSON.encode(e) for e in fresh], pa.binary()).cast(pa.string()),
                ],
                schema=EVENT_SCHEMA,
            )  # fmt: skip
            try:
                cur.register("_batch", table)
                cur.execute("INSERT INTO events SELECT * FROM _batch")
            except duckdb.Error as err:
                self._heads = self._load_heads()
                raise StoreError(f"appending {len(fresh)} events failed: {err}") from err
            finally:
                cur.unregister("_batch")
            result.accepted = list(zip(parts, offs, fresh, strict=True))
        return result

    @staticmethod
    def _stored_ids(cur: duckdb.DuckDBPyConnection, events: list[Event]) -> set[str]:
        lo = min(e.ts for e in events)
        hi = max(e.ts for e in events)
        ids = pa.table({"id": pa.array([e.id for e in events], pa.string())})
        cur.register("_ids", ids)
        try:
            rows = cur.execute(
                "SELECT e.id FROM events e JOIN _ids USING (id) WHERE e.ts BETWEEN ? AND ?", [lo, hi]
            ).fetchall()
        finally:
            cur.unregister("_ids")
        return {r[0] for r in rows}

    def read_events(self, partition: int, after: int, limit: int) -> list[tuple[int, Event]]:
        rows = self._cur().execute(READ_LOG, [partition, after, limit]).fetchall()
        events, bad = decode_log_rows(partition, rows, self._bad_rows)
        if bad:
            self.quarantine(bad)
        return events

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
        sql, params = schema.find_events_query(kinds, keys, start, end, contains, limit)
        return events_from_rows(self._cur().execute(sql, params).fetchall())

    def count_events(self) -> int:
        row = self._one("SELECT count(*) FROM events")
        return int(row[0]) if row else 0

    # -- processor checkpoints and outputs -----------------------------------------------------
    def load_checkpoint(self, processor: str, partition: int) -> tuple[int, bytes] | None:
        row = self._one(
            "SELECT poff, state FROM checkpoints WHERE processor = ? AND partition = ?",
            [processor, partition],
        )
        return (int(row[0]), bytes(row[1])) if row else None

    def commit(self, processor: str, partition: int, poff: int, state: bytes, out: Outputs) -> list[Alert]:
        now = now_ms()
        with self._wlock:
            cur = self._cur()
            cur.execute("BEGIN TRANSACTION")
            try:
                if out.metrics:
                    last = {(m.name, m.key, m.ts): m for m in out.metrics}
                    cur.register("_m", pa.table({
                        "name": [k[0] for k in last], "key": [k[1] for k in last],
                        "ts": pa.array([k[2] for k in last], pa.int64()),
                        "value": pa.array([m.value for m in last.values()], pa.float64()),
                    }))  # fmt: skip
                    cur.execute(schema.UPSERT_METRICS.format(src="_m"))
                    cur.unregister("_m")
                if out.states:
                    lasts = {(s.scene, s.key): s for s in out.states}
                    cur.register("_s", pa.table({
                        "scene": [k[0] for k in lasts], "key": [k[1] for k in lasts],
                        "ts": pa.array([s.ts for s in lasts.values()], pa.int64()),
                        "data": [_JSON.encode(s.data).decode() for s in lasts.values()],
                    }))  # fmt: skip
                    cur.execute(schema.UPSERT_STATES.format(src="_s"))
                    cur.unregister("_s")
                changed = self._apply_alert_ops(cur, out)
                for le in out.late:
                    cur.execute(
                        schema.INSERT_LATE,
                        [le.processor, le.partition, le.poff, le.id, le.ts, le.watermark, now],
                    )
                for row in schema.quarantine_rows(out.quarantined, now):
                    cur.execute(schema.INSERT_QUARANTINE, row)
                cur.execute(schema.UPSERT_CHECKPOINT, [processor, partition, poff, state, now])
                cur.execute("COMMIT")
            except BaseException as err:
                # whatever failed (the database, or encoding an output), the transaction must not
                # stay open: every later commit on this connection would fail
                cur.execute("ROLLBACK")
                if isinstance(err, duckdb.Error):
                    raise StoreError(
                        f"commit of {processor}/{partition} at offset {poff} failed: {err}"
                    ) from err
                raise
        return changed

    def record_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        with self._wlock:
            cur = self._cur()
            cur.execute("BEGIN TRANSACTION")
            try:
                changed = self._apply_alert_ops(cur, Outputs(alerts=list(ops)))
                cur.execute("COMMIT")
            except BaseException as err:
                cur.execute("ROLLBACK")
                if isinstance(err, duckdb.Error):
                    raise StoreError(f"recording {len(ops)} alert changes failed: {err}") from err
                raise
        return changed

    def _apply_alert_ops(self, cur: duckdb.DuckDBPyConnection, out: Outputs) -> list[Alert]:
        ids: list[str] = []
        for op in out.alerts:
            a = op.alert
            if op.op == "open":
                cur.execute(schema.INSERT_ALERT, _alert_params(a))
            elif op.op == "update":
                cur.execute(
                    schema.UPDATE_ALERT,
                    [a.severity, a.title, a.message, _JSON.encode(a.data).decode(), a.last_ts, a.count, a.id],
                )
            else:
                cur.execute(
                    schema.RESOLVE_ALERT,
                    [a.resolved_by or "system", a.resolved_ts, a.resolve_note, a.last_ts, a.id],
                )
            ids.append(a.id)
        if not ids:
            return []
        unique = list(dict.fromkeys(ids))
        rows = cur.execute(
            f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id IN ({', '.join('?' * len(unique))})", unique
        ).fetchall()
        return [alert_from_row(r) for r in rows]

    # -- queries ---------------------------------------------------------------------------------
    def states(self, scene: str, key: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        sql = "SELECT key, ts, data FROM states WHERE scene = ?"
        params: list[Any] = [scene]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        rows = self._cur().execute(sql + " ORDER BY key LIMIT ?", [*params, limit]).fetchall()
        return [{"key": k, "ts": int(t), "data": _DICT.decode(d)} for k, t, d in rows]

    def metric_keys(self, name: str) -> list[str]:
        rows = (
            self._cur()
            .execute("SELECT DISTINCT key FROM metrics WHERE name = ? ORDER BY key", [name])
            .fetchall()
        )
        return [r[0] for r in rows]

    def metric_series(
        self, name: str, key: str, start: int, end: int, bucket_ms: int, agg: Agg
    ) -> list[tuple[int, float]]:
        rows = (
            self._cur()
            .execute(
                schema.METRIC_SERIES.format(agg=AGGS[agg]),
                [bucket_ms, name, key, start, end],
            )
            .fetchall()
        )
        return [(int(b), float(v)) for b, v in rows]

    def alerts(self, q: AlertQuery) -> list[Alert]:
        sql, params = schema.alerts_query(q.status, q.severity, q.scene, q.key, q.since, q.limit)
        return [alert_from_row(r) for r in self._cur().execute(sql, params).fetchall()]

    def alert(self, alert_id: str) -> Alert:
        row = self._one(f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id = ?", [alert_id])
        if row is None:
            raise NotFoundError(f"alert {alert_id!r} does not exist")
        return alert_from_row(row)

    def transition_alert(
        self, alert_id: str, action: Literal["ack", "resolve"], who: str, note: str
    ) -> Alert:
        with self._wlock:
            current = self.alert(alert_id)
            now = now_ms()
            if current.status == "resolved":
                raise ConflictError(f"alert {alert_id!r} is already resolved")
            if action == "ack":
                if current.status == "acknowledged":
                    raise ConflictError(f"alert {alert_id!r} is already acknowledged by {current.acked_by}")
                self._cur().execute(
                    "UPDATE alerts SET status = 'acknowledged', acked_by = ?, acked_ts = ?, ack_note = ? "
                    "WHERE id = ?",
                    [who, now, note, alert_id],
                )
            else:
                self._cur().execute(schema.RESOLVE_ALERT, [who, now, note, current.last_ts, alert_id])
            return self.alert(alert_id)

    def late_count(self) -> int:
        row = self._one("SELECT count(*) FROM late_events")
        return int(row[0]) if row else 0

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        with self._wlock:
            self._cur().executemany(schema.INSERT_QUARANTINE, schema.quarantine_rows(items, now_ms()))

    def quarantined(self, limit: int = 200) -> list[dict[str, Any]]:
        return [quarantine_dict(r) for r in self._cur().execute(QUARANTINE_LIST, [limit]).fetchall()]

    def quarantine_count(self) -> int:
        row = self._one("SELECT count(*) FROM quarantine")
        return int(row[0]) if row else 0

    # -- tokens and audit ------------------------------------------------------------------------
    def add_token(self, token_id: str, name: str, scopes: Sequence[str], digest: str, now: int) -> None:
        with self._wlock:
            self._cur().execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                [token_id, name, ",".join(scopes), digest, now],
            )

    def token_by_hash(self, digest: str) -> Token | None:
        row = self._one(
            "SELECT id, name, scopes, created_ts, revoked_ts FROM tokens WHERE hash = ?", [digest]
        )
        return _token(row) if row else None

    def tokens(self) -> list[Token]:
        rows = (
            self._cur()
            .execute("SELECT id, name, scopes, created_ts, revoked_ts FROM tokens ORDER BY created_ts")
            .fetchall()
        )
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, now: int) -> None:
        with self._wlock:
            if not self._cur().execute("SELECT 1 FROM tokens WHERE id = ?", [token_id]).fetchall():
                raise NotFoundError(f"token {token_id!r} does not exist")
            self._cur().execute("UPDATE tokens SET revoked_ts = ? WHERE id = ?", [now, token_id])

    def audit(self, ts: int, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        with self._wlock:
            self._cur().execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                [ts, actor, action, target, _JSON.encode(detail).decode()],
            )

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = (
            self._cur()
            .execute("SELECT ts, actor, action, target, detail FROM audit ORDER BY ts DESC LIMIT ?", [limit])
            .fetchall()
        )
        return [
            {"ts": int(t), "actor": a, "action": act, "target": tg, "detail": _DICT.decode(d)}
            for t, a, act, tg, d in rows
        ]

    # -- housekeeping --------------------------------------------------------------------------
    def apply_retention(self, cutoffs: dict[str, int]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        with self._wlock:
            cur = self._cur()
            for table, cutoff in cutoffs.items():
                where = schema.retention_where(table)
                row = _first(cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", [cutoff]))
                cur.execute(f"DELETE FROM {table} WHERE {where}", [cutoff])
                deleted[table] = int(row[0]) if row else 0
        return deleted

    def export(
        self, table: str, fmt: Literal["parquet", "csv"], path: str, since: int | None, until: int | None
    ) -> int:
        col, lo, hi = schema.export_range(table, since, until)
        sql = f"SELECT * FROM {table} WHERE {col} >= ? AND {col} < ? ORDER BY {col}"
        arrow = self._cur().sql(sql, params=[lo, hi]).to_arrow_table()
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(arrow, path)
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(arrow, path)
        return int(arrow.num_rows)

    def close(self) -> None:
        with self._wlock:
            self._con.close()


def _first(rel: duckdb.DuckDBPyConnection) -> Any:
    rows = rel.fetchall()
    return rows[0] if rows else None


def _alert_params(a: Alert) -> list[Any]:
    return [
        a.id, a.rule, a.scene, a.key, a.dedupe_key, a.severity, a.status, a.title, a.message,
        _JSON.encode(a.data).decode(), a.opened_ts, a.last_ts, a.count, a.acked_by, a.acked_ts, a.ack_note,
        a.resolved_by, a.resolved_ts, a.resolve_note,
    ]  # fmt: skip


def _token(row: Sequence[Any]) -> Token:
    tid, name, scopes, created, revoked = row
    return Token(tid, name, tuple(s for s in scopes.split(",") if s), int(created), revoked)

"""The PostgreSQL store's queries, lifecycle transitions, housekeeping and export.

The SQL is the portable subset in ``schema`` (``?`` placeholders, rewritten by :func:`pg`); only
what PostgreSQL does better is specific: row locks for alert transitions between API nodes, COPY
for export, dropping whole day partitions for retention.
"""

from __future__ import annotations

import os
import tempfile
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

import msgspec
import psycopg
import pyarrow as pa

from citybrain.core.errors import ConflictError, NotFoundError, StoreError
from citybrain.core.outputs import Alert, AlertOp, Outputs, Quarantined
from citybrain.core.store import schema
from citybrain.core.store.base import (
    AGGS,
    QUARANTINE_LIST,
    Agg,
    AlertQuery,
    Store,
    Token,
    alert_from_row,
    quarantine_dict,
)

_JSON = msgspec.json.Encoder()
_DICT = msgspec.json.Decoder(dict[str, Any])
_ARROW_TYPES = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "character varying": pa.string(),
    "double precision": pa.float64(),
}


def pg(sql: str) -> str:
    """Portable SQL -> psycopg: escape ``%`` (the modulo in bucketing), then ``?`` -> ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgQueries(Store):
    """Everything but the log and the commit path; the concrete store provides connections."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    @abstractmethod
    def _tx(self) -> AbstractContextManager[psycopg.Cursor[Any]]: ...

    def count_events(self) -> int:
        return int(self._rows("SELECT count(*) FROM events")[0][0])

    @staticmethod
    def _apply_alert_ops(cur: psycopg.Cursor[Any], out: Outputs) -> list[Alert]:
        ids: list[str] = []
        for op in out.alerts:
            a = op.alert
            if op.op == "open":
                cur.execute(pg(schema.INSERT_ALERT), _alert_params(a))
            elif op.op == "update":
                cur.execute(
                    pg(schema.UPDATE_ALERT),
                    [a.severity, a.title, a.message, _JSON.encode(a.data).decode(), a.last_ts, a.count, a.id],
                )
            else:
                cur.execute(
                    pg(schema.RESOLVE_ALERT),
                    [a.resolved_by or "system", a.resolved_ts, a.resolve_note, a.last_ts, a.id],
                )
            ids.append(a.id)
        if not ids:
            return []
        cur.execute(
            f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id = ANY(%s)", [list(dict.fromkeys(ids))]
        )
        return [alert_from_row(r) for r in cur.fetchall()]

    # -- queries ---------------------------------------------------------------------------------
    def states(self, scene: str, key: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        sql = "SELECT key, ts, data FROM states WHERE scene = ?"
        params: list[Any] = [scene]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        rows = self._rows(sql + " ORDER BY key LIMIT ?", [*params, limit])
        return [{"key": k, "ts": int(t), "data": _DICT.decode(d)} for k, t, d in rows]

    def metric_keys(self, name: str) -> list[str]:
        return [
            r[0] for r in self._rows("SELECT DISTINCT key FROM metrics WHERE name = ? ORDER BY key", [name])
        ]

    def metric_series(
        self, name: str, key: str, start: int, end: int, bucket_ms: int, agg: Agg
    ) -> list[tuple[int, float]]:
        rows = self._rows(
            schema.METRIC_SERIES.format(agg=AGGS[agg]),
            [bucket_ms, name, key, start, end],
        )
        return [(int(b), float(v)) for b, v in rows]

    def alerts(self, q: AlertQuery) -> list[Alert]:
        sql, params = schema.alerts_query(q.status, q.severity, q.scene, q.key, q.since, q.limit)
        return [alert_from_row(r) for r in self._rows(sql, params)]

    def alert(self, alert_id: str) -> Alert:
        rows = self._rows(f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id = ?", [alert_id])
        if not rows:
            raise NotFoundError(f"alert {alert_id!r} does not exist")
        return alert_from_row(rows[0])

    def transition_alert(
        self, alert_id: str, action: Literal["ack", "resolve"], who: str, note: str
    ) -> Alert:
        now = _now_ms()
        try:
            with self._tx() as cur:
                # the row lock makes two API nodes acknowledging at once see each other's change
                cur.execute(f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id = %s FOR UPDATE", [alert_id])
                row = cur.fetchone()
                if row is None:
                    raise NotFoundError(f"alert {alert_id!r} does not exist")
                current = alert_from_row(row)
                if current.status == "resolved":
                    raise ConflictError(f"alert {alert_id!r} is already resolved")
                if action == "ack":
                    if current.status == "acknowledged":
                        raise ConflictError(
                            f"alert {alert_id!r} is already acknowledged by {current.acked_by}"
                        )
                    cur.execute(
                        "UPDATE alerts SET status = 'acknowledged', acked_by = %s, acked_ts = %s, "
                        "ack_note = %s WHERE id = %s",
                        [who, now, note, alert_id],
                    )
                else:
                    cur.execute(pg(schema.RESOLVE_ALERT), [who, now, note, current.last_ts, alert_id])
        except psycopg.Error as err:
            raise StoreError(f"updating alert {alert_id!r} failed: {err}") from err
        return self.alert(alert_id)

    def late_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM late_events")[0][0])

    def record_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        try:
            with self._tx() as cur:
                return self._apply_alert_ops(cur, Outputs(alerts=list(ops)))
        except psycopg.Error as err:
            raise StoreError(f"recording {len(ops)} alert changes failed: {err}") from err

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        try:
            with self._tx() as cur:
                cur.executemany(pg(schema.INSERT_QUARANTINE), schema.quarantine_rows(items, _now_ms()))
        except psycopg.Error as err:
            raise StoreError(f"quarantining {len(items)} events failed: {err}") from err

    def quarantined(self, limit: int = 200) -> list[dict[str, Any]]:
        return [quarantine_dict(r) for r in self._rows(QUARANTINE_LIST, [limit])]

    def quarantine_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM quarantine")[0][0])

    # -- tokens and audit ------------------------------------------------------------------------
    def add_token(self, token_id: str, name: str, scopes: Sequence[str], digest: str, now: int) -> None:
        self._write(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)", [token_id, name, ",".join(scopes), digest, now]
        )

    def token_by_hash(self, digest: str) -> Token | None:
        rows = self._rows(
            "SELECT id, name, scopes, created_ts, revoked_ts FROM tokens WHERE hash = ?", [digest]
        )
        return _token(rows[0]) if rows else None

    def tokens(self) -> list[Token]:
        rows = self._rows("SELECT id, name, scopes, created_ts, revoked_ts FROM tokens ORDER BY created_ts")
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, now: int) -> None:
        if not self._write("UPDATE tokens SET revoked_ts = ? WHERE id = ?", [now, token_id]):
            raise NotFoundError(f"token {token_id!r} does not exist")

    def audit(self, ts: int, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
            [ts, actor, action, target, _JSON.encode(detail).decode()],
        )

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT ts, actor, action, target, detail FROM audit ORDER BY ts DESC LIMIT ?", [limit]
        )
        return [
            {"ts": int(t), "actor": a, "action": act, "target": tg, "detail": _DICT.decode(d)}
            for t, a, act, tg, d in rows
        ]

    # -- housekeeping --------------------------------------------------------------------------
    def apply_retention(self, cutoffs: dict[str, int]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        for table, cutoff in cutoffs.items():
            deleted[table] = self._write(
                f"DELETE FROM {table} WHERE {schema.retention_where(table)}", [cutoff]
            )
        if "events" in cutoffs:
            self._drop_empty_days(cutoffs["events"])
        return deleted

    def _drop_empty_days(self, cutoff: int) -> None:
        """Day partitions wholly before the cutoff and emptied by retention go away with their files."""
        rows = self._rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE p.relname = 'events' AND n.nspname = current_schema()"
        )
        for (name,) in rows:
            day = int(name.removeprefix("events_d").replace("m", "-"))
            if (day + 1) * 86_400_000 <= cutoff and not self._rows(f"SELECT 1 FROM {name} LIMIT 1"):
                self._write(f"DROP TABLE IF EXISTS {name}")
                self._forget_day(day)

    def _forget_day(self, day: int) -> None:
        """Hook for the concrete store's cache of existing day partitions."""

    def _export(
        self, table: str, fmt: Literal["parquet", "csv"], path: str, since: int | None, until: int | None
    ) -> int:
        col, lo, hi = schema.export_range(table, since, until)
        query = f"COPY (SELECT * FROM {table} WHERE {col} >= {int(lo)} AND {col} < {int(hi)} ORDER BY {col}) "
        query += "TO STDOUT (FORMAT csv, HEADER true)"
        if fmt == "csv":
            return self._copy_out(query, path)
        fd, tmp = tempfile.mkstemp(suffix=".csv", dir=os.path.dirname(os.path.abspath(path)))
        os.close(fd)
        try:
            n = self._copy_out(query, tmp)
            import pyarrow.csv as pacsv
            import pyarrow.parquet as pq

            types = {
                name: _ARROW_TYPES[dtype]
                for name, dtype in self._rows(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = ?",
                    [table],
                )
            }
            convert = pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
            )
            arrow = pacsv.read_csv(tmp, convert_options=convert)
            pq.write_table(arrow, path)
        finally:
            os.unlink(tmp)
        return n

    def _copy_out(self, query: str, path: str) -> int:
        """Stream COPY .. TO STDOUT into a file: constant memory whatever the table's size."""
        try:
            with self._tx() as cur, open(path, "wb") as f:
                with cur.copy(query) as copy:
                    for chunk in _chunks(copy):
                        f.write(chunk)
                return max(cur.rowcount, 0)
        except psycopg.Error as err:
            raise StoreError(f"export failed: {err}") from err


def _chunks(copy: psycopg.Copy) -> Iterator[bytes]:
    for data in copy:
        yield bytes(data)


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


def _alert_params(a: Alert) -> list[Any]:
    return [
        a.id, a.rule, a.scene, a.key, a.dedupe_key, a.severity, a.status, a.title, a.message,
        _JSON.encode(a.data).decode(), a.opened_ts, a.last_ts, a.count, a.acked_by, a.acked_ts, a.ack_note,
        a.resolved_by, a.resolved_ts, a.resolve_note,
    ]  # fmt: skip


def _token(row: Sequence[Any]) -> Token:
    tid, name, scopes, created, revoked = row
    return Token(tid, name, tuple(s for s in scopes.split(",") if s), int(created), revoked)

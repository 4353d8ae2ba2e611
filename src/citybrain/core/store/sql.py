"""The SQL both stores share, over two primitives each backend provides.

* ``_rows(sql, params)``: a read, ``?`` placeholders, every row as a tuple.
* ``_transaction(what)``: a write transaction yielding an ``SqlTx``; it commits on leaving, rolls back
  on any exception, and raises ``StoreError`` naming ``what`` when the database fails.

A backend adds its log (appends, heads), its commit path (locks, retries, fences), its bulk upsert
(``_upsert``: an Arrow table on DuckDB, ``unnest`` of arrays on PostgreSQL), export, and the
``_ROW_LOCK`` that makes concurrent alert transitions see each other (PostgreSQL: ``FOR UPDATE``;
DuckDB has one writer, serialised by its lock).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, Literal, Protocol, TypeVar

from citybrain.core.clock import now_ms
from citybrain.core.errors import ConflictError, NotFoundError
from citybrain.core.events import Event
from citybrain.core.outputs import Alert, AlertOp, Outputs, Quarantined
from citybrain.core.store import schema
from citybrain.core.store.base import (
    EVERY_RECORD,
    Agg,
    AlertQuery,
    AuditSearch,
    EntryChanges,
    Erasure,
    Store,
    Token,
)
from citybrain.core.store.rows import (
    alert_from_row,
    alert_params,
    audit_dict,
    decode_log_rows,
    erasure_from_row,
    events_from_rows,
    json_dict,
    json_text,
    quarantine_dict,
    quarantine_rows,
    token_from_row,
)
from citybrain.core.store.sql_aggregation import SqlAggregation
from citybrain.core.store.sql_cases import SqlCases
from citybrain.core.store.sql_ledger import SqlLedger


class SqlTx(Protocol):
    """One open write transaction; statements use ``?`` placeholders."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


TxT = TypeVar("TxT", bound=SqlTx)


class SqlStore(SqlCases, SqlAggregation, SqlLedger, Store, Generic[TxT]):
    """Every query, and every write that is the same SQL on both backends."""

    _ROW_LOCK = ""  # appended to a SELECT of the row a read-modify-write transaction changes

    def __init__(self) -> None:
        self._bad_rows: set[tuple[int, int]] = set()  # log rows already quarantined as unreadable

    # -- the primitives and hooks of a backend -----------------------------------------------------
    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _transaction(self, what: str) -> AbstractContextManager[TxT]: ...

    @abstractmethod
    def _upsert(
        self, tx: TxT, sql: str, columns: schema.Columns, values: list[list[Any]], params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` (an upsert whose ``{src}`` is filled in) over rows given column by column;
        returns what it returns (``RETURNING``). ``params`` fill the ``?`` placed before ``{src}``."""

    def _claim_ids(self, tx: TxT, events: Sequence[Event]) -> set[str]:
        """Claim the ids of ``events`` (distinct) in ``event_ids``; returns those not stored before."""
        rows = self._upsert(tx, schema.CLAIM_EVENT_IDS, schema.ID_COLUMNS,
                            [[e.id for e in events], [e.ts for e in events]])  # fmt: skip
        return {r[0] for r in rows}

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        rows = self._rows(sql, params)
        return int(rows[0][0]) if rows else 0

    # -- the event log ---------------------------------------------------------------------------
    def read_events(self, partition: int, after: int, limit: int) -> list[tuple[int, Event]]:
        events, bad = decode_log_rows(partition, self._rows(schema.READ_LOG, [partition, after, limit]),
                                      self._bad_rows)  # fmt: skip
        if bad:
            self.quarantine(bad)
        return events

    def count_events(self) -> int:
        return self._count("SELECT count(*) FROM events")

    # -- checkpoints and outputs -----------------------------------------------------------------
    def load_checkpoint(self, processor: str, partition: int) -> tuple[int, bytes] | None:
        rows = self._rows(schema.READ_CHECKPOINT, [processor, partition])
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def load_entries(self, processor: str, partition: int) -> dict[str, dict[str, bytes]]:
        out: dict[str, dict[str, bytes]] = {}
        for name, key, data in self._rows(schema.READ_ENTRIES, [processor, partition]):
            out.setdefault(name, {})[key] = bytes(data)
        return out

    def _commit_in(
        self,
        tx: TxT,
        processor: str,
        partition: int,
        poff: int,
        state: bytes,
        out: Outputs,
        entries: EntryChanges | None = None,
    ) -> list[Alert]:
        """A processor batch's outputs and its checkpoint, inside the caller's transaction."""
        now = now_ms()
        if out.metrics:
            last = {(m.name, m.key, m.ts): m.value for m in out.metrics}  # one row per key per statement
            self._upsert(tx, schema.UPSERT_METRICS, schema.METRIC_COLUMNS,
                         [[k[0] for k in last], [k[1] for k in last], [k[2] for k in last],
                          list(last.values())])  # fmt: skip
        if out.states:
            lasts = {(s.scene, s.key): s for s in out.states}
            self._upsert(tx, schema.UPSERT_STATES, schema.STATE_COLUMNS,
                         [[k[0] for k in lasts], [k[1] for k in lasts], [s.ts for s in lasts.values()],
                          [json_text(s.data) for s in lasts.values()]])  # fmt: skip
        changed = self._apply_alert_ops(tx, out.alerts)
        if out.late:
            tx.executemany(
                schema.INSERT_LATE,
                [[le.processor, le.partition, le.poff, le.id, le.ts, le.watermark, now] for le in out.late],
            )
        if out.quarantined:
            tx.executemany(schema.INSERT_QUARANTINE, quarantine_rows(out.quarantined, now))
        if out.postings:
            ps = out.postings
            columns = [[getattr(p, name) for p in ps] for name, _ in schema.POSTING_COLUMNS[:-1]]
            self._upsert(tx, schema.INSERT_POSTINGS, schema.POSTING_COLUMNS, [*columns, [now] * len(ps)])
        if entries:
            self._write_entries(tx, processor, partition, entries)
        tx.execute(schema.UPSERT_CHECKPOINT, [processor, partition, poff, state, now])
        return changed

    def _write_entries(self, tx: TxT, processor: str, partition: int, entries: EntryChanges) -> None:
        put = [(name, key, data) for name, keyed in entries.items() for key, data in keyed.items()]
        rows = [(name, key, data) for name, key, data in put if data is not None]
        if rows:
            n = len(rows)
            self._upsert(tx, schema.UPSERT_ENTRIES, schema.ENTRY_COLUMNS,
                         [[processor] * n, [partition] * n, [r[0] for r in rows], [r[1] for r in rows],
                          [r[2] for r in rows]])  # fmt: skip
        gone = [(name, key) for name, key, data in put if data is None]
        if gone:  # one statement over the keys (DuckDB runs an executemany row by row)
            self._upsert(tx, schema.DELETE_ENTRIES, schema.ENTRY_KEY_COLUMNS,
                         [[g[0] for g in gone], [g[1] for g in gone]], [processor, partition])  # fmt: skip

    # -- alerts ----------------------------------------------------------------------------------
    @staticmethod
    def _apply_alert_ops(tx: SqlTx, ops: Sequence[AlertOp]) -> list[Alert]:
        ids: list[str] = []
        for op in ops:
            a = op.alert
            if op.op == "open":
                tx.execute(schema.INSERT_ALERT, alert_params(a))
            elif op.op == "update":
                params = [a.severity, a.title, a.message, json_text(a.data), a.last_ts, a.count, a.id]
                tx.execute(schema.UPDATE_ALERT, params)
            else:
                params = [a.resolved_by or "system", a.resolved_ts, a.resolve_note, a.last_ts, a.id]
                tx.execute(schema.RESOLVE_ALERT, params)
            ids.append(a.id)
        if not ids:
            return []
        unique = list(dict.fromkeys(ids))
        marks = ", ".join("?" * len(unique))
        rows = tx.rows(f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id IN ({marks})", unique)
        return [alert_from_row(r) for r in rows]

    def record_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        with self._transaction(f"recording {len(ops)} alert changes") as tx:
            return self._apply_alert_ops(tx, ops)

    def transition_alert(
        self, alert_id: str, action: Literal["ack", "resolve"], who: str, note: str
    ) -> Alert:
        select = f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id = ?"
        with self._transaction(f"updating alert {alert_id!r}") as tx:
            # the row lock makes two API nodes acknowledging at once see each other's change
            rows = tx.rows(select + self._ROW_LOCK, [alert_id])
            if not rows:
                raise NotFoundError(f"alert {alert_id!r} does not exist")
            current = alert_from_row(rows[0])
            if current.status == "resolved":
                raise ConflictError(f"alert {alert_id!r} is already resolved")
            if action == "ack":
                if current.status == "acknowledged":
                    raise ConflictError(f"alert {alert_id!r} is already acknowledged by {current.acked_by}")
                tx.execute(schema.ACK_ALERT, [who, now_ms(), note, alert_id])
            else:
                tx.execute(schema.RESOLVE_ALERT, [who, now_ms(), note, current.last_ts, alert_id])
            return alert_from_row(tx.rows(select, [alert_id])[0])

    def alerts(self, q: AlertQuery) -> list[Alert]:
        sql, params = schema.alerts_query(q.status, q.severity, q.scene, q.key, q.since, q.limit)
        return [alert_from_row(r) for r in self._rows(sql, params)]

    def alert(self, alert_id: str) -> Alert:
        rows = self._rows(f"SELECT {schema.ALERT_COLUMNS} FROM alerts WHERE id = ?", [alert_id])
        if not rows:
            raise NotFoundError(f"alert {alert_id!r} does not exist")
        return alert_from_row(rows[0])

    # -- the read model --------------------------------------------------------------------------
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
        return events_from_rows(self._rows(sql, params))

    def states(self, scene: str, key: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        sql = "SELECT key, ts, data FROM states WHERE scene = ?"
        params: list[Any] = [scene]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        rows = self._rows(sql + " ORDER BY key LIMIT ?", [*params, limit])
        return [{"key": k, "ts": int(t), "data": json_dict(d)} for k, t, d in rows]

    def metric_keys(self, name: str) -> list[str]:
        return [r[0] for r in self._rows(schema.METRIC_KEYS, [name])]

    def metric_series(
        self, name: str, key: str, start: int, end: int, bucket_ms: int, agg: Agg
    ) -> list[tuple[int, float]]:
        rows = self._rows(
            schema.METRIC_SERIES.format(agg=schema.AGGS[agg]), [bucket_ms, name, key, start, end]
        )
        return [(int(b), float(v)) for b, v in rows]

    def late_count(self) -> int:
        return self._count("SELECT count(*) FROM late_events")

    def quarantine(self, items: Sequence[Quarantined]) -> None:
        with self._transaction(f"quarantining {len(items)} events") as tx:
            tx.executemany(schema.INSERT_QUARANTINE, quarantine_rows(items, now_ms()))

    def quarantined(self, limit: int = 200) -> list[dict[str, Any]]:
        return [quarantine_dict(r) for r in self._rows(schema.QUARANTINE_LIST, [limit])]

    def quarantine_count(self) -> int:
        return self._count("SELECT count(*) FROM quarantine")

    # -- tokens and audit ------------------------------------------------------------------------
    def add_token(
        self, token_id: str, name: str, scopes: Sequence[str], digest: str, now: int, owner: str = ""
    ) -> None:
        with self._transaction(f"adding token {token_id!r}") as tx:
            tx.execute(schema.INSERT_TOKEN, [token_id, name, ",".join(scopes), digest, now, owner])

    def token_by_hash(self, digest: str) -> Token | None:
        rows = self._rows(schema.TOKEN_COLUMNS + " WHERE hash = ?", [digest])
        return token_from_row(rows[0]) if rows else None

    def tokens(self) -> list[Token]:
        return [token_from_row(r) for r in self._rows(schema.TOKEN_COLUMNS + " ORDER BY created_ts")]

    def revoke_token(self, token_id: str, now: int) -> None:
        with self._transaction(f"revoking token {token_id!r}") as tx:
            if not tx.execute("UPDATE tokens SET revoked_ts = ? WHERE id = ?", [now, token_id]):
                raise NotFoundError(f"token {token_id!r} does not exist")

    def audit(self, ts: int, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        with self._transaction(f"auditing {action}") as tx:
            tx.execute(schema.INSERT_AUDIT, [ts, actor, action, target, json_text(detail)])

    def audit_log(self, limit: int = 200, search: AuditSearch = EVERY_RECORD) -> list[dict[str, Any]]:
        sql, params = schema.audit_query(search, limit)
        return [audit_dict(r) for r in self._rows(sql, params)]

    # -- people --------------------------------------------------------------------------------
    def put_user(self, user_id: str, username: str, doc: str, now: int) -> None:
        with self._transaction(f"saving user {username!r}") as tx:
            tx.execute(schema.UPSERT_USER, [user_id, username, doc, now])

    def user_doc(self, user_id: str = "", username: str = "") -> str | None:
        column, value = ("id", user_id) if user_id else ("username", username)
        rows = self._rows(f"SELECT doc FROM users WHERE {column} = ?", [value])
        return str(rows[0][0]) if rows else None

    def user_docs(self) -> list[str]:
        return [str(r[0]) for r in self._rows("SELECT doc FROM users ORDER BY username")]

    def put_session(self, session_id: str, user_id: str, doc: str, last_ts: int) -> None:
        with self._transaction("saving a session") as tx:
            tx.execute(schema.UPSERT_SESSION, [session_id, user_id, doc, last_ts])

    def session_doc(self, session_id: str) -> str | None:
        rows = self._rows("SELECT doc FROM sessions WHERE id = ?", [session_id])
        return str(rows[0][0]) if rows else None

    def delete_sessions(self, *, user_id: str = "", session_id: str = "") -> int:
        column, value = ("user_id", user_id) if user_id else ("id", session_id)
        with self._transaction("ending sessions") as tx:
            n: int = tx.execute(f"DELETE FROM sessions WHERE {column} = ?", [value])
            return n

    # -- erasures ------------------------------------------------------------------------------
    def request_erasure(self, erasure: Erasure) -> None:
        e = erasure
        with self._transaction(f"recording erasure {e.id!r}") as tx:
            tx.execute(
                "INSERT INTO erasures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [e.id, e.scene, e.key, e.reason, e.requested_by, e.requested_ts, e.done_ts,
                 json_text(e.deleted)],
            )  # fmt: skip

    def erasures(self, pending: bool = False, limit: int = 200) -> list[Erasure]:
        where = " WHERE done_ts IS NULL" if pending else ""
        rows = self._rows(f"{schema.ERASURE_COLUMNS}{where} ORDER BY requested_ts DESC, id LIMIT ?", [limit])
        return [erasure_from_row(r) for r in rows]

    def erase_subject(self, erasure: Erasure, now: int) -> Erasure:
        e = erasure
        deleted = dict(e.deleted)
        with self._transaction(f"erasing {e.scene} {e.key!r}") as tx:
            for table, (_, prefixed) in schema.ERASABLE.items():
                scene = f"{e.scene}." if prefixed else e.scene
                n = tx.execute(f"DELETE FROM {table} WHERE {schema.erase_where(table)}", [scene, e.key])
                deleted[table] = deleted.get(table, 0) + n
            left = tx.rows(schema.ERASURE_LEFT, [f"{e.scene}.", e.key, e.requested_ts])[0][0]
            done = now if not left else None
            tx.execute(
                "UPDATE erasures SET done_ts = ?, deleted = ? WHERE id = ?", [done, json_text(deleted), e.id]
            )
        return Erasure(e.id, e.scene, e.key, e.reason, e.requested_by, e.requested_ts, done, deleted)

    # -- housekeeping ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version of the database (``migrations``)."""
        return self._count("SELECT max(version) FROM schema_version")

    def apply_retention(self, cutoffs: dict[str, int]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        for table, cutoff in cutoffs.items():
            with self._transaction(f"retention of {table}") as tx:
                deleted[table] = tx.execute(
                    f"DELETE FROM {table} WHERE {schema.retention_where(table)}", [cutoff]
                )
                if table == "events":
                    tx.execute(schema.PRUNE_EVENT_IDS, [cutoff, cutoff])
        self._after_retention(cutoffs)
        return deleted

    def _after_retention(self, cutoffs: dict[str, int]) -> None:
        """Hook: what a backend frees once rows are deleted (PostgreSQL drops emptied day partitions)."""

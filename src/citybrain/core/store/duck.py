"""DuckDB, the embedded default store: one process owns the file; writes are serialised by a lock.

Events go in as Arrow batches (never row by row: DuckDB's row inserts run at ~2k rows/s); a
commit returns only after DuckDB has written its WAL, so an acknowledged batch survives kill -9.
An append claims its ids in ``event_ids`` (primary key) in the same transaction as the rows, so an
id is stored once whatever its time.
The queries are ``SqlStore``'s; this module gives them connections, transactions and Arrow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from citybrain.core.errors import StoreError
from citybrain.core.events import Event, kind_of
from citybrain.core.outputs import Alert, Outputs
from citybrain.core.store import migrations, schema
from citybrain.core.store.base import AppendResult, CurrentView, EntryChanges
from citybrain.core.store.rows import JSON
from citybrain.core.store.sql import SqlStore

EVENT_SCHEMA = pa.schema(
    [
        ("partition", pa.int32()), ("poff", pa.int64()), ("id", pa.string()), ("kind", pa.string()),
        ("key", pa.string()), ("source", pa.string()), ("ts", pa.int64()), ("ingest_ts", pa.int64()),
        ("payload", pa.string()),
    ]
)  # fmt: skip
_ARROW_TYPES = {"text": pa.string(), "bigint": pa.int64(), "float8": pa.float64(), "bytea": pa.binary(),
                "boolean": pa.bool_()}  # fmt: skip


class DuckTx:
    """A transaction on this thread's cursor; DuckDB answers a change with its row count."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.cur.execute(sql, list(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        rows = self.cur.execute(sql, list(params)).fetchall()
        return int(rows[0][0]) if rows else 0

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:  # DuckDB refuses an empty parameter list; PostgreSQL runs nothing
            self.cur.executemany(sql, [list(r) for r in rows])


class DuckStore(SqlStore[DuckTx]):
    def __init__(self, path: str | Path, *, read_only: bool = False, checkpoint_mb: int = 64) -> None:
        super().__init__()
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
        if not read_only:
            with self._wlock:
                # fewer, larger checkpoints: DuckDB compresses on checkpoint, the main cost of ingest
                self._con.execute(f"SET checkpoint_threshold = '{checkpoint_mb}MB'")
                with self._transaction("creating and migrating the schema") as tx:
                    for ddl in schema.TABLES.values():
                        tx.execute(ddl)
                    migrations.migrate(tx, "duckdb")
        self._heads = self._load_heads()

    # -- the primitives --------------------------------------------------------------------------
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
        return cur

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # fetches the whole result, which DuckDB needs before the cursor's next query
        return self._cur().execute(sql, list(params)).fetchall()

    def current_table(
        self, dataset: str, columns: Sequence[str], where: tuple[str, Sequence[str]] | None = None
    ) -> pa.Table:
        """As SqlAggregation's, straight into Arrow (a million rows in well under a second)."""
        sql, params = self._current_select(CurrentView(dataset, tuple(columns), where))
        return self._cur().sql(sql + " ORDER BY key", params=params).to_arrow_table()

    def current_query(self, views: Mapping[str, CurrentView], *queries: str) -> list[pa.Table]:
        """As SqlAggregation's, in place: the views are the typed tables themselves, scanned for the
        columns the queries read (a copy into Arrow of 26 M rows would take seconds)."""
        ctes, params = [], []
        for name, view in views.items():
            sql, p = self._current_select(view)
            ctes.append(f'"{name}" AS ({sql})')
            params += p
        head = f"WITH {', '.join(ctes)} " if ctes else ""
        return [self._cur().sql(head + q, params=params).to_arrow_table() for q in queries]

    @contextmanager
    def _transaction(self, what: str) -> Iterator[DuckTx]:
        with self._wlock:
            cur = self._cur()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield DuckTx(cur)
                cur.execute("COMMIT")
            except BaseException as err:
                # whatever failed (the database, or encoding an output), the transaction must not
                # stay open: every later write on this connection would fail
                cur.execute("ROLLBACK")
                if isinstance(err, duckdb.Error):
                    raise StoreError(f"{what} failed: {err}") from err
                raise

    def _upsert(
        self,
        tx: DuckTx,
        sql: str,
        columns: schema.Columns,
        values: list[list[Any]],
        params: Sequence[Any] = (),
    ) -> list[tuple[Any, ...]]:
        table = pa.table(
            {name: pa.array(vals, _ARROW_TYPES[t]) for (name, t), vals in zip(columns, values, strict=True)}
        )
        tx.cur.register("_src", table)
        try:
            return tx.cur.execute(sql.format(src="_src"), list(params)).fetchall()
        finally:
            tx.cur.unregister("_src")

    # -- the event log ---------------------------------------------------------------------------
    def _load_heads(self) -> dict[int, int]:
        rows = self._rows(
            "SELECT partition, max(poff) FROM (SELECT partition, poff FROM events "
            "UNION ALL SELECT partition, poff FROM checkpoints) t GROUP BY partition"
        )
        return {int(p): int(o) for p, o in rows}

    def heads(self) -> dict[int, int]:
        return dict(self._heads)

    def append_events(self, events: Sequence[Event], partition_of: Callable[[str], int]) -> AppendResult:
        unique: dict[str, Event] = {}
        for ev in events:
            unique.setdefault(ev.id, ev)  # the first of a batch's repeats wins
        result = AppendResult(duplicates=len(events) - len(unique))
        if not unique:
            return result
        try:
            with self._transaction(f"appending {len(unique)} events") as tx:
                claimed = self._claim_ids(tx, list(unique.values()))
                fresh = [ev for eid, ev in unique.items() if eid in claimed]
                result.duplicates += len(unique) - len(fresh)
                if fresh:
                    result.accepted = self._insert_events(tx.cur, fresh, partition_of, result.groups)
        except BaseException:
            result.groups.clear()
            self._heads = self._load_heads()  # offsets handed out in the failed transaction
            raise
        return result

    def _insert_events(
        self,
        cur: duckdb.DuckDBPyConnection,
        fresh: list[Event],
        partition_of: Callable[[str], int],
        groups: dict[int, tuple[int, list[Event]]],
    ) -> list[tuple[int, int, Event]]:
        """Give ``fresh`` their offsets (grouped by partition into ``groups``) and insert them."""
        parts = [partition_of(ev.key) for ev in fresh]
        offs: list[int] = []
        heads = self._heads
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
                pa.array([JSON.encode(e) for e in fresh], pa.binary()).cast(pa.string()),
            ],
            schema=EVENT_SCHEMA,
        )  # fmt: skip
        cur.register("_batch", table)
        try:
            cur.execute("INSERT INTO events SELECT * FROM _batch")
        finally:
            cur.unregister("_batch")
        return list(zip(parts, offs, fresh, strict=True))

    # -- processor commits -----------------------------------------------------------------------
    def commit(
        self,
        processor: str,
        partition: int,
        poff: int,
        state: bytes,
        out: Outputs,
        entries: EntryChanges | None = None,
    ) -> list[Alert]:
        with self._transaction(f"commit of {processor}/{partition} at offset {poff}") as tx:
            return self._commit_in(tx, processor, partition, poff, state, out, entries)

    # -- housekeeping ----------------------------------------------------------------------------
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

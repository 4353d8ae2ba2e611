"""PostgreSQL, the shared store of a scaled-out city: many API nodes and workers on one database.

The queries, and the writes that are the same SQL on both backends, are ``sql.SqlStore``'s; this
module gives them connections (``pg_conn``) and keeps what PostgreSQL does differently, and why:

* ``events`` is partitioned by event time (one table per day, created on demand) with a BRIN index
  on ``ts``: retention drops old days cheaply and time-range scans touch only the days they need.
  A unique index on ``id`` cannot span time partitions, so an append claims its ids in ``event_ids``
  (one row per stored id, primary key ``id``; schema version 2) and copies only the events whose id
  it claimed: an id is stored once whatever its time, also between concurrent writers (the second
  waits for the first's transaction, then skips the id).
* The log head of each bus partition lives in ``event_heads`` (one row per partition). Appends lock
  those rows, so offsets stay contiguous even with several writer processes, and a head never moves
  back when retention deletes events.
* Batches go in with ``COPY``; outputs are upserted with ``INSERT .. ON CONFLICT`` from arrays.
* Fencing for scale-out: a worker claims a bus partition (``claim_partition``), which bumps an epoch
  in ``partition_owners``; every commit checks that epoch in its own transaction. A worker that lost
  its lease (paused, cut off) can therefore never commit over the new owner's checkpoint.
* ``commit`` retries across a lost connection (a PostgreSQL restart): a commit is idempotent (upserts
  of absolute values, checkpoint upsert), so replaying one whose outcome is unknown is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

import psycopg

from citybrain.core.clock import now_ms
from citybrain.core.errors import StoreError
from citybrain.core.events import Event, kind_of
from citybrain.core.outputs import Alert, Outputs
from citybrain.core.store import migrations, pg_export, schema
from citybrain.core.store.base import AppendResult, EntryChanges
from citybrain.core.store.pg_conn import PgConnections, PgTx, StoreUnavailableError
from citybrain.core.store.rows import json_text
from citybrain.core.store.sql import SqlStore

__all__ = ["FencedError", "PostgresStore", "StoreUnavailableError"]

log = logging.getLogger(__name__)
DAY_MS = 86_400_000

_EXTRA_DDL = (
    "CREATE TABLE IF NOT EXISTS event_heads (partition INTEGER PRIMARY KEY, poff BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sink_positions (partition INTEGER PRIMARY KEY, seq BIGINT NOT NULL, "
    "updated_ts BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS partition_owners (partition INTEGER PRIMARY KEY, epoch BIGINT NOT NULL, "
    "owner VARCHAR NOT NULL, claimed_ts BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_ts_brin ON events USING brin (ts)",
    "CREATE INDEX IF NOT EXISTS events_log ON events (partition, poff)",
    "CREATE INDEX IF NOT EXISTS events_id ON events (id)",
    "CREATE INDEX IF NOT EXISTS metrics_ts_brin ON metrics USING brin (ts)",
    "CREATE INDEX IF NOT EXISTS alerts_opened ON alerts (opened_ts)",
    # cases: the relay and KPIs read the log by time; inboxes, KPIs and overdue lists by deadline
    "CREATE INDEX IF NOT EXISTS case_log_ts ON case_log (ts)",
    "CREATE INDEX IF NOT EXISTS cases_due ON cases (due_ts)",
    "CREATE INDEX IF NOT EXISTS cases_opened ON cases (opened_ts)",
    "CREATE INDEX IF NOT EXISTS cases_open ON cases (department, state) WHERE closed_ts IS NULL",
    # the ledger: an account's postings over time (balances, reconciliation of a channel's day),
    # a session's or bill's postings (the evidence of a dispute), a period's movements (reports)
    "CREATE INDEX IF NOT EXISTS ledger_account_ts ON ledger (account, ts)",
    "CREATE INDEX IF NOT EXISTS ledger_ref ON ledger (ref)",
    "CREATE INDEX IF NOT EXISTS ledger_ts_brin ON ledger USING brin (ts)",
)
_COPY_EVENTS = "COPY events (partition, poff, id, kind, key, source, ts, ingest_ts, payload) FROM STDIN"


class FencedError(StoreError):
    """This process no longer owns the partition it tried to write (another worker took it over)."""


class PostgresStore(SqlStore[PgTx]):
    _ROW_LOCK = " FOR UPDATE"  # API nodes transitioning the same alert at once wait for each other

    def __init__(
        self,
        dsn: str,
        schema_name: str = "citybrain",
        *,
        commit_retry_s: float = 60.0,
        connect_timeout: int = 5,
        target_version: int = migrations.LATEST,
    ) -> None:
        if not schema_name.replace("_", "").isalnum():
            raise StoreError(f"postgres.schema must be letters, digits and '_', got {schema_name!r}")
        super().__init__()
        self.dsn, self.schema = dsn, schema_name
        self.commit_retry_s = commit_retry_s
        self._db = PgConnections(dsn, schema_name, connect_timeout)
        self._days: set[int] = set()  # time partitions of ``events`` known to exist
        self._fences: dict[int, int] | None = None  # partition -> epoch, once fencing is on
        self._target_version = target_version  # older only to restore a backup of an older version
        self._create_schema()

    # -- the primitives --------------------------------------------------------------------------
    def _tx(self) -> AbstractContextManager[psycopg.Cursor[Any]]:
        return self._db.tx()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.rows(sql, params)

    def _transaction(self, what: str) -> AbstractContextManager[PgTx]:
        return self._db.transaction(what)

    def _upsert(
        self, tx: PgTx, sql: str, columns: schema.Columns, values: list[list[Any]], params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        arrays = ", ".join(f"?::{t}[]" for _, t in columns)
        src = f"unnest({arrays}) AS t({', '.join(n for n, _ in columns)})"
        return tx.rows(sql.format(src=src), [*params, *values])

    _INDEXES = True  # one household's rows found by a B-tree, not a scan

    def _ddl_lock(self, tx: PgTx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"citybrain.ddl.{self.schema}"])

    def _create_schema(self) -> None:
        try:
            with self._tx() as cur:
                # DDL of concurrent starters must not race (pg_type unique violations)
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"citybrain.ddl.{self.schema}"])
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                for name, ddl in schema.TABLES.items():
                    cur.execute(ddl + (" PARTITION BY RANGE (ts)" if name == "events" else ""))
                for ddl in _EXTRA_DDL:
                    cur.execute(ddl)
                migrations.migrate(PgTx(cur), "postgres", self._target_version)
        except psycopg.Error as err:
            raise StoreError(f"cannot create the citybrain schema {self.schema!r}: {err}") from err

    # -- the event log -------------------------------------------------------------------------
    def heads(self) -> dict[int, int]:
        return {int(p): int(o) for p, o in self._rows("SELECT partition, poff FROM event_heads")}

    def append_events(self, events: Sequence[Event], partition_of: Callable[[str], int]) -> AppendResult:
        return self.append_partitioned([(partition_of(ev.key), ev) for ev in events])

    def append_partitioned(
        self, items: Sequence[tuple[int, Event]], sink: dict[int, int] | None = None
    ) -> AppendResult:
        """Append (partition, event) pairs, each stored as its own JSON; with ``sink`` ({partition:
        bus sequence}) also record how far the bus has been copied, in the same transaction (the
        raw sink's exactly-once)."""
        unique: dict[str, tuple[int, Event]] = {}
        for item in items:
            unique.setdefault(item[1].id, item)
        result = AppendResult(duplicates=len(items) - len(unique))
        if not unique and not sink:
            return result
        self._ensure_days({it[1].ts // DAY_MS for it in unique.values()})
        try:
            with self._tx() as cur:
                touched = sorted({it[0] for it in unique.values()} | set(sink or {}))
                self._check_fences(cur, touched)
                heads = self._lock_heads(cur, touched)
                claimed = self._claim_ids(PgTx(cur), [ev for _, ev in unique.values()])
                fresh = [it for eid, it in unique.items() if eid in claimed]
                result.duplicates += len(unique) - len(fresh)
                accepted: list[tuple[int, int, Event]] = []
                with cur.copy(_COPY_EVENTS) as copy:
                    for p, ev in fresh:
                        heads[p] += 1
                        accepted.append((p, heads[p], ev))
                        text = json_text(ev)
                        copy.write_row(
                            (p, heads[p], ev.id, kind_of(ev), ev.key, ev.source, ev.ts, ev.ingest_ts, text)
                        )
                if accepted:
                    cur.execute(
                        "UPDATE event_heads h SET poff = t.poff FROM unnest(%s::int[], %s::bigint[]) "
                        "AS t(partition, poff) WHERE h.partition = t.partition",
                        [list(heads), list(heads.values())],
                    )
                if sink:
                    cur.execute(
                        "INSERT INTO sink_positions SELECT p, s, %s "
                        "FROM unnest(%s::int[], %s::bigint[]) AS t(p, s) ON CONFLICT (partition) "
                        "DO UPDATE SET seq = greatest(sink_positions.seq, excluded.seq), "
                        "updated_ts = excluded.updated_ts",
                        [now_ms(), list(sink), list(sink.values())],
                    )
        except psycopg.Error as err:
            raise StoreError(f"appending {len(unique)} events failed: {err}") from err
        result.accepted = accepted
        return result

    @staticmethod
    def _lock_heads(cur: psycopg.Cursor[Any], parts: list[int]) -> dict[int, int]:
        """Lock the log heads of ``parts`` (in partition order: no deadlock between writers)."""
        cur.execute(
            "INSERT INTO event_heads SELECT p, 0 FROM unnest(%s::int[]) AS t(p) ON CONFLICT DO NOTHING",
            [parts],
        )
        cur.execute(
            "SELECT partition, poff FROM event_heads WHERE partition = ANY(%s) ORDER BY partition FOR UPDATE",
            [parts],
        )
        return {int(p): int(o) for p, o in cur.fetchall()}

    def _ensure_days(self, days: set[int]) -> None:
        """Create missing day partitions in their own short transaction, before the data transaction:
        creating one locks the parent table, which must not happen while holding the head locks."""
        missing = sorted(days - self._days)
        if not missing:
            return
        try:
            with self._tx() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"citybrain.ddl.{self.schema}"])
                for day in missing:
                    name = f"events_d{day}" if day >= 0 else f"events_dm{-day}"
                    cur.execute(
                        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "
                        f"FOR VALUES FROM ({day * DAY_MS}) TO ({(day + 1) * DAY_MS})"
                    )
        except psycopg.Error as err:
            raise StoreError(f"creating event partitions for days {missing} failed: {err}") from err
        self._days.update(missing)

    def _after_retention(self, cutoffs: dict[str, int]) -> None:
        """Day partitions wholly before the events cutoff and emptied by retention go away with their
        files."""
        if "events" not in cutoffs:
            return
        rows = self._rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE p.relname = 'events' AND n.nspname = current_schema()"
        )
        for (name,) in rows:
            day = int(name.removeprefix("events_d").replace("m", "-"))
            if (day + 1) * DAY_MS <= cutoffs["events"] and not self._rows(f"SELECT 1 FROM {name} LIMIT 1"):
                with self._transaction(f"dropping {name}") as tx:
                    tx.execute(f"DROP TABLE IF EXISTS {name}")
                self._days.discard(day)

    def sink_positions(self) -> dict[int, int]:
        """How far the raw sink has copied each bus partition (the bus's own sequence numbers)."""
        return {int(p): int(s) for p, s in self._rows("SELECT partition, seq FROM sink_positions")}

    # -- fencing ---------------------------------------------------------------------------------
    def enable_fencing(self) -> None:
        """From now on, commit and append only to partitions this process has claimed."""
        if self._fences is None:
            self._fences = {}

    def owns(self, partition: int) -> bool:
        return self._fences is None or partition in self._fences

    def claim_partition(self, partition: int, owner: str) -> int:
        """Take over a partition: bump its epoch. Waits for the previous owner's open transaction, so
        a checkpoint read after this returns sees everything the previous owner committed."""
        self.enable_fencing()
        assert self._fences is not None
        row = self._rows(
            "INSERT INTO partition_owners VALUES (?, 1, ?, ?) ON CONFLICT (partition) DO UPDATE SET "
            "epoch = partition_owners.epoch + 1, owner = excluded.owner, claimed_ts = excluded.claimed_ts "
            "RETURNING epoch",
            [partition, owner, now_ms()],
        )
        epoch = int(row[0][0])
        self._fences[partition] = epoch
        return epoch

    def release_partition(self, partition: int) -> None:
        if self._fences is not None:
            self._fences.pop(partition, None)

    def _check_fences(self, cur: psycopg.Cursor[Any], parts: list[int]) -> None:
        fences = self._fences
        if fences is None:
            return
        mine = {p: fences.get(p) for p in parts}
        cur.execute(
            "SELECT partition, epoch FROM partition_owners WHERE partition = ANY(%s) "
            "ORDER BY partition FOR SHARE",
            [parts],
        )
        current = {int(p): int(e) for p, e in cur.fetchall()}
        lost = [p for p in parts if mine[p] is None or current.get(p) != mine[p]]
        if lost:
            for p in lost:
                fences.pop(p, None)
            raise FencedError(f"partitions {lost} are owned by another worker now")

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
        if not self.owns(partition):
            # Not ours (a scale-out worker runs tasks for every partition but owns a few): the
            # owner commits this partition. The pipeline reloads the task when it gains ownership.
            return []
        deadline = time.monotonic() + self.commit_retry_s
        delay = 0.2
        while True:
            try:
                with self._tx() as cur:
                    self._check_fences(cur, [partition])
                    return self._commit_in(PgTx(cur), processor, partition, poff, state, out, entries)
            except (psycopg.OperationalError, StoreUnavailableError) as err:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"commit of {processor}/{partition} at offset {poff} failed: {err}"
                    ) from err
                log.warning(
                    "commit of %s/%s: PostgreSQL unavailable (%s); retrying", processor, partition, err
                )
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except psycopg.Error as err:
                raise StoreError(f"commit of {processor}/{partition} at offset {poff} failed: {err}") from err

    # -- cluster views -------------------------------------------------------------------------
    def cluster_lag(self) -> dict[str, int]:
        """Events not yet processed per processor, over every partition and worker."""
        rows = self._rows(
            "SELECT c.processor, sum(greatest(h.poff - c.poff, 0)) FROM checkpoints c "
            "JOIN event_heads h ON h.partition = c.partition GROUP BY c.processor"
        )
        return {str(p): int(n) for p, n in rows}

    def close(self) -> None:
        self._db.close()

    def export(
        self, table: str, fmt: Literal["parquet", "csv"], path: str, since: int | None, until: int | None
    ) -> int:
        return pg_export.export(self._db, table, fmt, path, since, until)

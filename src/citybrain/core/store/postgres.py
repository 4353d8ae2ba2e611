"""PostgreSQL, the shared store of a scaled-out city: many API nodes and workers on one database.

What differs from the DuckDB store, and why:

* ``events`` is partitioned by event time (one table per day, created on demand) with a BRIN index
  on ``ts``: retention drops old days cheaply and time-range scans touch only the days they need.
  A unique index on ``id`` cannot span time partitions, so the id-dedupe on append looks the ids up
  in the batch's time range (as DuckDB does), under a row lock on the partitions' log heads.
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
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import msgspec
import psycopg

from citybrain.core.errors import StoreError
from citybrain.core.events import Event, kind_of
from citybrain.core.outputs import Alert, Outputs
from citybrain.core.store import schema
from citybrain.core.store.base import READ_LOG, AppendResult, decode_log_rows, events_from_rows
from citybrain.core.store.pg_queries import PgQueries, pg

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
_JSON = msgspec.json.Encoder()

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
)
_COPY_EVENTS = "COPY events (partition, poff, id, kind, key, source, ts, ingest_ts, payload) FROM STDIN"


_Item = tuple[int, Event]


class StoreUnavailableError(StoreError):
    """PostgreSQL does not answer (down, restarting, unreachable)."""


class FencedError(StoreError):
    """This process no longer owns the partition it tried to write (another worker took it over)."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class PostgresStore(PgQueries):
    def __init__(
        self,
        dsn: str,
        schema_name: str = "citybrain",
        *,
        commit_retry_s: float = 60.0,
        connect_timeout: int = 5,
    ) -> None:
        if not schema_name.replace("_", "").isalnum():
            raise StoreError(f"postgres.schema must be letters, digits and '_', got {schema_name!r}")
        self.dsn, self.schema = dsn, schema_name
        self.commit_retry_s = commit_retry_s
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._all: set[psycopg.Connection[Any]] = set()
        self._all_lock = threading.Lock()
        self._days: set[int] = set()  # time partitions of ``events`` known to exist
        self._fences: dict[int, int] | None = None  # partition -> epoch, once fencing is on
        self._bad_rows: set[tuple[int, int]] = set()  # log rows already quarantined as unreadable
        self._create_schema()

    # -- connections ---------------------------------------------------------------------------
    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(
                    self.dsn,
                    autocommit=True,
                    connect_timeout=self._connect_timeout,
                    options=f"-c search_path={self.schema}",
                    application_name=f"citybrain:{self.schema}",  # lets operators (and tests) find them
                )
            except psycopg.OperationalError as err:
                reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
                raise StoreUnavailableError(f"cannot connect to PostgreSQL: {reason}") from err
            self._local.conn = conn
            with self._all_lock:
                self._all.add(conn)
        return conn

    def _drop_conn(self) -> None:
        """Forget this thread's connection (after it broke); the next call reconnects."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._all_lock:
                self._all.discard(conn)
            conn.close()

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        conn = self._conn()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.OperationalError:
            self._drop_conn()
            raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read, retried once on a fresh connection when the old one broke (server restart)."""
        for attempt in (0, 1):
            try:
                with self._conn().cursor() as cur:
                    cur.execute(pg(sql), list(params))
                    return cur.fetchall() if cur.description else []
            except psycopg.OperationalError as err:
                self._drop_conn()
                if attempt:
                    raise StoreError(f"PostgreSQL query failed: {err}") from err
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL query failed: {err}") from err
        raise AssertionError("unreachable")

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            with self._tx() as cur:
                cur.execute(pg(sql), list(params))
                return cur.rowcount
        except psycopg.Error as err:
            raise StoreError(f"PostgreSQL write failed: {err}") from err

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
                fresh = self._unseen(cur, list(unique.values()))
                result.duplicates += len(unique) - len(fresh)
                accepted: list[tuple[int, int, Event]] = []
                with cur.copy(_COPY_EVENTS) as copy:
                    for p, ev in fresh:
                        heads[p] += 1
                        accepted.append((p, heads[p], ev))
                        text = _JSON.encode(ev).decode()
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

    @staticmethod
    def _unseen(cur: psycopg.Cursor[Any], items: list[_Item]) -> list[_Item]:
        if not items:
            return []
        lo = min(it[1].ts for it in items)
        hi = max(it[1].ts for it in items)
        cur.execute(
            "SELECT id FROM events WHERE ts BETWEEN %s AND %s AND id = ANY(%s)",
            [lo, hi, [it[1].id for it in items]],
        )
        seen = {r[0] for r in cur.fetchall()}
        return [it for it in items if it[1].id not in seen]

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

    def _forget_day(self, day: int) -> None:
        self._days.discard(day)

    def read_events(self, partition: int, after: int, limit: int) -> list[tuple[int, Event]]:
        rows = self._rows(READ_LOG, [partition, after, limit])
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
        return events_from_rows(self._rows(sql, params))

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

    # -- processor checkpoints and outputs -----------------------------------------------------
    def load_checkpoint(self, processor: str, partition: int) -> tuple[int, bytes] | None:
        rows = self._rows(
            "SELECT poff, state FROM checkpoints WHERE processor = ? AND partition = ?",
            [processor, partition],
        )
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def commit(self, processor: str, partition: int, poff: int, state: bytes, out: Outputs) -> list[Alert]:
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
                    changed = self._write_outputs(cur, out)
                    cur.execute(pg(schema.UPSERT_CHECKPOINT), [processor, partition, poff, state, now_ms()])
                return changed
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

    def _write_outputs(self, cur: psycopg.Cursor[Any], out: Outputs) -> list[Alert]:
        if out.metrics:
            last = {(m.name, m.key, m.ts): m.value for m in out.metrics}  # one row per key per statement
            src = "unnest(%s::text[], %s::text[], %s::bigint[], %s::float8[]) AS t(name, key, ts, value)"
            cur.execute(
                schema.UPSERT_METRICS.format(src=src),
                [[k[0] for k in last], [k[1] for k in last], [k[2] for k in last], list(last.values())],
            )
        if out.states:
            lasts = {(s.scene, s.key): s for s in out.states}
            src = "unnest(%s::text[], %s::text[], %s::bigint[], %s::text[]) AS t(scene, key, ts, data)"
            cur.execute(
                schema.UPSERT_STATES.format(src=src),
                [[k[0] for k in lasts], [k[1] for k in lasts], [s.ts for s in lasts.values()],
                 [_JSON.encode(s.data).decode() for s in lasts.values()]],
            )  # fmt: skip
        changed = self._apply_alert_ops(cur, out)
        now = now_ms()
        if out.late:
            cur.executemany(
                pg(schema.INSERT_LATE),
                [[le.processor, le.partition, le.poff, le.id, le.ts, le.watermark, now] for le in out.late],
            )
        if out.quarantined:
            cur.executemany(pg(schema.INSERT_QUARANTINE), schema.quarantine_rows(out.quarantined, now))
        return changed

    # -- cluster views -------------------------------------------------------------------------
    def cluster_lag(self) -> dict[str, int]:
        """Events not yet processed per processor, over every partition and worker."""
        rows = self._rows(
            "SELECT c.processor, sum(greatest(h.poff - c.poff, 0)) FROM checkpoints c "
            "JOIN event_heads h ON h.partition = c.partition GROUP BY c.processor"
        )
        return {str(p): int(n) for p, n in rows}

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            conn.close()

    def export(
        self, table: str, fmt: Literal["parquet", "csv"], path: str, since: int | None, until: int | None
    ) -> int:
        return self._export(table, fmt, path, since, until)

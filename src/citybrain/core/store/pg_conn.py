"""PostgreSQL connections: one per thread, reads retried across a server restart, portable SQL.

The shared SQL (``sql.SqlStore``) is written with ``?`` placeholders; :func:`pg` rewrites it for
psycopg, and :class:`PgTx` is the ``SqlTx`` of a PostgreSQL transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from citybrain.core.errors import StoreError


class StoreUnavailableError(StoreError):
    """PostgreSQL does not answer (down, restarting, unreachable)."""


def pg(sql: str) -> str:
    """Portable SQL -> psycopg: escape ``%`` (the modulo in bucketing), then ``?`` -> ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgTx:
    """An open transaction's cursor, taking portable SQL."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(pg(sql), list(params))
        return self.cur.fetchall() if self.cur.description else []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cur.execute(pg(sql), list(params))
        return self.cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(pg(sql), rows)


class PgConnections:
    """A connection per thread (psycopg connections are not shared between threads), in autocommit
    outside explicit transactions; every one is closed by :meth:`close`."""

    def __init__(self, dsn: str, schema_name: str, connect_timeout: int) -> None:
        self.dsn, self.schema = dsn, schema_name
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._all: set[psycopg.Connection[Any]] = set()
        self._all_lock = threading.Lock()

    def conn(self) -> psycopg.Connection[Any]:
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

    def drop(self) -> None:
        """Forget this thread's connection (after it broke); the next call reconnects."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._all_lock:
                self._all.discard(conn)
            conn.close()

    @contextmanager
    def tx(self) -> Iterator[psycopg.Cursor[Any]]:
        """A raw transaction; a broken connection is dropped, and the error raised as it is."""
        conn = self.conn()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.OperationalError:
            self.drop()
            raise

    @contextmanager
    def transaction(self, what: str) -> Iterator[PgTx]:
        """The shared SQL's transaction: database errors become ``StoreError`` naming ``what``."""
        try:
            with self.tx() as cur:
                yield PgTx(cur)
        except psycopg.Error as err:
            raise StoreError(f"{what} failed: {err}") from err

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read, retried once on a fresh connection when the old one broke (server restart)."""
        for attempt in (0, 1):
            try:
                with self.conn().cursor() as cur:
                    cur.execute(pg(sql), list(params))
                    return cur.fetchall() if cur.description else []
            except psycopg.OperationalError as err:
                self.drop()
                if attempt:
                    raise StoreError(f"PostgreSQL query failed: {err}") from err
            except psycopg.Error as err:
                raise StoreError(f"PostgreSQL query failed: {err}") from err
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            conn.close()

"""Schema versions of both stores, and the ordered migrations between them, applied at start.

Version 1 is the schema citybrain had before versions were recorded: the tables of
``schema.TABLES`` (plus, on PostgreSQL, its ``_EXTRA_DDL``); a database without a ``schema_version``
table is at version 1. Each later version is a :class:`Migration`, run in one transaction with the
row that records it, so a database is always at exactly one version. A new *table* may still be
added to ``schema.TABLES`` (``CREATE .. IF NOT EXISTS``); any change to an existing table, or data
to move, is a migration here.

Frozen DDL snapshots of every released version are in ``tests/data/schemas/``; the migration
tests build a database from each and upgrade it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from citybrain.core.clock import now_ms
from citybrain.core.errors import StoreError
from citybrain.core.store.sql import SqlTx

Backend = Literal["duckdb", "postgres"]
BASE_VERSION = 1


@dataclass(frozen=True)
class Migration:
    version: int
    title: str
    statements: tuple[str, ...]  # portable SQL, run in order
    postgres: tuple[str, ...] = ()  # then these, on PostgreSQL only


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "event ids unique whatever their time: event_ids holds every stored id once",
        (
            "CREATE TABLE IF NOT EXISTS event_ids (id VARCHAR PRIMARY KEY, ts BIGINT NOT NULL)",
            # rows stored twice under version 1 stay in events; their id is claimed once here
            "INSERT INTO event_ids SELECT id, min(ts) FROM events GROUP BY id ON CONFLICT DO NOTHING",
        ),
    ),
    Migration(
        3,
        "tokens have an owner: the person (user:<id>) or token (token:<id>) that made them",
        ("ALTER TABLE tokens ADD COLUMN owner VARCHAR DEFAULT ''",),
    ),
)
LATEST = MIGRATIONS[-1].version

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, title VARCHAR NOT NULL, "
    "applied_ts BIGINT NOT NULL)"
)


def current_version(tx: SqlTx) -> int:
    """The version of the database ``tx`` is in (its ``schema_version`` table must exist)."""
    rows = tx.rows("SELECT max(version) FROM schema_version")
    return int(rows[0][0]) if rows and rows[0][0] is not None else BASE_VERSION


def migrate(tx: SqlTx, backend: Backend, target: int = LATEST) -> list[int]:
    """Bring the database up to ``target`` inside ``tx`` (its base tables exist); returns the
    versions applied. A database newer than this code is refused rather than touched."""
    tx.execute(VERSION_TABLE)
    current = current_version(tx)
    if current > LATEST:
        raise StoreError(
            f"the database is at schema version {current}, newer than this citybrain knows ({LATEST}): "
            "run the citybrain release that wrote it, or a newer one"
        )
    if not tx.rows("SELECT 1 FROM schema_version WHERE version = ?", [BASE_VERSION]):
        tx.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [BASE_VERSION, "base tables", now_ms()])
    applied: list[int] = []
    for m in MIGRATIONS:
        if current < m.version <= target:
            for sql in m.statements + (m.postgres if backend == "postgres" else ()):
                tx.execute(sql)
            tx.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [m.version, m.title, now_ms()])
            applied.append(m.version)
    return applied

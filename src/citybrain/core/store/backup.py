"""Backup and restore of the whole store: every table, into a directory, and back into an empty one.

* DuckDB: ``EXPORT DATABASE`` (schema + one Parquet file per table) of the data folder's file,
  opened read-only, so the server must be stopped (DuckDB allows one writing process); restore is
  ``IMPORT DATABASE`` into a new file, then the usual start (migrations to the current version).
* PostgreSQL: ``COPY .. TO STDOUT (FORMAT binary)`` of every table of the schema, all in one
  ``REPEATABLE READ`` transaction (a consistent snapshot while the platform runs); restore creates
  the schema at the backup's version, copies every table back in one transaction, then migrates.

Each backup has a ``manifest.json``: the backend, the schema version and the row count per table;
restore refuses a store that already holds rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citybrain.core.clock import now_ms
from citybrain.core.config import Settings
from citybrain.core.errors import StoreError

MANIFEST = "manifest.json"
DUCK_FILE = "citybrain.duckdb"


def _sql_text(value: Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def backup(settings: Settings, out: Path) -> dict[str, Any]:
    """Write a backup of the configured store to ``out`` (new or empty); returns its manifest."""
    if out.exists() and any(out.iterdir()):
        raise StoreError(f"{out} is not empty: a backup goes into a new directory")
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"backend": settings.store, "created_ts": now_ms()}
    if settings.store == "postgres":
        tables, version, days = _backup_postgres(settings, out)
        manifest["event_days"] = days  # the day partitions of events, made before the copy back
    else:
        tables, version = _backup_duckdb(settings.data_path / DUCK_FILE, out)
    manifest.update(schema_version=version, tables=tables)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise StoreError(f"{src} is not a citybrain backup: {err}") from err
    return manifest


def restore(settings: Settings, src: Path) -> dict[str, Any]:
    """Restore the backup in ``src`` into the configured store, which must be empty; returns the
    backup's manifest. The store is then migrated to the current schema version."""
    manifest = read_manifest(src)
    if manifest["backend"] != settings.store:
        raise StoreError(
            f"{src} is a {manifest['backend']} backup; this platform's store is {settings.store}"
        )
    if settings.store == "postgres":
        _restore_postgres(settings, src, manifest)
    else:
        _restore_duckdb(settings.data_path / DUCK_FILE, src)
    return manifest


# -- DuckDB ----------------------------------------------------------------------------------------
def _backup_duckdb(path: Path, out: Path) -> tuple[dict[str, int], int]:
    import duckdb

    if not path.exists():
        raise StoreError(f"there is no store at {path}")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as err:
        raise StoreError(f"cannot open {path}: {str(err).splitlines()[0]} (stop the server first)") from err
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        tables = {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names}
        version = _duck_version(con, names)
        con.execute(f"EXPORT DATABASE {_sql_text(out)} (FORMAT parquet)")
    finally:
        con.close()
    return tables, version


def _duck_version(con: Any, names: list[str]) -> int:
    if "schema_version" not in names:
        return 1
    return int(con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0])


def _restore_duckdb(path: Path, src: Path) -> None:
    import duckdb

    from citybrain.core.store.duck import DuckStore

    if path.exists():
        raise StoreError(f"{path} exists: restore into a new data folder (or move the old file away)")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"IMPORT DATABASE {_sql_text(src)}")
    except duckdb.Error as err:
        con.close()
        path.unlink(missing_ok=True)
        raise StoreError(f"restoring {src} failed: {err}") from err
    con.close()
    DuckStore(path).close()  # migrates to the current version


# -- PostgreSQL ------------------------------------------------------------------------------------
_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
)
_DAYS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
    "WHERE p.relname = 'events' AND n.nspname = current_schema()"
)


def _day_of(partition_name: str) -> int:
    return int(partition_name.removeprefix("events_d").replace("m", "-"))


def _backup_postgres(settings: Settings, out: Path) -> tuple[dict[str, int], int, list[int]]:
    import psycopg

    from citybrain.core.store.postgres import PostgresStore

    store = PostgresStore(settings.postgres.dsn, settings.postgres.schema)
    tables: dict[str, int] = {}
    try:
        with store._tx() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(_TABLES)
            for (name,) in cur.fetchall():
                copy_out = f'COPY (SELECT * FROM "{name}") TO STDOUT (FORMAT binary)'
                with (out / f"{name}.pgcopy").open("wb") as f, cur.copy(copy_out) as copy:
                    for data in copy:
                        f.write(bytes(data))
                tables[name] = max(cur.rowcount, 0)
            cur.execute("SELECT max(version) FROM schema_version")
            version = int(cur.fetchall()[0][0])
            cur.execute(_DAYS)
            days = sorted(_day_of(r[0]) for r in cur.fetchall())
    except psycopg.Error as err:
        raise StoreError(f"backup of PostgreSQL schema {settings.postgres.schema!r} failed: {err}") from err
    finally:
        store.close()
    return tables, version, days


def _restore_postgres(settings: Settings, src: Path, manifest: dict[str, Any]) -> None:
    import psycopg

    from citybrain.core.store.postgres import PostgresStore

    dsn, schema_name = settings.postgres.dsn, settings.postgres.schema
    store = PostgresStore(dsn, schema_name, target_version=int(manifest["schema_version"]))
    try:
        present = {r[0] for r in store._rows(_TABLES)}
        missing = sorted(set(manifest["tables"]) - present)
        if missing:
            raise StoreError(f"the backup has tables this citybrain does not create: {missing}")
        # schema_version is the new schema's own, made at the backup's version: it is not copied
        data = [t for t in manifest["tables"] if t != "schema_version"]
        full = [t for t in data if store._count(f'SELECT count(*) FROM "{t}"')]
        if full:
            raise StoreError(
                f"schema {schema_name!r} already holds rows in {full}: restore into an empty one"
            )
        store._ensure_days(set(manifest.get("event_days", [])))
        with store._tx() as cur:
            for name in data:
                copy_in = f'COPY "{name}" FROM STDIN (FORMAT binary)'
                with (src / f"{name}.pgcopy").open("rb") as f, cur.copy(copy_in) as copy:
                    while chunk := f.read(1 << 20):
                        copy.write(chunk)
    except psycopg.Error as err:
        raise StoreError(f"restoring {src} into schema {schema_name!r} failed: {err}") from err
    finally:
        store.close()
    PostgresStore(dsn, schema_name).close()  # migrates to the current version

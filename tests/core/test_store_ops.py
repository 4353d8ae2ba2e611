"""Operations on both stores (issue 13 item 7): migrations from the previous schema (built from its
frozen DDL in tests/data/schemas/), and backup -> restore into a fresh instance -> compare."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.core.config import PostgresSettings, Settings
from citybrain.core.outputs import Alert, AlertOp, LateEvent, MetricPoint, Outputs, Quarantined, StateUpdate
from citybrain.core.store import migrations
from citybrain.core.store.base import Store
from citybrain.core.store.duck import DuckStore
from citybrain.core.store.postgres import PostgresStore
from citybrain.core.store.sql import SqlStore
from citybrain.scenes.pulse.events import PulseReport
from tests.core.test_store import BACKENDS, PG_DSN, TS, _postgres_up, close_backend, part

SCHEMAS = Path(__file__).parent.parent / "data" / "schemas"
DAY = 86_400_000


def _v1_statements(backend: str) -> list[str]:
    text = (SCHEMAS / f"v1_{backend}.sql").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def _v1_rows() -> list[tuple[str, list[Any]]]:
    """Rows written as version 1 wrote them, with one id stored twice at two times (the defect)."""
    payload = '{{"kind":"pulse.report","key":"d0","ts":{ts},"source":"","category":"x","count":1}}'
    return [
        ("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
         [0, 1, "dup", "pulse.report", "d0", "", TS, TS, payload.format(ts=TS)]),
        ("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
         [0, 2, "dup", "pulse.report", "d0", "", TS + DAY, TS, payload.format(ts=TS + DAY)]),
        ("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
         [0, 3, "one", "pulse.report", "d0", "", TS, TS, payload.format(ts=TS)]),
        ("INSERT INTO states VALUES (?, ?, ?, ?)", ["pulse", "d0", TS, '{"n":2}']),
        ("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)", ["t1", "ops", "admin", "h1", TS]),
        ("INSERT INTO audit VALUES (?, ?, ?, ?, ?)", [TS, "cli", "token.create", "t1", "{}"]),
        ("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?)", ["p", 0, 3, b"\x00state", TS]),
    ]  # fmt: skip


def _build_v1(backend: str, tmp: Path) -> tuple[Any, str]:
    """A database with the version-1 schema and rows; returns what opens it as a store."""
    if backend == "duckdb":
        path = tmp / "v1.duckdb"
        con = duckdb.connect(str(path))
        for sql in _v1_statements("duckdb"):
            con.execute(sql)
        for sql, params in _v1_rows():
            con.execute(sql, params)
        con.close()
        return path, "duckdb"
    _postgres_up()
    schema_name = f"v1_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema_name}"')
        conn.execute(f'SET search_path = "{schema_name}"')
        for sql in _v1_statements("postgres"):
            conn.execute(sql)
        conn.execute(f"CREATE TABLE events_d{TS // DAY} PARTITION OF events "
                     f"FOR VALUES FROM ({TS // DAY * DAY}) TO ({(TS // DAY + 2) * DAY})")  # fmt: skip
        conn.execute("INSERT INTO event_heads VALUES (0, 3)")
        for sql, params in _v1_rows():
            conn.execute(sql.replace("?", "%s"), params)
    return PG_DSN, schema_name


def _open(backend: str, where: Any, schema_name: str) -> SqlStore[Any]:
    return DuckStore(where) if backend == "duckdb" else PostgresStore(where, schema_name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_from_version_1_keeps_the_data_and_makes_ids_unique(backend: str, tmp_path: Path) -> None:
    where, schema_name = _build_v1(backend, tmp_path)
    store = _open(backend, where, schema_name)
    try:
        assert store.schema_version() == migrations.LATEST == 3
        assert [r[0] for r in store._rows("SELECT version FROM schema_version ORDER BY 1")] == [1, 2, 3]
        # the data survived: events (both rows stored twice under version 1 stay), states, tokens,
        # audit, checkpoints
        assert store.count_events() == 3
        assert store.states("pulse") == [{"key": "d0", "ts": TS, "data": {"n": 2}}]
        assert [(t.id, t.owner) for t in store.tokens()] == [("t1", "")]  # owners came in version 3
        assert [a["action"] for a in store.audit_log()] == ["token.create"]
        assert store.load_checkpoint("p", 0) == (3, b"\x00state")
        assert store.heads()[0] == 3
        assert sorted(store._rows("SELECT id, ts FROM event_ids")) == [("dup", TS), ("one", TS)]
        # and the dedupe holds after: old ids at new times, a new id twice
        again = [PulseReport(key="d0", ts=TS + 5 * DAY, category="y", id=i) for i in ("dup", "one", "new")]
        res = store.append_events([*again, again[2]], part)
        assert [e.id for _, _, e in res.accepted] == ["new"] and res.duplicates == 3
        assert store.count_events() == 4 and store.heads()[part("d0")] >= 1
    finally:
        store.close()
    store = _open(backend, where, schema_name)  # a second start applies nothing
    try:
        assert store.schema_version() == 3 and store.count_events() == 4
    finally:
        close_backend(store) if backend == "postgres" else store.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    store = DuckStore(tmp_path / "n.duckdb")
    with store._transaction("from the future") as tx:
        tx.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [migrations.LATEST + 1, "future", TS])
    store.close()
    with pytest.raises(Exception, match="newer than this citybrain"):
        DuckStore(tmp_path / "n.duckdb")


# -- backup and restore ----------------------------------------------------------------------------
def _settings(backend: str, data: Path, schema_name: str) -> Settings:
    return Settings(
        data_dir=str(data), store=backend, postgres=PostgresSettings(dsn=PG_DSN, schema=schema_name)
    )


def _fill(store: Store) -> None:
    events = [PulseReport(key=f"d{i % 3}", ts=TS + i * DAY // 3, category="x", id=f"b{i}") for i in range(12)]
    store.append_events(events, part)
    alert = Alert(id="a1", rule="r", scene="pulse", key="d0", dedupe_key="r:d0", severity="warning",
                  status="open", title="t", message="m", data={"v": 1}, opened_ts=TS, last_ts=TS,
                  count=1)  # fmt: skip
    out = Outputs(
        metrics=[MetricPoint("m", "d0", TS, 1.5)],
        states=[StateUpdate("pulse", "d0", TS, {"n": 12, "zh": "南昌"})],
        alerts=[AlertOp("open", alert)],
        late=[LateEvent("proc", 0, 1, "b0", TS, TS + 1)],
        quarantined=[Quarantined("process", "proc", 0, 2, "b1", "pulse.report", "d1", "", TS, "why", "{}")],
    )
    store.commit("proc", 0, 2, b"\x01\x02state", out)
    store.transition_alert("a1", "ack", "ops", "seen")
    store.add_token("t1", "integration", ["read", "ingest"], "digest1", TS)
    store.revoke_token("t1", TS + 5)
    store.audit(TS, "cli", "token.create", "t1", {"scopes": ["read"]})


def _dump(store: SqlStore[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a fixed order."""
    if isinstance(store, DuckStore):
        names = [r[0] for r in store._rows("SELECT table_name FROM duckdb_tables() ORDER BY 1")]
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        names = [r[0] for r in store._rows(sql) if not r[0].startswith("events_d")]
    out: dict[str, list[tuple[Any, ...]]] = {}
    for n in names:
        rows = store._rows(f'SELECT * FROM "{n}"')
        out[n] = sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows)
        if n == "schema_version":
            out[n] = [r[:2] for r in out[n]]  # applied_ts: when this instance applied it
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_backup_restore_into_a_fresh_instance_compares_equal(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        _postgres_up()
    names = [f"bk_{uuid.uuid4().hex[:10]}", f"rs_{uuid.uuid4().hex[:10]}"]
    first, second = (_settings(backend, tmp_path / d, n) for d, n in zip(("a", "b"), names, strict=True))
    first.data_path.mkdir()
    source = _open(
        backend, PG_DSN if backend == "postgres" else first.data_path / "citybrain.duckdb", names[0]
    )
    restored: SqlStore[Any] | None = None
    try:
        _fill(source)
        before = _dump(source)
        if backend == "duckdb":
            source.close()  # DuckDB: the server is stopped for a backup
        runner = CliRunner()
        cfg = tmp_path / "a.toml"
        cfg.write_text(f'data_dir = "{first.data_dir}"\nstore = "{backend}"\n'
                       f'[postgres]\ndsn = "{PG_DSN}"\nschema = "{names[0]}"\n')  # fmt: skip
        done = runner.invoke(app, ["backup", str(tmp_path / "bk"), "--config", str(cfg)])
        assert done.exit_code == 0, done.output
        assert f"schema version {migrations.LATEST}" in done.output
        from citybrain.core.store import backup as ops

        ops.restore(second, tmp_path / "bk")
        with pytest.raises(Exception, match=r"empty|exists"):
            ops.restore(second, tmp_path / "bk")  # never over a store that holds data
        restored = (
            DuckStore(second.data_path / "citybrain.duckdb")
            if backend == "duckdb"
            else PostgresStore(PG_DSN, names[1])
        )
        after = _dump(restored)
        assert set(after) == set(before) and after == before
        assert sum(len(v) for v in after.values()) > 20 and len(after["events"]) == 12
        # the restored store works on: ids still unique, offsets continue
        res = restored.append_events([PulseReport(key="d0", ts=TS + 9 * DAY, category="z", id="b0"),
                                      PulseReport(key="d0", ts=TS, category="z", id="c0")], part)  # fmt: skip
        assert [e.id for _, _, e in res.accepted] == ["c0"] and res.duplicates == 1
        assert res.accepted[0][1] == source.heads()[part("d0")] + 1 if backend == "postgres" else True
    finally:
        if restored is not None:
            close_backend(restored) if backend == "postgres" else restored.close()
        if backend == "postgres":
            close_backend(source)

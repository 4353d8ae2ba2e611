"""The departments' side of the welfare demo (issue 15 item 7) against the platform's real parts:
files written into drop folders (GBK and UTF-8 CSV, .xlsx, Parquet) are read back by the
platform's readers and taken whole by an Aggregator on a DuckDB store with no refused row, NDJSON
pushes the same, and the departmental tables loaded into real MariaDB and PostgreSQL servers are
pulled through ``Aggregator.pull`` with the declared pull datasets, row for row.

The database tests need the machine's servers; when one does not answer (and cannot be started)
they are skipped with the reason."""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.aggregation.readers import detect_encoding, read_file, read_json_body
from citybrain.core.aggregation.rows import check_row
from citybrain.core.aggregation.runner import Aggregator
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.scenes.welfare import departments
from citybrain.scenes.welfare.departments import (
    SERVER,
    UPDATED,
    load_mariadb,
    load_postgres,
    ndjson_chunks,
    on_server,
    pull_datasets,
    write_files,
)
from citybrain.scenes.welfare.population import Population, default_datasets
from citybrain.testing import server_ports_env, with_database

AS_OF = date(2026, 11, 30)
DATASETS = default_datasets()
FILES = {n: d for n, d in DATASETS.items() if d.origin == "file"}
PUSHES = {n: d for n, d in DATASETS.items() if d.origin == "push"}


@pytest.fixture
def pop() -> Population:
    p = Population(300, seed=15, as_of=AS_OF)
    p.flood(p.pick_village(households=1), households=1)  # the disasters dataset is empty otherwise
    return p


def typed(p: Population, name: str) -> list[dict[str, Any]]:
    """The generated rows as the row checker types them (dates as ISO text)."""
    ds = DATASETS[name]
    out = []
    for batch in p.rows(name):
        for row in batch.to_pylist():
            values, problems = check_row(ds, 0, {c.header: row[c.name] for c in ds.columns})
            assert not problems and values is not None
            out.append(values)
    return out


def aged(path: Path) -> None:
    """A file last written a minute ago: a drop folder reads only files that have settled."""
    old = time.time() - 60
    os.utime(path, (old, old))


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    env = {"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env()}
    p = Platform(load_settings(env=env), scenes={})
    yield p
    p.store.close()


def aggregator(platform: Platform, datasets: dict[str, Dataset]) -> Aggregator:
    return Aggregator(platform.store, datasets, lambda events: platform.publish(events).accepted)


# -- files ----------------------------------------------------------------------------------------
def test_files_are_read_back_by_the_platforms_readers(pop: Population, tmp_path: Path) -> None:
    paths = write_files(tmp_path, pop, DATASETS)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == sorted(
        f"{Path(d.folder).name}/{n}-2026-11-30{departments.SUFFIX[d.format]}" for n, d in FILES.items()
    )
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]  # renamed when complete
    for path in paths:
        ds = FILES[path.parent.name]
        if ds.format == "csv":
            head = path.read_bytes()[:65536]
            assert detect_encoding(head) == ("utf-8" if ds.encoding == "utf-8" else "gb18030"), path.name
            header = head.split(b"\r\n")[0].decode(ds.encoding or "gbk")
            assert header == ",".join(c.header for c in ds.columns)
        got = []
        for raw in read_file(ds, path):
            values, problems = check_row(ds, raw.no, raw.values)
            assert problems == [], (path.name, raw)
            got.append(values)
        assert got == typed(pop, ds.name), path.name
    # the same population writes the same bytes (a file delivered again is recognised)
    again = write_files(tmp_path / "again", pop, DATASETS)
    for a, b in zip(sorted(paths), sorted(again), strict=True):
        if a.suffix != ".xlsx":  # a workbook holds its creation time
            assert a.read_bytes() == b.read_bytes(), a.name


def test_a_workbook_longer_than_a_sheet_is_written_in_parts(
    pop: Population, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(departments, "XLSX_ROWS", 103)  # 100 rows a sheet below the title and header
    ds = DATASETS["estate.properties"]
    paths = write_files(tmp_path, pop, {ds.name: ds})
    rows = typed(pop, ds.name)
    assert [p.name for p in paths] == [
        f"estate.properties-2026-11-30{s}.xlsx" for s in ["", "-2", "-3"][: math.ceil(len(rows) / 101)]
    ]
    got = [check_row(ds, r.no, r.values)[0] for p in paths for r in read_file(ds, p)]
    assert got == rows


def test_a_full_aggregator_run_takes_every_file_and_push(
    pop: Population, tmp_path: Path, platform: Platform
) -> None:
    drop = tmp_path / "drop"
    write_files(drop, pop, DATASETS)
    datasets = {
        n: msgspec.structs.replace(d, folder=str(drop / Path(d.folder).name)) if d.origin == "file" else d
        for n, d in DATASETS.items()
    }
    agg = aggregator(platform, datasets)
    for path in drop.rglob("*.*"):
        aged(path)
    for name in FILES:
        (run,) = agg.load_folder(name)
        assert (run.status, run.rows_bad, run.rows_good) == ("done", 0, pop.count(name)), name
        assert len(platform.store.current_rows(name)) == run.rows_good
    for name, ds in PUSHES.items():
        runs = [
            agg.push(name, body, as_of=AS_OF.isoformat()) for body in ndjson_chunks(ds, pop.rows(name), 500)
        ]
        assert all(r.status == "done" and r.rows_bad == 0 for r in runs), name
        assert sum(r.rows_good for r in runs) == pop.count(name) == len(platform.store.current_rows(name))
        if runs:
            body = next(ndjson_chunks(ds, pop.rows(name), 500))
            assert agg.push(name, body, as_of=AS_OF.isoformat()).status == "already"
    # the facts are the generated rows, typed
    members = {r.key: r.data for r in platform.store.current_rows("civil.members")}
    assert members == {m["id_number"]: m for m in typed(pop, "civil.members")}


# -- pushes ---------------------------------------------------------------------------------------
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), TEXT),
            st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64)),
            st.one_of(st.none(), st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))),
            st.one_of(st.none(), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
        ),
        max_size=40,
    ),
    max_rows=st.integers(min_value=1, max_value=15),
    split=st.integers(min_value=0, max_value=40),
)
def test_ndjson_bodies_decode_to_the_values(
    rows: list[tuple[str | None, float | None, date | None, int | None]], max_rows: int, split: int
) -> None:
    ds = Dataset(
        name="x.y",
        title="x",
        owner="x",
        key=["t"],
        origin="push",
        columns=[
            Column("t", source='名称 "引号"\\'),
            Column("f", type="float", source="金额"),
            Column("d", type="date", source="日期"),
            Column("i", type="int", source="人数"),
        ],
    )
    schema = pa.schema([("t", pa.string()), ("f", pa.float64()), ("d", pa.date32()), ("i", pa.int32())])
    table = pa.Table.from_pylist([dict(zip("tfdi", r, strict=True)) for r in rows], schema=schema)
    batches = [b for part in (table.slice(0, split), table.slice(split)) for b in part.to_batches()]
    bodies = list(ndjson_chunks(ds, batches, max_rows))
    got = [r.values for body in bodies for r in read_json_body(body)]
    assert all(b.endswith(b"\n") and 0 < b.count(b"\n") <= max_rows for b in bodies)
    assert len(bodies) == math.ceil(len(rows) / max_rows)
    want = [
        {'名称 "引号"\\': t, "金额": f, "日期": None if d is None else d.isoformat(), "人数": i}
        for t, f, d, i in rows
    ]
    assert got == want


# -- departmental databases ---------------------------------------------------------------------------
ADMIN = {
    "mariadb": os.environ.get("CITYBRAIN_TEST_MARIADB_DSN", "mariadb://root@127.0.0.1:3306/test"),
    "postgres": os.environ.get("CITYBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
}


def _admin(kind: str) -> Any:
    if kind == "mariadb":
        return departments._mariadb_connect(ADMIN["mariadb"])
    import psycopg

    return psycopg.connect(ADMIN["postgres"], autocommit=True, connect_timeout=3)


def _connect(kind: str) -> Any:
    """A connection to the server, started when it is down; the test is skipped when it stays down."""
    import psycopg
    import pymysql

    try:  # a real server is part of the test: it fails (never skips) when one cannot be started
        return with_database(kind, lambda: _admin(kind), (pymysql.err.MySQLError, psycopg.Error))
    except (pymysql.err.MySQLError, psycopg.Error) as err:
        pytest.fail(f"{kind} at {ADMIN[kind]} is down and could not be started: {err}")


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """A fresh database of a unique name on each server, dropped after the test: their DSNs."""
    name = f"welfare_{uuid.uuid4().hex[:10]}"
    mariadb, postgres = _connect("mariadb"), _connect("postgres")
    with mariadb.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    postgres.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {kind: ADMIN[kind].rsplit("/", 1)[0] + "/" + name for kind in ADMIN}
    finally:
        with mariadb.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        mariadb.close()
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        postgres.close()


@pytest.mark.parametrize("local_files", [True, False], ids=["load-data-local", "batched-inserts"])
def test_tables_pulled_through_the_aggregator_are_the_generated_rows(
    pop: Population,
    databases: dict[str, str],
    platform: Platform,
    local_files: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=departments.__name__)
    loaded = {
        **load_mariadb(databases["mariadb"], pop, on_server(DATASETS, "mariadb"), local_files=local_files),
        **load_postgres(databases["postgres"], pop, on_server(DATASETS, "postgres")),
    }
    assert loaded == {name: pop.count(name) for name in DATASETS}
    how = "LOAD DATA LOCAL INFILE" if local_files else "batched INSERTs"  # this server allows local files
    assert any(
        m.startswith(f"civil.members: {loaded['civil.members']} rows into civil_members by {how} (")
        for m in caplog.messages
    )
    pulls = pull_datasets(DATASETS, databases["mariadb"], databases["postgres"])
    assert set(pulls) == set(DATASETS)
    agg = aggregator(platform, pulls)
    for name, ds in pulls.items():
        assert ds.origin == "pull" and ds.dsn == databases[SERVER[name.split(".")[0]]]
        run = agg.pull(name, page_size=500)
        assert (run.status, run.rows_bad, run.rows_good) == ("done", 0, loaded[name]), (name, run.error)
        assert run.source_rows == run.rows_read
        current = {r.key: r.data for r in platform.store.current_rows(name)}
        assert len(current) == loaded[name]
        for values in typed(pop, name)[:50]:
            got = current["|".join(str(values[k]) for k in ds.key)]
            assert {k: got[k] for k in values} == values, name
            assert set(got) - set(values) <= {ds.watermark}  # the table's 更新时间 besides
        again = agg.pull(name)
        assert (again.status, again.rows_read) == ("done", 0)  # nothing after the watermark
    # a new row in a department's table is read by the next pull, and only it
    bills = pulls["medical.bills"]
    ill = pop.pick_household("illness")
    new = pop.illness(ill, 30_000, on=AS_OF + timedelta(days=1))
    load_postgres(databases["postgres"], pop, {"medical.bills": DATASETS["medical.bills"]})
    run = agg.pull(bills.name)
    assert (run.rows_read, run.rows_good) == (1, 1)  # the table was loaded anew; only the new bill is newer
    assert (
        platform.store.current_rows(bills.name, [new.column("bill")[0].as_py()])[0].data["self_pay"] == 30_000
    )


def test_a_table_has_the_key_and_the_watermark_column(pop: Population, databases: dict[str, str]) -> None:
    load_postgres(databases["postgres"], pop, {"market.businesses": DATASETS["market.businesses"]})
    load_mariadb(databases["mariadb"], pop, {"civil.households": DATASETS["civil.households"]})
    import psycopg

    with psycopg.connect(databases["postgres"]) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'market_businesses' "
                "ORDER BY ordinal_position"
            ).fetchall()
        ]
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'market_businesses'::regclass AND i.indisprimary"
        ).fetchall()
    assert cols == ["统一社会信用代码", "法定代表人身份证号", "主体类型", "登记状态", UPDATED]
    assert key == [("统一社会信用代码",)]
    conn2 = departments._mariadb_connect(databases["mariadb"])
    try:
        with conn2.cursor() as cur:
            cur.execute("SHOW COLUMNS FROM civil_households")
            names = [r[0] for r in cur.fetchall()]
            cur.execute("SHOW KEYS FROM civil_households")
            keys = {(r[2], r[4]) for r in cur.fetchall()}
    finally:
        conn2.close()
    assert names[:2] == ["户编号", "村社区代码"] and names[-1] == UPDATED  # 村(社区)代码 as a SQL name
    assert keys == {("PRIMARY", "户编号"), ("civil_households_updated", UPDATED)}

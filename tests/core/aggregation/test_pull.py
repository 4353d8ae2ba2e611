"""Incremental pulls from real departmental databases (issue 15): MariaDB and PostgreSQL on this
machine, every test on both. Rows are read once each in (watermark, key) order across pages even
where many rows share one updated-at at a page boundary, a pull resumes from a saved mark, an
updated row is read again, an auto-increment id works as a watermark, the source's count
reconciles with what was read, a failing database names the dataset but never the password, a
hostile table name is refused before any connection, and values come back as Python types.

The servers must be up (this machine's CI has them): when one does not answer it is started, and
when it still does not, the tests fail rather than skip.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import msgspec
import psycopg
import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql as pgsql

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.aggregation.pull import (
    Mark,
    Page,
    PullError,
    connect_label,
    pull_pages,
    source_count,
)
from citybrain.core.errors import ConfigError, DecodeError
from citybrain.testing import with_database

BACKENDS = ["mariadb", "postgres"]
DSNS = {
    "mariadb": os.environ.get("CITYBRAIN_TEST_MARIADB_DSN", "mariadb://root@127.0.0.1:3306/test"),
    "postgres": os.environ.get("CITYBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
}
# the column types of each server, and how a table is created on it
TYPES = {
    "mariadb": {
        "ts": "DATETIME(6)",
        "dec": "DECIMAL(10,2)",
        "serial": "INT AUTO_INCREMENT PRIMARY KEY",
        "table": " DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        "local_text": "VARCHAR(20) COLLATE utf8mb4_general_ci",  # 'a' = 'A' = 'a ' in comparisons
        "schema": "test",
    },
    "postgres": {
        "ts": "TIMESTAMP",
        "dec": "NUMERIC(10,2)",
        "serial": "INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "table": "",
        "local_text": 'VARCHAR(20) COLLATE "zh-x-icu"',  # a Chinese locale's order: 'a' < 'A' < 'b'
        "schema": "public",
    },
}
T0 = datetime(2025, 3, 1, 8, 0, 0)
UNPARSED = "(an address that does not parse: percent-encode the password's special characters)"
PASSWORD = "S3cret-Pw!x"


class Server:
    """A connection to one of the test servers (autocommit), for making and changing tables."""

    def __init__(self, kind: str) -> None:
        self.kind, self.dsn = kind, DSNS[kind]
        self.conn: Any = _connect(kind)

    def sql(self, text: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(text, params or None)  # PyMySQL: no % formatting without parameters
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def many(self, text: str, rows: list[tuple[Any, ...]]) -> None:
        cur = self.conn.cursor()
        try:
            cur.executemany(text, rows)
        finally:
            cur.close()

    def t(self, name: str) -> str:
        return TYPES[self.kind][name]


def _connect(kind: str) -> Any:
    if kind == "mariadb":
        return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                               charset="utf8mb4", autocommit=True, connect_timeout=3)  # fmt: skip
    return psycopg.connect(DSNS["postgres"], autocommit=True, connect_timeout=3)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The server, started when it is down; the test fails (never skips) when it cannot be."""
    kind: str = request.param
    try:
        s = with_database(kind, lambda: Server(kind), (pymysql.err.MySQLError, psycopg.Error))
    except (pymysql.err.MySQLError, psycopg.Error) as err:
        pytest.fail(f"{kind} at {DSNS[kind]} is down and could not be started: {err}")
    yield s
    s.conn.close()


@pytest.fixture
def table(server: Server) -> Iterator[str]:
    """A fresh table name, dropped after the test."""
    name = f"pull_{uuid.uuid4().hex[:12]}"
    yield name
    server.sql(f"DROP TABLE IF EXISTS {name}")


def members(server: Server, table: str, **kw: Any) -> Dataset:
    """低保成员: one row per member of a household, keyed (household_id, member_no)."""
    return Dataset(
        name="civil.dibao_members", title="低保成员", owner="nc-civil", key=["household_id", "member_no"],
        columns=[Column(name="household_id"), Column(name="member_no", type="int"),
                 Column(name="name", source="xm"), Column(name="amount", type="float"),
                 Column(name="born", type="date"), Column(name="updated_at", type="date")],
        origin="pull", table=table, watermark="updated_at", snapshot=False, **{"dsn": server.dsn, **kw},
    )  # fmt: skip


@dataclass
class Member:
    household_id: str
    member_no: int
    xm: str
    amount: Decimal
    born: date
    updated_at: datetime | None

    def values(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def order(self) -> tuple[datetime, tuple[str, str]]:
        """The pull's order: the watermark, then the key as text (so "H10" < "H9", "10" < "2")."""
        assert self.updated_at is not None
        return self.updated_at, (self.household_id, str(self.member_no))

    def mark(self) -> Mark:
        return Mark(self.order()[0].isoformat(), self.order()[1])


def make_members(server: Server, table: str) -> list[Member]:
    """25 members, in groups sharing one updated_at (6 of them across the page boundaries 4 and
    8 at page size 4, one group with microseconds), member numbers 1, 2 and 10 in one household
    (text order), and one more row whose updated_at is NULL."""
    server.sql(
        f"CREATE TABLE {table} (household_id VARCHAR(20) NOT NULL, member_no INT NOT NULL, xm VARCHAR(40), "
        f"amount {server.t('dec')}, born DATE, updated_at {server.t('ts')} NULL, "
        f"PRIMARY KEY (household_id, member_no)){server.t('table')}"
    )
    keys = [(h, m) for h in ("H9", "H10", "H100", "H2", "H3", "H30", "H4", "H5", "H6") for m in (1, 2, 10)]
    random.Random(15).shuffle(keys)
    names = ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十"]
    stamps: list[datetime] = []
    for i, size in enumerate([3, 6, 1, 5, 2, 8]):
        stamps += [T0 + timedelta(hours=i, microseconds=250_000 if i == 3 else 0)] * size
    rows = [
        Member(
            h,
            m,
            f"{names[i % 8]}{i}",
            Decimal(f"{300 + i}.{i:02d}"),
            date(1950 + i, 1 + i % 12, 1 + i),
            stamps[i],
        )
        for i, (h, m) in enumerate(keys[:25])
    ]
    rows.append(Member("H7", 1, "无时间", Decimal("1.00"), date(1990, 1, 1), None))
    server.many(
        f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)",
        [(r.household_id, r.member_no, r.xm, r.amount, r.born, r.updated_at) for r in rows],
    )
    return sorted((r for r in rows if r.updated_at is not None), key=Member.order)


def read_all(ds: Dataset, after: Mark | None = None, page_size: int = 4) -> list[Page]:
    return list(pull_pages(ds, after, page_size))


# -- 1. order, pages and marks ---------------------------------------------------------------------
def test_every_row_once_in_watermark_then_key_order(server: Server, table: str) -> None:
    expected = make_members(server, table)
    ds = members(server, table)

    pages = read_all(ds)

    assert [len(p.rows) for p in pages] == [4, 4, 4, 4, 4, 4, 1]  # the NULL-updated_at row is not read
    rows = [r for p in pages for r in p.rows]
    assert [r.no for r in rows] == list(range(1, 26))
    assert [r.values for r in rows] == [m.values() for m in expected]
    for i, page in enumerate(pages):
        assert page.mark == expected[min(4 * i + 3, 24)].mark()
        assert page.where == f"{ds.dsn.split(':')[0]} test.{table}"
    # the tie at the first boundary: 6 rows of one updated_at, split 1 + 4 + 1 over pages 1..3
    assert pages[0].mark.value == pages[1].mark.value == (T0 + timedelta(hours=1)).isoformat()
    assert pages[0].mark.key < pages[1].mark.key


def test_a_schema_qualified_table_reads_the_same(server: Server, table: str) -> None:
    expected = make_members(server, table)
    pages = read_all(members(server, f"{server.t('schema')}.{table}"), page_size=10)
    assert [r.values for p in pages for r in p.rows] == [m.values() for m in expected]


# -- 2. resuming from a mark -------------------------------------------------------------------------
def test_a_pull_resumes_after_its_mark(server: Server, table: str) -> None:
    expected = make_members(server, table)
    ds = members(server, table)

    gen = pull_pages(ds, None, 4)
    first = list(itertools.islice(gen, 2))
    gen.close()  # the caller stops (a crash, a deadline): the mark is all that is kept
    saved = first[-1].mark.as_json()

    rest = read_all(ds, Mark.from_json(saved))

    got = [r.values for p in first + rest for r in p.rows]
    assert got == [m.values() for m in expected]  # none twice, none lost
    assert [r.values for p in rest for r in p.rows] == [m.values() for m in expected[8:]]
    assert rest[0].rows[0].no == 1  # numbering is per pull
    assert read_all(ds, rest[-1].mark) == []  # nothing after the end


def test_connections_are_closed_when_the_pull_ends_or_is_dropped(
    server: Server, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_members(server, table)
    opened: list[Any] = []
    module: Any = pymysql if server.kind == "mariadb" else psycopg
    real = module.connect

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(module, "connect", spy)

    def is_open(conn: Any) -> bool:
        return bool(conn.open) if server.kind == "mariadb" else not conn.closed

    gen = pull_pages(members(server, table), None, 4)
    assert opened == []  # nothing connects before the first page is asked for
    next(gen)
    assert len(opened) == 1 and is_open(opened[0])
    gen.close()
    assert not is_open(opened[0])
    read_all(members(server, table))
    source_count(members(server, table), None, Mark("2100-01-01T00:00:00", ("", "")))
    assert len(opened) == 3 and not any(is_open(c) for c in opened)


# -- 3. an update is read again ------------------------------------------------------------------------
def test_rows_updated_after_a_pull_are_read_again_with_their_new_values(server: Server, table: str) -> None:
    expected = make_members(server, table)
    ds = members(server, table)
    last = read_all(ds)[-1].mark

    later = T0 + timedelta(days=1)
    a, b = expected[3], expected[17]
    server.sql(f"UPDATE {table} SET updated_at = %s, xm = %s WHERE household_id = %s AND member_no = %s",
               (later, "张三改", a.household_id, a.member_no))  # fmt: skip
    server.sql(f"UPDATE {table} SET updated_at = %s, amount = %s WHERE household_id = %s AND member_no = %s",
               (later, Decimal("999.50"), b.household_id, b.member_no))  # fmt: skip

    pages = read_all(ds, last)

    a.updated_at, a.xm, b.updated_at, b.amount = later, "张三改", later, Decimal("999.50")
    assert [r.values for p in pages for r in p.rows] == [m.values() for m in sorted([a, b], key=Member.order)]
    assert pages[-1].mark.value == later.isoformat()


# -- 4. a growing id as the watermark -----------------------------------------------------------------
def test_an_auto_increment_id_is_a_watermark(server: Server, table: str) -> None:
    server.sql(f"CREATE TABLE {table} (id {server.t('serial')}, payer VARCHAR(40), paid {server.t('dec')})"
               f"{server.t('table')}")  # fmt: skip
    insert = f"INSERT INTO {table} (payer, paid) VALUES (%s, %s)"
    server.many(insert, [(f"参保人{i}", Decimal(f"{i}.5")) for i in range(11)])
    columns = [Column(name="id", type="int"), Column(name="payer"), Column(name="paid", type="float")]
    ds = Dataset(
        name="medical.settlements",
        title="医保结算",
        owner="nc-medical",
        key=["id"],
        columns=columns,
        origin="pull",
        dsn=server.dsn,
        table=table,
        watermark="id",
        snapshot=False,
    )

    pages = read_all(ds, page_size=3)

    assert [len(p.rows) for p in pages] == [3, 3, 3, 2]
    assert [r.values["id"] for p in pages for r in p.rows] == list(range(1, 12))  # numeric, not text, order
    assert pages[-1].mark == Mark(11, ("11",))
    assert Mark.from_json(pages[-1].mark.as_json()) == Mark(11, ("11",))
    server.many(insert, [("新参保人", Decimal("7.25")), ("又一人", Decimal("8"))])
    more = read_all(ds, Mark.from_json(pages[-1].mark.as_json()), page_size=3)
    assert [r.values for p in more for r in p.rows] == [
        {"id": 12, "payer": "新参保人", "paid": Decimal("7.25")},
        {"id": 13, "payer": "又一人", "paid": Decimal("8.00")},
    ]


# -- 5. reconciliation -----------------------------------------------------------------------------------
def test_source_count_matches_the_rows_read_between_two_marks(server: Server, table: str) -> None:
    make_members(server, table)
    ds = members(server, table)
    pages = read_all(ds)

    assert source_count(ds, None, pages[-1].mark) == 25  # the NULL-updated_at row is not counted
    assert source_count(ds, pages[0].mark, pages[3].mark) == sum(len(p.rows) for p in pages[1:4]) == 12
    assert source_count(ds, pages[1].mark, pages[1].mark) == 0
    assert source_count(ds, pages[5].mark, pages[6].mark) == 1
    # a row updated past the range leaves it; the count says what the source holds now
    moved = pages[2].rows[0].values
    server.sql(f"UPDATE {table} SET updated_at = %s WHERE household_id = %s AND member_no = %s",
               (T0 + timedelta(days=2), moved["household_id"], moved["member_no"]))  # fmt: skip
    assert source_count(ds, pages[0].mark, pages[3].mark) == 11


# -- 6. failures name the dataset, never the password --------------------------------------------------
def _with_login(dsn: str, user: str, password: str) -> str:
    scheme, rest = dsn.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest.split('@', 1)[1]}"


def test_a_refused_login_names_the_dataset_not_the_password(server: Server, table: str) -> None:
    make_members(server, table)
    dsn = _with_login(server.dsn, f"nobody_{uuid.uuid4().hex[:6]}", PASSWORD)
    ds = members(server, table, dsn=dsn)

    with pytest.raises(PullError) as err:
        read_all(ds)
    message = str(err.value)
    assert "civil.dibao_members" in message and connect_label(dsn) in message
    assert PASSWORD not in message and quote(PASSWORD, safe="") not in message
    assert ("Access denied" in message) if server.kind == "mariadb" else ("does not exist" in message)
    with pytest.raises(PullError) as err2:
        source_count(ds, None, Mark(1, ("a", "1")))
    assert PASSWORD not in str(err2.value)


def test_a_missing_table_names_the_dataset_and_the_table(server: Server) -> None:
    missing = f"pull_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(PullError) as err:
        read_all(members(server, missing))
    message = str(err.value)
    assert "civil.dibao_members" in message and missing in message and connect_label(server.dsn) in message


def test_an_unusable_connection_option_is_a_pull_error(server: Server, table: str) -> None:
    make_members(server, table)
    missing = f"/nonexistent/{uuid.uuid4().hex[:6]}/ca.pem"
    option = f"ssl_ca={missing}" if server.kind == "mariadb" else f"sslmode=verify-full&sslrootcert={missing}"
    ds = members(server, table, dsn=f"{server.dsn}?{option}")
    with pytest.raises(PullError, match=r"civil\.dibao_members"):
        read_all(ds)
    odd = members(server, table, dsn=f"{server.dsn}?not_an_option=1")
    if server.kind == "mariadb":  # PyMySQL takes only the TLS files from the address
        with pytest.raises(ConfigError, match="not_an_option"):
            pull_pages(odd, None)
    else:  # the options go to libpq, which refuses what it does not know
        with pytest.raises(PullError, match="not_an_option"):
            read_all(odd)


def test_a_password_with_special_characters_is_url_decoded(server: Server, table: str) -> None:
    make_members(server, table)
    user, password = f"cb_{uuid.uuid4().hex[:8]}", "p@ss:w/rd#1%?"
    if server.kind == "mariadb":
        server.sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        server.sql(f"GRANT SELECT ON test.{table} TO '{user}'@'%'")
    else:  # trust authentication: the user (not the password) is what the server checks
        server.conn.execute(
            pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                pgsql.Identifier(user), pgsql.Literal(password)
            )
        )
        server.sql(f"GRANT SELECT ON {table} TO {user}")
    try:
        ds = members(server, table, dsn=_with_login(server.dsn, user, password))
        assert sum(len(p.rows) for p in read_all(ds, page_size=100)) == 25
        if server.kind == "mariadb":  # and a wrong one is refused
            with pytest.raises(PullError, match="Access denied"):
                read_all(members(server, table, dsn=_with_login(server.dsn, user, password + "x")))
    finally:
        if server.kind == "mariadb":
            server.sql(f"DROP USER '{user}'@'%'")
        else:
            server.sql(f"REVOKE ALL ON {table} FROM {user}")
            server.sql(f"DROP ROLE {user}")


# -- 7. hostile names are refused before any connection ----------------------------------------------
@pytest.mark.parametrize(
    ("table_name", "source"),
    [("x; DROP TABLE y", "xm"), ("a.b.c", "xm"), ("dibao`", "xm"), ('di"bao', "xm"), ("dibao\n", "xm"),
     ("dibao", "xm) FROM y; --"), ("dibao", "x m"), ("dibao", "1xm")],
)  # fmt: skip
def test_hostile_names_are_refused_before_any_connection(
    server: Server, table_name: str, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("connected with a hostile name")

    monkeypatch.setattr(pymysql, "connect", no_connection)
    monkeypatch.setattr(psycopg, "connect", no_connection)
    ds = members(server, table_name)
    ds.columns[2].source = source

    with pytest.raises(ConfigError, match=r"civil\.dibao_members"):
        pull_pages(ds, None)  # refused on the call, not on the first page
    with pytest.raises(ConfigError, match=r"civil\.dibao_members"):
        source_count(ds, None, Mark(1, ("a", "1")))


def test_a_misfit_mark_or_page_size_is_refused(server: Server, table: str) -> None:
    ds = members(server, table)
    with pytest.raises(ConfigError, match="key"):
        pull_pages(ds, Mark("2025-01-01T00:00:00", ("H1",)))
    with pytest.raises(ConfigError, match="page_size"):
        pull_pages(ds, None, 0)
    with pytest.raises(ConfigError, match="not a pull"):
        pull_pages(msgspec.structs.replace(members(server, table), origin="file", folder="/tmp"), None)


# -- 8. values as Python types -------------------------------------------------------------------------
def test_values_come_back_as_python_types(server: Server, table: str) -> None:
    server.sql(
        f"CREATE TABLE {table} (户编号 VARCHAR(20) NOT NULL, 姓名 VARCHAR(40), 月收入 {server.t('dec')}, "
        f"纳入日期 DATE, 人口 INT, 备注 TEXT, updated_at {server.t('ts')} NOT NULL){server.t('table')}"
    )
    rows = [
        ("H001", "欧阳𠀀娜", Decimal("520.50"), date(2024, 3, 1), 3, "低保户；含“引号”和 emoji 🙂", T0),
        ("H002", None, None, None, None, None, T0 + timedelta(seconds=1, microseconds=5)),
    ]
    server.many(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    columns = [
        Column(name="household", source="户编号"),
        Column(name="head", source="姓名"),
        Column(name="income", source="月收入", type="float"),
        Column(name="since", source="纳入日期", type="date"),
        Column(name="members", source="人口", type="int"),
        Column(name="note", source="备注"),
        Column(name="updated_at", type="date"),
    ]
    ds = Dataset(
        name="civil.dibao",
        title="低保名册",
        owner="nc-civil",
        key=["household"],
        columns=columns,
        origin="pull",
        dsn=server.dsn,
        table=table,
        watermark="updated_at",
        snapshot=False,
    )

    got = [r.values for p in read_all(ds) for r in p.rows]

    names = ["户编号", "姓名", "月收入", "纳入日期", "人口", "备注", "updated_at"]
    assert got == [dict(zip(names, r, strict=True)) for r in rows]
    first = got[0]
    assert type(first["月收入"]) is Decimal and type(first["纳入日期"]) is date and type(first["人口"]) is int
    assert type(first["updated_at"]) is datetime and first["姓名"] == "欧阳𠀀娜"


# -- rows tying on watermark AND key (no primary key) --------------------------------------------------
def test_rows_tying_on_watermark_and_key_across_a_page_end_are_read_together(
    server: Server, table: str
) -> None:
    server.sql(
        f"CREATE TABLE {table} (household_id VARCHAR(20), member_no INT, xm VARCHAR(40), "
        f"amount {server.t('dec')}, born DATE, updated_at {server.t('ts')}){server.t('table')}"
    )
    rows = [("H1", 1, f"第{i}次", None, None, T0 if i < 6 else T0 + timedelta(hours=1)) for i in range(8)]
    rows[0] = ("H0", 1, "第0次", None, None, T0)  # sorts first; then five copies of (T0, H1, 1)
    server.many(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)", rows)
    ds = members(server, table)

    pages = read_all(ds, page_size=3)

    assert [len(p.rows) for p in pages] == [6, 2]  # the five copies are not split, nor any lost
    assert sorted(r.values["xm"] for p in pages for r in p.rows) == sorted(r[2] for r in rows)
    assert source_count(ds, None, pages[0].mark) == 6


# -- the key's text order does not depend on the table's collation ---------------------------------------
def test_keys_break_ties_in_code_point_order_whatever_the_collation(server: Server, table: str) -> None:
    server.sql(
        f"CREATE TABLE {table} (household_id {server.t('local_text')}, member_no INT, xm VARCHAR(40), "
        f"amount {server.t('dec')}, born DATE, updated_at {server.t('ts')}){server.t('table')}"
    )
    # a case-insensitive or locale order would put 'a' (member 1) before 'A' (member 2), 'a ' before 'a'
    keys = [
        ("a", 1),
        ("A", 2),
        ("a ", 0),
        ("b", 3),
        ("B", 4),
        ("中", 5),
        ("𝄞", 6),
        ("", 7),
        (None, 8),
        ("10", 9),
    ]
    server.many(f"INSERT INTO {table} (household_id, member_no, updated_at) VALUES (%s, %s, %s)",
                [(h, m, T0) for h, m in keys])  # fmt: skip
    want = sorted(((h or "", str(m)) for h, m in keys))
    assert want[:4] == [("", "7"), ("", "8"), ("10", "9"), ("A", "2")]
    for page_size in (1, 3, 100):
        pages = read_all(members(server, table), page_size=page_size)
        assert pages[-1].mark.key == want[-1]
        got = [(r.values["household_id"] or "", str(r.values["member_no"])) for p in pages for r in p.rows]
        assert got == want


# -- the order, fuzzed: random keys and ties, random page sizes, a resume anywhere ---------------------
KEY_CHARS = ["a", "A", " ", "中", "文", "é", "1", "9", "_", "Z", "𝄞"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(alphabet=st.sampled_from(KEY_CHARS), max_size=4)),
            st.integers(min_value=-3, max_value=12),
            st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
        ),
        max_size=30,
    ),
    page_size=st.integers(min_value=1, max_value=7),
    stop_after=st.integers(min_value=0, max_value=8),
)
def test_any_table_is_read_once_in_order_across_pages_and_a_resume(
    server: Server,
    table: str,
    data: list[tuple[str | None, int, int | None]],
    page_size: int,
    stop_after: int,
) -> None:
    server.sql(
        f"CREATE TABLE IF NOT EXISTS {table} (row_id INT, household_id {server.t('local_text')}, "
        f"member_no INT, xm VARCHAR(40), amount {server.t('dec')}, born DATE, updated_at {server.t('ts')})"
        f"{server.t('table')}"
    )
    server.sql(f"DELETE FROM {table}")
    stamped = [
        (i, h, m, None if w is None else T0 + timedelta(minutes=w)) for i, (h, m, w) in enumerate(data)
    ]
    if stamped:
        insert = f"INSERT INTO {table} (row_id, household_id, member_no, updated_at) VALUES (%s, %s, %s, %s)"
        server.many(insert, stamped)
    ds = members(server, table)
    ds.columns.append(Column(name="row_id", type="int"))

    gen = pull_pages(ds, None, page_size)
    pages = list(itertools.islice(gen, stop_after))
    gen.close()
    pages += read_all(ds, pages[-1].mark if pages else None, page_size)

    read = [r.values for p in pages for r in p.rows]
    want = [s for s in stamped if s[3] is not None]
    assert sorted(v["row_id"] for v in read) == [s[0] for s in want]  # each once; NULL watermarks never

    def order(v: dict[str, Any]) -> tuple[datetime, tuple[str, str]]:
        return v["updated_at"], (
            v["household_id"] or "",
            "" if v["member_no"] is None else str(v["member_no"]),
        )

    assert [order(v) for v in read] == sorted(order(v) for v in read)  # code-point order of the key text
    for p in pages:
        assert p.rows and p.mark == Mark(order(p.rows[-1].values)[0].isoformat(), order(p.rows[-1].values)[1])
    if pages:
        assert source_count(ds, None, pages[-1].mark) == len(want)


# -- marks and addresses (no server needed) ------------------------------------------------------------
@given(text=st.text(max_size=60))
def test_a_mark_decodes_or_raises_decode_error(text: str) -> None:
    try:
        m = Mark.from_json(text)
    except DecodeError:
        return
    assert Mark.from_json(m.as_json()) == m


@given(
    value=st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    key=st.lists(st.text(), max_size=3),
)
def test_a_mark_round_trips_through_json(value: int | float | str, key: list[str]) -> None:
    m = Mark(value, tuple(key))
    back = Mark.from_json(m.as_json())
    assert back == m and type(back.value) is type(m.value)


@pytest.mark.parametrize(("kind", "port"), [("mariadb", 3306), ("postgresql", 5432)])
@given(password=st.text(alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQ@:/#?%&=+ 中!"), min_size=6, max_size=20))
def test_a_dsn_password_never_shows_in_its_label(kind: str, port: int, password: str) -> None:
    dsn = f"{kind}://reader:{quote(password, safe='')}@db.civil.gov.cn/dibao"
    assert connect_label(dsn) == f"{kind}://reader@db.civil.gov.cn:{port}/dibao"
    raw = f"{kind}://reader:{password}@db.civil.gov.cn/dibao"  # not encoded: it may not parse, never shows
    assert password not in connect_label(raw)


@pytest.mark.parametrize(
    ("dsn", "label"),
    [
        ("mariadb://root@127.0.0.1:3306/test", "mariadb://root@127.0.0.1:3306/test"),
        ("mysql://app:pw@db.civil.gov.cn/dibao", "mysql://app@db.civil.gov.cn:3306/dibao"),
        ("postgresql://postgres:x%40y@127.0.0.1/test?sslmode=require", "postgresql://postgres@127.0.0.1:5432/test"),
        ("postgres://u@[::1]:6432/hr", "postgres://u@[::1]:6432/hr"),
        ("mysql://root:ab/cd@host/db", f"mysql://{UNPARSED}"),
        ("mysql://root:ab#cd@host/db", f"mysql://{UNPARSED}"),
        ("oracle://root@host/db", f"?://{UNPARSED}"),
    ],
)  # fmt: skip
def test_connect_label(dsn: str, label: str) -> None:
    """The address as messages show it: no password, the default port filled in; an address that
    does not parse (an unencoded / or # in the password) is not shown at all."""
    assert connect_label(dsn) == label

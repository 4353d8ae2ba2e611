"""Sensitive columns sealed at rest (issue 15 item 6; core/fieldcrypt.py): values round-trip, the
same value is always the same token (joins and fact ids still work), an altered token or another
key is refused, the key file is made once (mode 0600) and checked, and a real run through the
aggregator on DuckDB leaves no ID number in the facts, the current rows or the database file, while
its checksum is still the one a department computes over its plain table."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.aggregation.facts import Fact, row_digest
from citybrain.core.aggregation.rows import id_check_digit
from citybrain.core.aggregation.runner import Aggregator
from citybrain.core.config import load_settings
from citybrain.core.errors import ConfigError
from citybrain.core.fieldcrypt import KEY_BYTES, PREFIX, FieldCipher, SealError, is_sealed
from citybrain.core.platform import Platform
from citybrain.testing import server_ports_env
from tests.core.aggregation.test_pull import BACKENDS, Server
from tests.core.test_store import PG_DSN, _postgres_up


def id_number(i: int) -> str:
    """A valid resident ID number (birth date, check digit), a different one for each ``i``."""
    body = f"360121{1950 + i:04d}0315{100 + i:03d}"
    return body + id_check_digit(body)


NAMES = ["张秀英", "李建国", "王桂兰", "刘志强"]
PEOPLE = [(id_number(i), name, f"H{i // 2:03d}") for i, name in enumerate(NAMES)]  # (ID, name, household)
BAD_ID = PEOPLE[0][0][:-1] + ("1" if PEOPLE[0][0][-1] != "1" else "2")  # a wrong check digit
MEMBERS = Dataset(name="civil.members", title="家庭成员", owner="nc-civil", key=["id_number"], origin="file",
                  folder="unused", columns=[
                      Column("id_number", type="id_number", source="身份证号", required=True, sensitive=True),
                      Column("household", source="户编号", required=True),
                      Column("name", source="姓名", sensitive=True),
                      Column("members", type="int", source="家庭人口", sensitive=True)])  # fmt: skip


@pytest.fixture(scope="module")
def cipher() -> FieldCipher:
    return FieldCipher(os.urandom(KEY_BYTES))


# -- one value --------------------------------------------------------------------------------------
def test_a_value_seals_to_a_token_that_opens_and_is_always_the_same(cipher: FieldCipher) -> None:
    pid = PEOPLE[0][0]
    token = cipher.seal(pid)
    assert token.startswith(PREFIX) and is_sealed(token) and pid not in token
    assert cipher.open(token) == pid
    assert cipher.seal(pid) == token  # deterministic: joins on it still work
    assert cipher.seal(token) == token  # idempotent: a token is not sealed twice
    assert cipher.seal(PEOPLE[1][0]) != token
    other = FieldCipher(os.urandom(KEY_BYTES))
    assert other.seal(pid) != token and other.seal(token) != token  # another key's token is only text
    assert len(token) <= 60  # an ID number's token: a key of two still fits an event key (128)
    assert not is_sealed(pid) and not is_sealed(None) and not is_sealed("enc1:") and not is_sealed(3)


def test_an_altered_token_or_another_key_is_refused_with_a_clear_error(cipher: FieldCipher) -> None:
    token = cipher.seal(PEOPLE[0][0])
    body = token[len(PREFIX) :]
    flipped = PREFIX + body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    for bad in (flipped, token[:-4], PREFIX + body[:-1] + ("A" if body[-1] != "A" else "Q")):
        with pytest.raises(SealError, match="does not open with this key: it was sealed under another key"):
            cipher.open(bad)
    with pytest.raises(SealError, match="does not open with this key"):
        FieldCipher(os.urandom(KEY_BYTES)).open(token)
    with pytest.raises(SealError, match="is not a sealed value") as refused:
        cipher.open(PEOPLE[0][0])
    assert PEOPLE[0][0][:6] not in str(refused.value)  # a plain value is never echoed in an error
    with pytest.raises(SealError, match="is not a sealed value"):
        cipher.open(token + "\n")
    with pytest.raises(SealError, match="holds a number or a yes/no, not text"):
        cipher.open(cipher.seal_value(3))
    with pytest.raises(ConfigError, match="64 bytes"):
        FieldCipher(b"short")


def test_values_keep_their_type_and_rows_their_plain_columns(cipher: FieldCipher) -> None:
    for value in (3, 2.5, True, "", "enc1:not-a-token-at-all-but-text"):
        assert cipher.open_value(cipher.seal_value(value)) == value
        assert type(cipher.open_value(cipher.seal_value(value))) is type(value)
    assert cipher.seal_value(None) is None
    pid, name, household = PEOPLE[0]
    row = {"id_number": pid, "household": household, "name": name, "members": 4}
    sealed = cipher.seal_row(MEMBERS, row)
    assert sealed["household"] == household  # not sensitive: as it was
    assert all(is_sealed(sealed[k]) for k in ("id_number", "name", "members"))
    assert cipher.seal_row(MEMBERS, sealed) == sealed  # idempotent
    assert cipher.open_row(MEMBERS, sealed) == row
    assert cipher.open_row(MEMBERS, row) == row  # a value stored before sealing was on: left as it is
    assert cipher.seal_key(MEMBERS, [pid]) == (sealed["id_number"],)
    assert cipher.open_key(MEMBERS, cipher.seal_key(MEMBERS, [pid])) == (pid,)
    assert cipher.open_key(MEMBERS, ["a", "b"]) == ("a", "b")  # a mark from before the key changed


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text().map(lambda t: PREFIX + t), st.characters()))
def test_any_text_opens_to_itself(text: str) -> None:
    c = FieldCipher(bytes(range(KEY_BYTES)))
    token = c.seal(text)
    assert c.open(token) == text and c.seal(text) == token and is_sealed(token)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40), unique=True, max_size=50))
def test_seal_is_injective(texts: list[str]) -> None:
    c = FieldCipher(bytes(range(KEY_BYTES)))
    assert len({c.seal(t) for t in texts}) == len(texts)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="ABCDEFabcdef0123456789-_", min_size=20).map(PREFIX.__add__)))
def test_random_text_never_opens(text: str) -> None:
    c = FieldCipher(bytes(range(KEY_BYTES)))
    with pytest.raises(SealError):
        c.open_value(text)  # random text is never one of our tokens


# -- the key file -------------------------------------------------------------------------------------
def test_the_key_file_is_made_once_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys" / "fields.key"
    first = FieldCipher.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="ascii")
    assert len(text.strip()) == 2 * KEY_BYTES and int(text, 16) >= 0
    assert [p.name for p in path.parent.iterdir()] == ["fields.key"]  # no temporary file left
    again = FieldCipher.from_file(path)  # read, never replaced
    assert path.read_text(encoding="ascii") == text
    assert again.seal("36012119500315100X") == first.seal("36012119500315100X")
    assert again.open(first.seal("张秀英")) == "张秀英"


def test_a_missing_or_bad_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "fields.key"
    with pytest.raises(ConfigError, match=f"{missing} does not exist.*same file"):
        FieldCipher.from_file(missing, create=False)
    assert not missing.exists()
    bad = {"short.key": "ab" * 32, "long.key": "ab" * 65, "words.key": "z" * 128, "empty.key": "",
           "binary.key": "\udcff" * 128}  # fmt: skip
    for name, text in bad.items():
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        path.chmod(0o600)
        with pytest.raises(ConfigError, match=f"{path} does not hold a key: it must be 64 bytes"):
            FieldCipher.from_file(path)
        assert path.read_bytes() == text.encode("utf-8", "surrogateescape")  # never overwritten
    shared = tmp_path / "shared.key"
    shared.write_text(os.urandom(KEY_BYTES).hex() + "\n", encoding="ascii")
    for mode in (0o644, 0o640, 0o604, 0o620):
        shared.chmod(mode)
        with pytest.raises(ConfigError, match=f"{shared} is open to group or others .*chmod 600"):
            FieldCipher.from_file(shared)
    shared.chmod(0o400)  # read-only for its owner is fine
    assert FieldCipher.from_file(shared).open(FieldCipher.from_file(shared).seal("x")) == "x"
    with pytest.raises(ConfigError, match="is not a file"):
        FieldCipher.from_file(tmp_path)


# -- a real run ---------------------------------------------------------------------------------------
DATASETS = """
[[datasets]]
name = "civil.members"
title = "家庭成员"
owner = "nc-civil"
key = ["id_number"]
origin = "file"
folder = "{folder}"
format = "csv"
columns = [
  {{ name = "id_number", source = "身份证号", type = "id_number", required = true, sensitive = true }},
  {{ name = "household", source = "户编号", required = true }},
  {{ name = "name", source = "姓名", sensitive = true }},
  {{ name = "members", source = "家庭人口", type = "int", min = 1 }},
]

[[datasets]]
name = "medical.bills"
title = "医保结算"
owner = "nc-health"
key = ["id_number", "settled"]
origin = "push"
snapshot = false
columns = [
  {{ name = "id_number", source = "身份证号", type = "id_number", required = true, sensitive = true }},
  {{ name = "settled", source = "结算日期", type = "date", required = true }},
  {{ name = "self_pay", source = "个人负担", type = "float", min = 0, required = true }},
]
"""


def platform_at(tmp_path: Path, datasets: str = "", **env: str) -> Platform:
    (tmp_path / "drop").mkdir(exist_ok=True)
    text = datasets or DATASETS.format(folder=tmp_path / "drop")
    (tmp_path / "datasets.toml").write_text(text, encoding="utf-8")
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env(),
                                  "CITYBRAIN_AGGREGATION__DATASETS_FILE": str(tmp_path / "datasets.toml"),
                                  **env})  # fmt: skip
    return Platform(settings, scenes={})


def members_csv(path: Path) -> Path:
    lines = ["身份证号,户编号,姓名,家庭人口", *(f"{pid.lower()},{h},{name},2" for pid, name, h in PEOPLE),
             f"{BAD_ID},H009,赵六,1"]  # refused: kept masked  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def plain_rows() -> list[dict[str, Any]]:
    """The good rows as the department holds them, typed: what its checksum is computed over."""
    return [{"id_number": pid, "household": h, "name": name, "members": 2} for pid, name, h in PEOPLE]


def checksum(rows: list[dict[str, Any]]) -> str:
    return f"{sum(row_digest(r) for r in rows) % (1 << 64):016x}"


def facts(p: Platform) -> list[Fact]:
    return [e for e in p.store.find_events(["facts.row"]) if isinstance(e, Fact)]


def secrets_in(data: bytes) -> list[str]:
    found = [pid for pid, _, _ in PEOPLE if pid.encode() in data or pid.lower().encode() in data]
    return found + [name for _, name, _ in PEOPLE if name.encode() in data]


def test_a_run_stores_only_sealed_values_with_the_plain_checksum(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "fields.key"
    p = platform_at(tmp_path, CITYBRAIN_AGGREGATION__KEY_FILE=str(key_file))
    try:
        agg, c = p.aggregator, p.field_cipher
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # made at first use, where the setting says
        run = agg.load_file("civil.members", members_csv(tmp_path / "members.csv"), as_of="2026-11-30")
        assert (run.status, run.rows_good, run.rows_bad, run.facts_new) == ("done", 4, 1, 4)
        assert run.checksum == checksum(plain_rows())  # the department's own sum over its plain table
        bill = {"身份证号": PEOPLE[2][0], "结算日期": "2026-11-28", "个人负担": 12800.5}
        push = agg.push("medical.bills", msgspec.json.encode(bill), as_of="2026-11-30")
        assert push.rows_good == 1

        stored = facts(p)
        assert len(stored) == 5 and secrets_in(msgspec.json.encode(stored)) == []  # keys, ids, data
        member = next(f for f in stored if f.dataset == "civil.members" and f.key == c.seal(PEOPLE[2][0]))
        assert member.data["id_number"] == member.key  # the key is sealed as the value is
        assert c.open_row(agg.dataset("civil.members"), member.data) == plain_rows()[2]
        current = p.store.current_rows("civil.members")
        assert len(current) == 4 and secrets_in(msgspec.json.encode(current)) == []
        assert sorted(c.open_row(agg.dataset("civil.members"), r.data)["name"] for r in current) == sorted(
            name for _, name, _ in PEOPLE
        )
        # one token per value platform-wide: the bill joins its member on the sealed ID number
        (bill_row,) = p.store.current_rows("medical.bills")
        assert bill_row.data["id_number"] == member.key and bill_row.key == f"{member.key}|2026-11-28"
        (reject,) = p.store.rejects(run.id)
        assert reject.raw["身份证号"] == BAD_ID[:2] + "*" * 14 + BAD_ID[-2:] and reject.raw["姓名"] == "**"
    finally:
        p.store.close()  # DuckDB checkpoints on close: everything is in the file
    data = b"".join(f.read_bytes() for f in (tmp_path / "var").iterdir() if f.is_file())
    assert secrets_in(data) == []

    # the same key again (a restart): the file re-read from the start adds no fact
    p = platform_at(tmp_path, CITYBRAIN_AGGREGATION__KEY_FILE=str(key_file))
    try:
        copy = members_csv(tmp_path / "copy.csv")
        again = p.aggregator.load_file("civil.members", copy, as_of="2026-11-30")
        assert again.status == "already" and again.id == run.id
        p.store.save_run(msgspec.structs.replace(run, status="failed"))  # as if killed before its end
        redone = p.aggregator.load_file("civil.members", copy, as_of="2026-11-30")
        assert (redone.status, redone.rows_good, redone.facts_new) == ("done", 4, 0)
        assert redone.checksum == run.checksum and len(facts(p)) == 5
    finally:
        p.store.close()


def test_the_file_check_would_see_plain_values(tmp_path: Path) -> None:
    """The control of the test above: without a cipher the same run leaves the ID numbers and
    names in the database file, so the byte search there does find them."""
    p = platform_at(tmp_path)
    try:
        plain = Aggregator(p.store, p.aggregator.datasets, lambda evs: p.publish(evs).accepted)
        run = plain.load_file("civil.members", members_csv(tmp_path / "members.csv"), as_of="2026-11-30")
        assert run.checksum == checksum(plain_rows())  # the same checksum, sealed or not
        assert {f.key for f in facts(p)} == {pid for pid, _, _ in PEOPLE}
    finally:
        p.store.close()
    data = b"".join(f.read_bytes() for f in (tmp_path / "var").iterdir() if f.is_file())
    assert sorted(secrets_in(data)) == sorted([pid for pid, _, _ in PEOPLE] + [n for _, n, _ in PEOPLE])


def test_a_shared_store_needs_the_key_file_given(tmp_path: Path) -> None:
    """With PostgreSQL (perhaps many nodes) a node never makes a key of its own: it would seal
    values the other nodes cannot open or join."""
    _postgres_up()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    p = platform_at(tmp_path, CITYBRAIN_STORE="postgres", CITYBRAIN_POSTGRES__DSN=PG_DSN,
                    CITYBRAIN_POSTGRES__SCHEMA=schema)  # fmt: skip
    try:
        key_file = tmp_path / "var" / "keys" / "fields.key"
        with pytest.raises(ConfigError, match=f"{key_file} does not exist"):
            _ = p.aggregator
        assert not key_file.exists()
        FieldCipher.from_file(key_file)  # the operator gives it (here: made, as on the first node)
        assert p.aggregator.cipher is not None and p.aggregator.cipher.seal("x") == p.field_cipher.seal("x")
    finally:
        p.store.close()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


PULLED = """
[[datasets]]
name = "hrss.insured"
title = "参保人员"
owner = "nc-hrss"
key = ["id_number"]
origin = "pull"
snapshot = false
dsn = "{dsn}"
table = "{table}"
watermark = "updated_at"
columns = [
  {{ name = "id_number", type = "id_number", required = true, sensitive = true }},
  {{ name = "name", sensitive = true }},
  {{ name = "updated_at", type = "date" }},
]
"""


@pytest.fixture(params=BACKENDS)
def source(request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    """A departmental server (MariaDB, PostgreSQL: tests/core/aggregation/test_pull.py) and a fresh
    table name, dropped after the test."""
    server, table = Server(request.param), f"sealed_{uuid.uuid4().hex[:12]}"
    yield server, table
    server.sql(f"DROP TABLE IF EXISTS {table}")
    server.conn.close()


def test_a_pull_keyed_by_id_number_stores_its_watermark_sealed_and_resumes_after_it(
    tmp_path: Path, source: tuple[Server, str]
) -> None:
    """A pull's watermark holds the last row's key (ties on the updated-at time are broken by it):
    stored sealed, opened again for the next pull, which reads on after that very row."""
    server, table = source
    server.sql(f"CREATE TABLE {table} (id_number VARCHAR(18) PRIMARY KEY, name VARCHAR(20), "
               f"updated_at {server.t('ts')}){server.t('table')}")  # fmt: skip
    insert = f"INSERT INTO {table} VALUES (%s, %s, %s)"
    same_time = datetime(2026, 11, 30, 8, 0, 0)  # every row: only the key orders them
    server.many(insert, [(pid, name, same_time) for pid, name, _ in PEOPLE[:3]])
    p = platform_at(tmp_path, PULLED.format(dsn=server.dsn, table=table))
    try:
        first = p.aggregator.pull("hrss.insured", page_size=2)
        assert (first.status, first.rows_read, first.facts_new) == ("done", 3, 3)
        mark = p.store.mark("hrss.insured")
        assert mark is not None and p.field_cipher.seal(PEOPLE[2][0]) in mark
        assert secrets_in(mark.encode()) == [] and secrets_in(msgspec.json.encode(p.store.runs())) == []
        server.many(insert, [(PEOPLE[3][0], PEOPLE[3][1], same_time)])  # sorts after the others
        second = p.aggregator.pull("hrss.insured", page_size=2)
        assert (second.status, second.rows_read, second.facts_new) == ("done", 1, 1)
        assert sorted(f.key for f in facts(p)) == sorted(p.field_cipher.seal(pid) for pid, _, _ in PEOPLE)
    finally:
        p.store.close()

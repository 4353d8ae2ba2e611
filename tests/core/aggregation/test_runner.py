"""Runs of datasets on a real platform (issue 15 item 1): a GBK CSV file drop with bad rows
quarantined and good rows never blocked, the same file again is answered "already", a changed
delivery adds only what changed, an Excel file, a delivery that shrinks and a source that is late
raise alerts (and a delivery resolves lateness), and every run's report and refused rows are kept."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from citybrain.core.aggregation.facts import Fact
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.testing import server_ports_env

# 11010519491231002X: a valid resident ID (ISO 7064 MOD 11-2 check digit X); 110105194912310021 is not
GOOD_ID, BAD_ID = "11010519491231002X", "110105194912310021"
DATASETS = """
[[datasets]]
name = "civil.dibao"
title = "低保名册"
owner = "nc-civil"
key = ["household"]
origin = "file"
folder = "{folder}"
format = "{format}"
cadence_h = 720
columns = [
  {{ name = "household", source = "户编号", required = true }},
  {{ name = "head_id", source = "户主身份证号", type = "id_number", sensitive = true }},
  {{ name = "members", source = "家庭人口", type = "int", min = 1, max = 20, required = true }},
  {{ name = "income", source = "月人均收入", type = "float", min = 0 }},
  {{ name = "village", source = "村代码", type = "area" }},
  {{ name = "since", source = "纳入日期", type = "date" }},
]
"""
HEADER = "户编号,户主身份证号,家庭人口,月人均收入,村代码,纳入日期"
ROWS = [
    f"H001,{GOOD_ID},3,520.5,360121100201,2024-03-01",
    f"H002,{BAD_ID},2,610,360121100201,2024/05/10",  # a wrong check digit: refused
    "H003,,0,480,360121100202,20240601",  # no members (0 is below the minimum): refused
    "H004,,4,,360121100202,",
    "H005,,1,300,36012110,2025-01-15",  # a township-level code (8 digits) is no area code: refused
]


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def platform_for(tmp_path: Path, drop: Path, fmt: str = "csv") -> Platform:
    (tmp_path / "datasets.toml").write_text(DATASETS.format(folder=drop, format=fmt), encoding="utf-8")
    env = {"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env(),
           "CITYBRAIN_AGGREGATION__DATASETS_FILE": str(tmp_path / "datasets.toml")}  # fmt: skip
    return Platform(load_settings(env=env), scenes={})


@pytest.fixture
def platform(tmp_path: Path, drop: Path) -> Iterator[Platform]:
    p = platform_for(tmp_path, drop)
    yield p
    p.store.close()


def facts(p: Platform) -> list[Fact]:
    found = [e for e in p.store.find_events(["facts.row"]) if isinstance(e, Fact)]
    return sorted(found, key=lambda f: (f.key, f.ts))


def write_csv(path: Path, rows: list[str], encoding: str = "gbk") -> Path:
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    return path


def aged(path: Path) -> Path:
    """A file last written a minute ago: a drop folder reads only files that have settled."""
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def test_a_gbk_file_drop_keeps_good_rows_and_quarantines_the_bad(platform: Platform, drop: Path) -> None:
    agg = platform.aggregator
    fresh = write_csv(drop / "dibao-2026-11.csv", ROWS)
    assert agg.load_folder("civil.dibao") == []  # just written: perhaps still being copied in
    aged(fresh)
    (run,) = agg.load_folder("civil.dibao")
    assert agg.load_folder("civil.dibao") == []  # read once
    assert (run.status, run.rows_read, run.rows_good, run.rows_bad, run.facts_new) == ("done", 5, 2, 3, 2)
    assert run.where == "dibao-2026-11.csv" and run.id.startswith("civil.dibao:")
    got = facts(platform)
    assert [f.key for f in got] == ["H001", "H004"]
    h1 = got[0]
    assert h1.data["head_id"] != GOOD_ID  # sensitive: stored sealed (test_fieldcrypt.py)
    assert platform.field_cipher.open_row(agg.dataset("civil.dibao"), h1.data) == {
        "household": "H001", "head_id": GOOD_ID, "members": 3, "income": 520.5, "village": "360121100201",
        "since": "2024-03-01"}  # fmt: skip
    assert (h1.dataset, h1.batch, h1.row, h1.source) == ("civil.dibao", run.id, 2, "nc-civil")
    assert got[1].data["income"] is None and got[1].data["since"] is None
    rejects = platform.store.rejects(run.id)
    assert [r.row for r in rejects] == [3, 4, 6]  # the line numbers in the file (the header is line 1)
    assert (
        rejects[0].problems[0]["field"] == "户主身份证号"
        and "check digit" in rejects[0].problems[0]["reason"]
    )
    assert rejects[0].raw["户主身份证号"] == "11**************21"  # sensitive: masked where it is kept
    assert rejects[1].problems == [{"field": "家庭人口", "reason": "0 is below the minimum 1"}]
    assert rejects[2].problems[0]["field"] == "村代码"
    assert platform.store.run(run.id) == run


def test_the_same_delivery_again_adds_nothing_and_every_new_one_states_its_rows(
    platform: Platform, drop: Path, tmp_path: Path
) -> None:
    agg = platform.aggregator
    first = agg.load_file("civil.dibao", write_csv(tmp_path / "a.csv", ROWS), as_of="2026-10-31")
    again = agg.load_file("civil.dibao", write_csv(tmp_path / "copy-of-a.csv", ROWS), as_of="2026-10-31")
    assert again.status == "already" and again.id == first.id and len(facts(platform)) == 2
    changed = [ROWS[0].replace(",520.5,", ",700,"), *ROWS[1:]]
    second = agg.load_file("civil.dibao", write_csv(tmp_path / "b.csv", changed), as_of="2026-11-30")
    assert (second.status, second.rows_good, second.facts_new) == ("done", 2, 2)
    # the next month's roster unchanged is a delivery of its own (its date), not "already"
    third = agg.load_file("civil.dibao", write_csv(tmp_path / "c.csv", ROWS), as_of="2026-12-31")
    assert (third.status, third.facts_new) == ("done", 2)
    h1 = [f for f in facts(platform) if f.key == "H001"]
    # the income changed and changed back: every state is a fact, with its date
    assert [(f.as_of, f.data["income"]) for f in h1] == [("2026-10-31", 520.5), ("2026-11-30", 700.0),
                                                         ("2026-12-31", 520.5)]  # fmt: skip
    assert second.checksum != first.checksum and third.checksum == first.checksum
    current = platform.store.current_rows("civil.dibao")
    assert [(r.key, r.as_of, r.data["income"]) for r in current] == [
        ("H001", "2026-12-31", 520.5), ("H004", "2026-12-31", None)]  # fmt: skip
    # January's roster without H004: it has left the roster
    fourth = agg.load_file("civil.dibao", write_csv(tmp_path / "d.csv", ROWS[:1]), as_of="2027-01-31")
    assert [r.key for r in platform.store.current_rows("civil.dibao")] == ["H001"] and fourth.rows_good == 1
    assert {r.id for r in platform.store.runs("civil.dibao")} == {first.id, second.id, third.id, fourth.id}


def test_an_excel_file(tmp_path: Path, drop: Path) -> None:
    p = platform_for(tmp_path, drop, "xlsx")
    try:
        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = "低保名册"
        ws.append(HEADER.split(","))
        ws.append(["H001", GOOD_ID, 3, 520.5, 360121100201, "2024-03-01"])  # the village code as a number
        ws.append(["H002", None, "两口", 610, "360121100201", None])
        wb.save(drop / "dibao.xlsx")
        aged(drop / "dibao.xlsx")
        (run,) = p.aggregator.load_folder("civil.dibao")
        assert (run.rows_good, run.rows_bad) == (1, 1)
        assert facts(p)[0].data["village"] == "360121100201"
        assert p.store.rejects(run.id)[0].problems[0]["field"] == "家庭人口"
    finally:
        p.store.close()


def alerts(p: Platform, rule: str) -> list[Any]:
    return [a for a in p.store.alerts(AlertQuery(scene="platform", limit=100)) if a.rule == rule]


def test_a_shrinking_delivery_and_a_late_source_raise_alerts(platform: Platform, tmp_path: Path) -> None:
    agg = platform.aggregator
    clock = agg.clock = Clock(1_780_000_000_000)
    many = [f"H{i:03d},,2,500,360121100201,2024-03-01" for i in range(1, 41)]
    agg.load_file("civil.dibao", write_csv(tmp_path / "full.csv", many))
    agg.load_file("civil.dibao", write_csv(tmp_path / "cut.csv", many[:15]))  # 15 of 40: below half
    (shrunk,) = alerts(platform, "aggregation.shrunk")
    assert len(platform.store.current_rows("civil.dibao")) == 40  # a shrunk delivery removes nothing
    assert shrunk.key == "civil.dibao" and shrunk.status == "open" and "15 good rows" in shrunk.message
    assert shrunk.data["previous_rows_good"] == 40

    assert agg.check_late() == []  # delivered just now
    clock.ms += int(720 * 1.5 * 3_600_000) + 1  # a cadence and a half later
    assert agg.check_late() == ["civil.dibao"] and agg.check_late() == ["civil.dibao"]
    (late,) = alerts(platform, "aggregation.late")
    assert late.status == "open" and late.count == 2  # judged twice: one alert, counted
    nothing = agg.load_file("civil.dibao", write_csv(tmp_path / "bad.csv", ["H999,,0,1,1,1"]))
    assert nothing.rows_good == 0 and alerts(platform, "aggregation.late")[0].status == "open"  # no good row
    agg.load_file("civil.dibao", write_csv(tmp_path / "next.csv", many))
    (late,) = alerts(platform, "aggregation.late")
    assert late.status == "resolved" and late.resolved_by == "system"


def test_a_file_that_cannot_be_read_fails_its_run_with_the_reason(platform: Platform, tmp_path: Path) -> None:
    bad = tmp_path / "no-key.csv"
    bad.write_text("家庭人口,月人均收入\n3,500\n", encoding="utf-8")
    run = platform.aggregator.load_file("civil.dibao", bad)
    assert run.status == "failed" and "户编号" in run.error and "no-key.csv" in run.error
    assert platform.store.run(run.id) is not None and facts(platform) == []


def test_a_late_or_flawed_delivery_does_not_take_rows_away(platform: Platform, tmp_path: Path) -> None:
    agg = platform.aggregator
    good = [r for r in ROWS if r.startswith(("H001", "H004"))]
    agg.load_file("civil.dibao", write_csv(tmp_path / "nov.csv", good), as_of="2026-11-30")
    agg.load_file("civil.dibao", write_csv(tmp_path / "dec.csv", good[:1]), as_of="2026-12-31")
    assert [r.key for r in platform.store.current_rows("civil.dibao")] == ["H001"]  # H004 left in December
    late = agg.load_file(
        "civil.dibao", write_csv(tmp_path / "oct.csv", good), as_of="2026-10-31"
    )  # arrives late
    assert late.status == "done" and [r.key for r in platform.store.current_rows("civil.dibao")] == ["H001"]
    # January's file has H001's row refused (a typo): H001 is not taken away for it
    typo = agg.load_file("civil.dibao", write_csv(tmp_path / "jan.csv", ["H001,,三,520.5,360121100201,"]),
                         as_of="2027-01-31")  # fmt: skip
    assert typo.rows_bad == 1 and [r.key for r in platform.store.current_rows("civil.dibao")] == ["H001"]

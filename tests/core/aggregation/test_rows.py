"""A delivered row checked against its dataset (rows.py): typed values from text, Excel and JSON
cells, hand-computed; bounds inclusive; ID numbers by their ISO 7064 MOD 11-2 check digit; every
problem of a row reported with its header and row number; keys and masked rows; and fuzzing with
random cells of random types, which only ever give values or problems.

Values that once slipped through are kept as cases: short sensitive values masked whole, a
5,000-digit number refused (not raised), full-width digits refused as area codes, and a genuine ID
number of a county younger than its holder accepted.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.aggregation.rows import check_row, key_of, masked_raw
from citybrain.core.errors import Problem

DS = Dataset(
    name="civil.dibao_roster",
    title="低保名册",
    owner="civil",
    key=["id_no"],
    columns=[
        Column("head_name", source="户主姓名", required=True),
        Column("id_no", type="id_number", source="身份证号", sensitive=True),
        Column("size", type="int", source="家庭人口", min=1, max=20),
        Column("income", type="float", source="月收入", min=0, max=100000),
        Column("since", type="date", source="认定日期"),
        Column("disabled", type="bool", source="是否残疾"),
        Column("area", type="area", source="行政区划"),
        Column("kind", source="类别", choices=["城市", "农村"]),
        Column("phone", source="联系电话"),
        Column("note"),  # no source: its header is its name
    ],
    origin="push",
)
DS.check()
HEADERS = [c.header for c in DS.columns]
NAMES = [c.name for c in DS.columns]


def check_digit(base: str) -> str:
    """GB 11643's check digit of 17 digits: ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11)."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(base))
    c = (12 - total % 11) % 11
    return "X" if c == 10 else str(c)


def test_check_digit_by_hand() -> None:
    assert [2 ** (17 - i) % 11 for i in range(17)] == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    # 1*7 + 1*9 + 0 + 1*5 + 0 + 5*4 + 1*2 + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10 + 1*5 + 0 + 0 + 2*2 = 167
    # 167 mod 11 = 2; (12 - 2) mod 11 = 10: "X"
    assert check_digit("11010519491231002") == "X"
    assert check_digit("11010519800101001") == "6"


ID_X = "11010519491231002" + check_digit("11010519491231002")  # 11010519491231002X
ID_6 = "11010519800101001" + check_digit("11010519800101001")  # 110105198001010016


def good(**change: Any) -> dict[str, Any]:
    """A good row as delivered (headers -> cells), with some cells changed."""
    raw: dict[str, Any] = {
        "户主姓名": " 张三 ",
        "身份证号": ID_X,
        "家庭人口": "3",
        "月收入": "1,200.50",
        "认定日期": "2026-11-30",
        "是否残疾": "否",
        "行政区划": "110105",
        "类别": "城市",
        "联系电话": 13800001234.0,
        "note": "x",
        "not_a_column": "ignored",
    }
    raw.update(change)
    return raw


def one(header: str, cell: Any) -> tuple[Any, list[Problem]]:
    """The typed value of one cell in an otherwise good row (None when refused), and the problems."""
    values, problems = check_row(DS, 9, good(**{header: cell}))
    return (None if values is None else values[NAMES[HEADERS.index(header)]]), problems


def refused(header: str, cell: Any) -> str:
    """The reason one cell is refused (the only problem; on row 9, under its header)."""
    value, problems = one(header, cell)
    assert value is None
    assert len(problems) == 1
    p = problems[0]
    assert (p.line, p.field) == (9, header)
    return p.reason


def test_a_good_row() -> None:
    assert check_row(DS, 2, good()) == (
        {
            "head_name": "张三",
            "id_no": "11010519491231002X",
            "size": 3,
            "income": 1200.5,
            "since": "2026-11-30",
            "disabled": False,
            "area": "110105",
            "kind": "城市",
            "phone": "13800001234",
            "note": "x",
        },
        [],
    )


@pytest.mark.parametrize(
    ("header", "cell", "value"),
    [
        ("家庭人口", 1, 1),  # the minimum, inclusive
        ("家庭人口", "20", 20),  # the maximum, inclusive
        ("家庭人口", 20.0, 20),
        ("家庭人口", " +7 ", 7),
        ("月收入", 0, 0.0),
        ("月收入", "0.00", 0.0),
        ("月收入", 100000, 100000.0),
        ("月收入", "100,000", 100000.0),
        ("月收入", 99999.99, 99999.99),
    ],
)
def test_bounds_inclusive(header: str, cell: Any, value: Any) -> None:
    got, problems = one(header, cell)
    assert problems == []
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("header", "cell", "reason"),
    [
        ("家庭人口", 0, "0 is below the minimum 1"),
        ("家庭人口", "21", "21 is above the maximum 20"),
        ("家庭人口", -1, "-1 is below the minimum 1"),
        ("月收入", -0.01, "-0.01 is below the minimum 0"),
        ("月收入", "100000.01", "100000.01 is above the maximum 100000"),
    ],
)
def test_bounds_one_step_out_refused(header: str, cell: Any, reason: str) -> None:
    assert refused(header, cell) == reason


@pytest.mark.parametrize(
    "cell",
    [
        "2026-11-30",
        "2026/11/30",
        "20261130",
        "2026年11月30日",
        "2026.11.30",
        " 2026-11-30 08:15:00 ",
        "2026-11-30T08:15",
        datetime(2026, 11, 30, 8, 15),  # an Excel date cell
        date(2026, 11, 30),  # Parquet date32
        20261130,
        20261130.0,  # 20261130 typed into a number cell
    ],
)
def test_dates(cell: Any) -> None:
    assert one("认定日期", cell) == ("2026-11-30", [])


def test_dates_short_parts_and_leap_days() -> None:
    assert one("认定日期", "2026/1/5") == ("2026-01-05", [])
    assert one("认定日期", "2024-02-29") == ("2024-02-29", [])
    assert "is not a date" in refused("认定日期", "2026-02-29")
    assert "is not a date" in refused("认定日期", "2026-13-01")
    assert refused("认定日期", "30/11/2026") == "'30/11/2026' is not a date (YYYY-MM-DD)"
    assert refused("认定日期", 46000) == "'46000' is not a date (YYYY-MM-DD)"  # an Excel serial day


def test_excel_numbers_as_text() -> None:
    assert one("联系电话", 13800001234.0) == ("13800001234", [])
    assert one("联系电话", 13800001234) == ("13800001234", [])
    assert one("联系电话", " 13800001234 ") == ("13800001234", [])
    assert one("note", 1.5) == ("1.5", [])
    assert one("行政区划", 110105.0) == ("110105", [])
    assert one("行政区划", 110105) == ("110105", [])


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        *[("是", True), ("否", False), ("1", True), ("0", False), (1, True), (0, False), (1.0, True)],
        *[
            (True, True),
            ("TRUE", True),
            ("yes", True),
            ("有", True),
            ("无", False),
            (False, False),
            (" N ", False),
        ],
    ],
)
def test_bools(cell: Any, value: bool) -> None:
    assert one("是否残疾", cell) == (value, [])


def test_refused_values() -> None:
    assert refused("家庭人口", "3.5") == "'3.5' is not a whole number"
    assert refused("家庭人口", 3.5) == "3.5 is not a whole number"
    assert refused("家庭人口", True) == "True is a yes/no, not a whole number"
    assert refused("家庭人口", "三") == "'三' is not a whole number"
    assert refused("月收入", "abc") == "'abc' is not a number"
    assert refused("月收入", math.inf) == "inf is not a finite number"
    assert refused("月收入", "nan") == "'nan' is not a finite number"
    assert refused("月收入", False) == "False is a yes/no, not a number"
    assert "is not yes/no" in refused("是否残疾", "可能")
    assert "is not yes/no" in refused("是否残疾", 2)
    assert refused("类别", "城镇") == "'城镇' is not one of ['城市', '农村']"


def test_area_codes() -> None:
    for code in ["11", "1101", "110105", "110105001", "110105001001", "110105001001001"]:
        assert one("行政区划", code) == (code, [])
    assert "is not an area code" in refused("行政区划", "11010")
    assert "is not an area code" in refused("行政区划", "1101a5")
    assert "is not an area code" in refused("行政区划", "1101050010010010")


def test_id_numbers() -> None:
    assert one("身份证号", ID_X) == ("11010519491231002X", [])
    assert one("身份证号", ID_X.lower()) == ("11010519491231002X", [])  # a lower-case x
    assert one("身份证号", ID_6) == ("110105198001010016", [])
    assert one("身份证号", int(ID_6)) == ("110105198001010016", [])
    wrong = "11010519491231002" + "1"
    assert "check digit" in refused("身份证号", wrong)
    assert "check digit" in refused("身份证号", ID_6[:-1] + "X")
    assert refused("身份证号", ID_X[:-1]) == "an ID number has 18 characters, not 17"
    # a birth date that does not exist, with the right check digit: refused, but not for the digit
    no_day = "11010519491331002" + check_digit("11010519491331002")
    reason = refused("身份证号", no_day)
    assert reason.startswith("not a valid resident ID number") and "check digit" not in reason


def test_every_problem_of_a_row_is_reported() -> None:
    raw = good(
        **{
            "户主姓名": "  ",
            "身份证号": "110105194912310021",
            "家庭人口": "0",
            "月收入": "abc",
            "认定日期": "2026-02-30",
            "类别": "城镇",
        }
    )
    del raw["note"]  # optional: fine
    values, problems = check_row(DS, 7, raw)
    assert values is None
    assert [(p.line, p.field) for p in problems] == [
        (7, "户主姓名"),
        (7, "身份证号"),
        (7, "家庭人口"),
        (7, "月收入"),
        (7, "认定日期"),
        (7, "类别"),
    ]
    assert problems[0].reason == "is empty; it is required"
    assert "check digit" in problems[1].reason
    assert problems[2].reason == "0 is below the minimum 1"


def test_missing_key_and_optional_columns() -> None:
    raw = good()
    del raw["身份证号"]
    assert check_row(DS, 3, raw) == (None, [Problem(3, "身份证号", "is empty; it is required")])
    assert check_row(DS, 3, good(身份证号=None))[1] == [Problem(3, "身份证号", "is empty; it is required")]
    values, problems = check_row(DS, 3, good(家庭人口="", 月收入=math.nan, 认定日期=" ", note=None))
    assert problems == [] and values is not None
    assert (values["size"], values["income"], values["since"], values["note"]) == (None, None, None, None)
    values, _ = check_row(DS, 3, {"户主姓名": "张三", "身份证号": ID_X})
    assert values is not None and [n for n, v in values.items() if v is not None] == ["head_name", "id_no"]


def test_key_of() -> None:
    values, _ = check_row(DS, 2, good())
    assert values is not None
    assert key_of(DS, values) == "11010519491231002X"
    two = Dataset(
        name="civil.households",
        title="t",
        owner="civil",
        key=["area", "head_name"],
        columns=[Column("head_name"), Column("area", type="area"), Column("size", type="int")],
        origin="push",
    )
    values, _ = check_row(two, 2, {"area": 110105.0, "head_name": "张三", "size": "2"})
    assert values is not None
    assert key_of(two, values) == "110105|张三"


def test_masked_raw() -> None:
    raw = {
        "户主姓名": "张三",
        "身份证号": ID_X,
        "联系电话": 13800001234.0,
        "月收入": None,
        "认定日期": datetime(2026, 11, 30),
        "extra": 5,
    }
    assert masked_raw(DS, raw) == {
        "户主姓名": "张三",
        "身份证号": "11" + "*" * 14 + "2X",
        "联系电话": "13800001234",
        "月收入": "",
        "认定日期": "2026-11-30 00:00:00",
        "extra": "5",
    }
    assert masked_raw(DS, {"身份证号": ""}) == {"身份证号": ""}


@pytest.mark.parametrize("secret", ["张三", "123", "1234"])
def test_masked_raw_hides_short_sensitive_values(secret: str) -> None:
    shown = masked_raw(DS, {"身份证号": secret})["身份证号"]
    assert shown != secret and len(shown) <= len(secret), shown  # got "张三张三", "1223", "1234"


def test_a_huge_whole_number_is_refused_not_raised() -> None:
    assert "whole number" in refused("家庭人口", "1" * 5000)


@pytest.mark.parametrize("cell", ["１１０１０５", "²²"])
def test_area_codes_are_ascii_digits(cell: str) -> None:
    value, problems = one("行政区划", cell)
    assert problems or value == "110105"  # refused, or made ASCII


def test_an_id_number_issued_in_a_county_younger_than_its_holder() -> None:
    nanshan = "44030519800101001" + check_digit("44030519800101001")  # born 1980, registered in 南山区
    assert one("身份证号", nanshan) == (nanshan, [])


# --- fuzzing -------------------------------------------------------------------------------------

CELL = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.from_regex(r"\A[0-9Xx年月日/.\-:T, +]{0,20}\Z"),
    st.integers(),
    st.floats(),  # NaN and infinities included
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.sampled_from([ID_X, ID_6, "110105", "城市", "是", "2026-11-30", 13800001234.0, 1e300, -0.0]),
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@settings(max_examples=400, deadline=None)
@given(raw=st.dictionaries(st.sampled_from([*HEADERS, "other"]), CELL), row_no=st.integers(1, 10**6))
def test_fuzz_check_row_gives_values_or_problems(raw: dict[str, Any], row_no: int) -> None:
    values, problems = check_row(DS, row_no, raw)
    if values is None:
        assert problems
        assert all(p.line == row_no for p in problems)
        fields = [p.field for p in problems]
        assert len(set(fields)) == len(fields) and set(fields) <= set(HEADERS)
    else:
        assert problems == []
        assert list(values) == NAMES
        msgspec.json.encode(values)  # JSON-able: no NaN, no date objects
        for c in DS.columns:
            v = values[c.name]
            if v is None:
                assert not (c.required or c.name in DS.key)
                continue
            got_type: type = type(v)  # not narrowing v
            assert got_type is {"int": int, "float": float, "bool": bool}.get(c.type, str), (c.name, v)
            if c.type in ("int", "float"):
                assert math.isfinite(v)
                assert (c.min is None or v >= c.min) and (c.max is None or v <= c.max)
            if c.type == "date":
                assert ISO_DATE.fullmatch(v) and date.fromisoformat(v)
            if c.type == "id_number":
                assert len(v) == 18 and check_digit(v[:17]) == v[17]
            if c.choices:
                assert v in c.choices
        assert key_of(DS, values) == values["id_no"]
    masked = masked_raw(DS, raw)
    assert set(masked) == set(raw) and all(isinstance(v, str) for v in masked.values())


def test_thousands_separators_but_no_decimal_commas() -> None:
    assert "whole number" in refused("家庭人口", "1,2")
    assert one("月收入", "12,345.50") == (12345.5, [])
    assert "is not a number" in refused("月收入", "1,5")  # a decimal comma is not read as 15
    assert "is not a number" in refused("月收入", "12,34,5")


def test_a_sensitive_value_never_reaches_a_reason() -> None:
    no_day = "11010519991330002" + check_digit("11010519991330002")
    reason = refused("身份证号", no_day)
    assert "1999" not in reason and "1330" not in reason and reason.startswith("not a valid resident ID")


def test_keys_that_would_not_be_one_entity_are_refused() -> None:
    columns = [Column("household", required=True), Column("member", required=True)]
    ds = Dataset(name="civil.members", title="成员", owner="civil", key=["household", "member"],
                 origin="push", columns=columns)  # fmt: skip
    assert check_row(ds, 2, {"household": "H1", "member": "01"}) == ({"household": "H1", "member": "01"}, [])
    _, bar = check_row(ds, 3, {"household": "H1|0", "member": "1"})
    assert "holds '|'" in bar[0].reason  # else (H1|0, 1) and (H1, 0|1) would be one entity
    _, long = check_row(ds, 4, {"household": "户" * 130, "member": "1"})
    assert "over 128 characters" in long[0].reason

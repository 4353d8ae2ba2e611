"""Rules as dated, versioned configuration (issue 15 item 3): 低保 eligibility over hand-computed
households with every threshold at its boundary, the region's and the day's rule version chosen,
a whole population decided by SQL and each subject explained in Python with the same answers (a
property test over random values, missing ones included), "what if" a standard rises, and rules
that hold anything but the small expression language refused with the reason."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import ConfigError
from citybrain.core.rules.evaluate import _nan_as_null, explain, screen, what_if
from citybrain.core.rules.expr import parse
from citybrain.core.rules.rulesets import ClauseSpec, RuleFile, RuleSet, RuleSetSpec, load_rules

RULES = """
[[rulesets]]
name = "dibao"
title = "最低生活保障"
region = "3601"
valid_from = "2026-01-01"
version = "2026.1"
source = "南昌市 2026 年低保标准 (illustrative)"
features = ["income_pc_month", "vehicles", "dwellings", "non_residential", "assets_pc"]
params = { standard_month = 900, max_dwellings = 1, asset_months = 24 }

[[rulesets.clauses]]
name = "income"
title = "家庭月人均收入低于低保标准"
expr = "income_pc_month < standard_month"

[[rulesets.clauses]]
name = "vehicles"
title = "无机动车"
expr = "vehicles == 0"

[[rulesets.clauses]]
name = "housing"
title = "住房不超过一套且无非住宅"
expr = "dwellings <= max_dwellings and non_residential == 0"

[[rulesets.clauses]]
name = "assets"
title = "人均金融资产不超过24个月低保标准"
expr = "assets_pc <= standard_month * asset_months"

[[rulesets]]
name = "dibao"
title = "最低生活保障(南昌县)"
region = "360121"
valid_from = "2026-01-01"
version = "2026.1-nc"
features = ["income_pc_month", "vehicles", "dwellings", "non_residential", "assets_pc"]
params = { standard_month = 800, max_dwellings = 1, asset_months = 24 }
clauses = [
  { name = "income", title = "家庭月人均收入低于低保标准", expr = "income_pc_month < standard_month" },
  { name = "vehicles", title = "无机动车", expr = "vehicles == 0" },
]

[[rulesets]]
name = "dibao"
title = "最低生活保障(南昌县)"
region = "360121"
valid_from = "2026-07-01"
version = "2026.2-nc"
features = ["income_pc_month", "vehicles", "dwellings", "non_residential", "assets_pc"]
params = { standard_month = 820, max_dwellings = 1, asset_months = 24 }
clauses = [
  { name = "income", title = "家庭月人均收入低于低保标准", expr = "income_pc_month < standard_month" },
  { name = "vehicles", title = "无机动车", expr = "vehicles == 0" },
]
"""

# key, area, income, vehicles, dwellings, non-residential, assets per person -> outcome in 3601 (900)
HOUSEHOLDS: list[tuple[str, str, Any, Any, Any, Any, Any, str, list[str]]] = [
    ("H01", "360102001001", 899.99, 0, 1, 0, 21600.0, "eligible", []),  # every threshold just met
    ("H02", "360102001001", 900.0, 0, 1, 0, 0.0, "ineligible", ["income"]),  # income == standard
    ("H03", "360102001001", 500.0, 1, 1, 0, 0.0, "ineligible", ["vehicles"]),
    ("H04", "360102001001", 500.0, 0, 2, 0, 0.0, "ineligible", ["housing"]),  # a second dwelling
    ("H05", "360102001001", 500.0, 0, 0, 1, 0.0, "ineligible", ["housing"]),  # a shop
    ("H06", "360102001001", 500.0, 0, 1, 0, 21600.01, "ineligible", ["assets"]),  # a cent over 24 months
    ("H07", "360102001001", None, 0, 1, 0, 0.0, "needs_review", []),  # no income data
    ("H08", "360102001001", None, 2, 1, 0, None, "ineligible", ["vehicles"]),  # a failed clause decides
    ("H09", "360121100201", 819.0, 0, 5, 5, 1e9, "eligible", []),  # 南昌县 from 07-01: 820, two clauses
    ("H10", "360121100201", 820.0, 0, 0, 0, 0.0, "ineligible", ["income"]),
    ("H11", "360402001001", 100.0, 0, 0, 0, 0.0, "", []),  # 九江: no rules here
]


@pytest.fixture
def book(tmp_path: Path) -> Any:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    return load_rules(path)


def population(rows: list[tuple[Any, ...]] = HOUSEHOLDS) -> pa.Table:
    cols = ["key", "area", "income_pc_month", "vehicles", "dwellings", "non_residential", "assets_pc"]
    types = [pa.string(), pa.string(), pa.float64(), pa.int64(), pa.int64(), pa.int64(), pa.float64()]
    return pa.table(
        {c: pa.array([r[i] for r in rows], t) for i, (c, t) in enumerate(zip(cols, types, strict=True))}
    )


def test_a_population_is_decided_by_its_regions_rules_of_the_day(book: Any) -> None:
    out = {r["key"]: r for r in screen(book, "dibao", date(2026, 12, 1), population()).to_pylist()}
    assert "H11" not in out  # no region with rules covers it
    for key, *_, outcome, failed in HOUSEHOLDS[:-1]:
        assert (out[key]["outcome"], out[key]["failed"]) == (outcome, failed), key
    assert out["H07"]["unknown"] == ["income"] and out["H08"]["unknown"] == ["income", "assets"]
    assert out["H09"]["version"] == "2026.2-nc" and out["H01"]["version"] == "2026.1"
    # on 2026-06-30 南昌县 still had 800: H09 (819) was not eligible
    before = {r["key"]: r for r in screen(book, "dibao", date(2026, 6, 30), population()).to_pylist()}
    assert before["H09"]["outcome"] == "ineligible" and before["H09"]["version"] == "2026.1-nc"
    assert book.for_area("dibao", "360121100201", date(2026, 12, 1)).version == "2026.2-nc"
    assert book.for_area("dibao", "360402", date(2026, 12, 1)) is None
    assert book.in_force("dibao", date(2025, 12, 31)) == []


def test_each_decision_is_explained_with_its_values_sources_and_version(book: Any) -> None:
    rs = book.for_area("dibao", "360102001001", date(2026, 12, 1))
    sources = {"income_pc_month": {"dataset": "hrss.wages", "as_of": "2026-11-30"},
               "vehicles": {"dataset": "police.vehicles", "as_of": "2026-11-28"}}  # fmt: skip
    d = explain(rs, "H06", {"income_pc_month": 500.0, "vehicles": 0, "dwellings": 1, "non_residential": 0,
                            "assets_pc": 21600.01}, sources)  # fmt: skip
    assert (d.outcome, d.failed, d.unknown, d.version, d.region, d.valid_from) == (
        "ineligible", ["assets"], [], "2026.1", "3601", "2026-01-01")  # fmt: skip
    assets = d.clauses[3]
    assert (
        assets.title == "人均金融资产不超过24个月低保标准"
        and assets.expr == "assets_pc <= standard_month * asset_months"
    )
    assert assets.values == {"assets_pc": 21600.01} and assets.params == {
        "asset_months": 24,
        "standard_month": 900,
    }
    assert d.sources == sources
    # and the same outcomes as the population's, for every household
    out = {r["key"]: r["outcome"] for r in screen(book, "dibao", date(2026, 12, 1), population()).to_pylist()}
    names = ["income_pc_month", "vehicles", "dwellings", "non_residential", "assets_pc"]
    for key, area, *vals, _outcome, _failed in HOUSEHOLDS[:-1]:
        rs = book.for_area("dibao", area, date(2026, 12, 1))
        assert explain(rs, key, dict(zip(names, vals, strict=True))).outcome == out[key], key


def test_what_if_the_standard_rises(book: Any) -> None:
    features = ["income_pc_month", "vehicles", "dwellings", "non_residential", "assets_pc"]
    params: dict[str, bool | int | float | str] = {
        "standard_month": 950,
        "max_dwellings": 1,
        "asset_months": 24,
    }
    spec = RuleSetSpec(name="dibao", title="最低生活保障", region="3601", valid_from="2027-01-01",
                       version="2027.1", features=features, params=params,
                       clauses=load_spec_clauses())  # fmt: skip
    rows = [*HOUSEHOLDS[:-1], ("H12", "360102001001", 949.0, 0, 1, 0, 0.0, "", [])]
    changed = what_if(book, "dibao", date(2026, 12, 1), [RuleSet.of(spec)], population(rows)).to_pylist()
    # H02 (900) and H12 (949) gain; H06's assets limit rose to 22,800 (950 x 24): it gains too
    gained = [
        ("H02", "ineligible", "eligible"),
        ("H06", "ineligible", "eligible"),
        ("H12", "ineligible", "eligible"),
    ]
    assert [(c["key"], c["before"], c["after"]) for c in changed] == gained


def load_spec_clauses() -> list[ClauseSpec]:
    parsed = msgspec.convert(tomllib.loads(RULES), RuleFile)
    clauses: list[ClauseSpec] = parsed.rulesets[0].clauses
    return clauses


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("income.__class__", "Attribute is not allowed"),
        ("open('x')", "only coalesce, abs, min, max may be called"),
        ("[x for x in y]", "ListComp is not allowed"),
        ("income[0] > 1", "Subscript is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("income >", "is not an expression"),
        ("_secret > 1", "the name '_secret' is not allowed"),
        ("min(income)", "min takes 2..2 values"),
        ("income in income", "'in' takes a list"),
        ("income in ()", "'in' takes at least one value"),
        ("income ** 2 > 1", "Pow is not allowed"),
    ],
)
def test_anything_but_the_rule_language_is_refused(expr: str, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        parse(expr, "clause x")


def test_a_clause_reading_an_undeclared_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    wrong = RULES.replace('expr = "vehicles == 0"', 'expr = "cars == 0"', 1)
    path.write_text(wrong, encoding="utf-8")
    with pytest.raises(ConfigError, match="clause 'vehicles': 'cars' is neither a feature"):
        load_rules(path)


# -- the two evaluators agree -------------------------------------------------------------------

CLAUSES = [
    "a < b", "a <= 10 and b > -5", "not (a == b)", "a in (1, 2, 3)", "a not in (1, None)", "a / b > 0.5",
    "coalesce(a, b, 0) >= c", "min(a, b) < max(b, c)", "abs(a - b) <= c * 2", "a < b < c", "a > 1 or b > 1",
    "not a", "-a + b * 2 != c", "(a > 0) == (b > 0)",
    "a <= n * k", "a * 1.1 <= 11", "a + 0.1 == b + 0.2", "a / 3 * 3 == a", "a in (0.7, 0.1 + 0.2)",
]  # fmt: skip
PARAMS = {"k": 0.7, "n": 7}  # 7 * 0.7 is 4.8999999999999995 in binary floating point
values = st.one_of(
    st.none(), st.integers(-20, 20), st.floats(-50, 50, allow_nan=False).map(lambda x: round(x, 2))
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(values, values, values), min_size=1, max_size=12))
def test_sql_and_python_give_the_same_answer(rows: list[tuple[Any, Any, Any]]) -> None:
    column = {n: [None if r[i] is None else float(r[i]) for r in rows] for i, n in enumerate("abc")}
    table = pa.table({n: pa.array(v, pa.float64()) for n, v in column.items()})
    con = duckdb.connect()
    try:
        con.register("t", _nan_as_null(table))  # as screen() does: NaN is a missing value
        for text in CLAUSES:
            e = parse(text)
            got = [r[0] for r in con.execute(f"SELECT CAST({e.sql(PARAMS)} AS BOOLEAN) FROM t").fetchall()]
            py = []
            for a, b, c in rows:
                v = e.eval({"a": None if a is None else float(a), "b": None if b is None else float(b),
                            "c": None if c is None else float(c)}, PARAMS)  # fmt: skip
                py.append(None if v is None else bool(v))
            assert got == py, (text, rows)
    finally:
        con.close()


def test_a_function_name_is_not_a_value_the_clause_reads() -> None:
    assert parse("coalesce(a, 0) > max(b, c)").names == {"a", "b", "c"}
    spec = RuleSetSpec(name="p", title="p", region="36", valid_from="2026-01-01", version="1", features=["a"],
                       clauses=[ClauseSpec("c", "c", "coalesce(a, 0) > 1")])  # fmt: skip
    assert RuleSet.of(spec).clauses[0].expr.names == {"a"}

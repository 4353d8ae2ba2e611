"""The shipped welfare rule sets against hand-computed households (issue 15 item 3): each
threshold at its boundary, on both sides, in Python (``explain``) and in SQL over a population
(``screen``), which must agree; the rural region's own standard; no 授权书, no comparison."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from citybrain.scenes.welfare.screening import Model
from citybrain.scenes.welfare.settings import WelfareSettings
from citybrain.sdk import data

MODEL = Model.load(WelfareSettings())
DAY = date(2026, 12, 7)
URBAN, RURAL = "360102002001", "360121100202"
BASE: dict[str, Any] = {
    "authorised": True,
    "members": 2,
    "status": "一般户",
    "income_12m": 30000.0,
    "income_prev_12m": 30000.0,
    "medical_12m": 0.0,
    "unemployed": False,
    "disaster_loss_12m": 0.0,
    "severe_disability": False,
    "no_labour": 0,
    "dwellings": 1,
    "non_residential": 0,
    "cars": 0,
    "businesses": 0,
    "fund_balance": 0.0,
}

# (rule set, area, changes to BASE, outcome): each pair straddles one threshold
CASES = [
    # 低保 (urban 1,000 a month each): 23,999.99 a year for two is just under; 24,000 is not
    ("dibao", URBAN, {"income_12m": 23999.99}, "eligible"),
    ("dibao", URBAN, {"income_12m": 24000.0}, "ineligible"),
    # the rural standard (800) of 南昌县 applies to its villages
    ("dibao", RURAL, {"income_12m": 19199.99}, "eligible"),
    ("dibao", RURAL, {"income_12m": 19200.0}, "ineligible"),
    ("dibao", URBAN, {"income_12m": 1.0, "dwellings": 2}, "ineligible"),
    ("dibao", URBAN, {"income_12m": 1.0, "non_residential": 1}, "ineligible"),
    ("dibao", URBAN, {"income_12m": 1.0, "cars": 1}, "ineligible"),
    ("dibao", URBAN, {"income_12m": 1.0, "businesses": 1}, "ineligible"),
    ("dibao", URBAN, {"income_12m": 1.0, "fund_balance": 48000.0}, "eligible"),  # 24,000 each: at the limit
    ("dibao", URBAN, {"income_12m": 1.0, "fund_balance": 48000.02}, "ineligible"),
    ("dibao", URBAN, {"income_12m": None}, "needs_review"),  # wages not reported: a person decides
    ("dibao", URBAN, {"income_12m": 1.0, "authorised": False}, "not_authorised"),
    # the monitoring line: 9,000 a year each
    ("monitor_range", URBAN, {"income_12m": 17999.99}, "eligible"),
    ("monitor_range", URBAN, {"income_12m": 18000.0}, "ineligible"),
    # 因病: at least 5,000 of self-pay, and more than half the household's income
    ("risk_illness", URBAN, {"medical_12m": 15000.01}, "eligible"),
    ("risk_illness", URBAN, {"medical_12m": 15000.0}, "ineligible"),
    ("risk_illness", URBAN, {"medical_12m": 5000.0, "income_12m": 0.0}, "eligible"),
    ("risk_illness", URBAN, {"medical_12m": 4999.99, "income_12m": 0.0}, "ineligible"),
    ("risk_illness", URBAN, {"medical_12m": 5000.0, "income_12m": None}, "eligible"),  # no wages known: 0
    # 收入骤减: below 70 % of the year before, and under 13,500 each
    ("risk_income_drop", URBAN, {"income_prev_12m": 30000.0, "income_12m": 20999.99}, "eligible"),
    ("risk_income_drop", URBAN, {"income_prev_12m": 30000.0, "income_12m": 21000.0}, "ineligible"),
    ("risk_income_drop", URBAN, {"income_prev_12m": 60000.0, "income_12m": 26999.99}, "eligible"),
    ("risk_income_drop", URBAN, {"income_prev_12m": 60000.0, "income_12m": 27000.0}, "ineligible"),
    ("risk_unemployment", URBAN, {"unemployed": True, "income_12m": 26999.99}, "eligible"),
    ("risk_unemployment", URBAN, {"unemployed": True, "income_12m": 27000.0}, "ineligible"),
    ("risk_unemployment", URBAN, {"unemployed": False, "income_12m": 0.0}, "ineligible"),
    # 因灾: at least 10,000 lost, and more than 30 % of the income
    ("risk_disaster", URBAN, {"disaster_loss_12m": 10000.0, "income_12m": 33333.0}, "eligible"),
    ("risk_disaster", URBAN, {"disaster_loss_12m": 10000.0, "income_12m": 33334.0}, "ineligible"),
    ("risk_disaster", URBAN, {"disaster_loss_12m": 9999.99, "income_12m": 0.0}, "ineligible"),
    ("risk_disability", URBAN, {"severe_disability": True, "income_12m": 26999.99}, "eligible"),
    ("risk_disability", URBAN, {"severe_disability": True, "income_12m": 27000.0}, "ineligible"),
    ("disability_subsidy", URBAN, {"severe_disability": True, "status": "低保户"}, "eligible"),
    ("disability_subsidy", URBAN, {"severe_disability": True, "status": "一般户"}, "ineligible"),
]


@pytest.mark.parametrize(("policy", "area", "changes", "outcome"), CASES)
def test_each_threshold_on_both_sides(policy: str, area: str, changes: dict[str, Any], outcome: str) -> None:
    values = {**BASE, **changes}
    rs = MODEL.book.for_area(policy, area, DAY)
    assert rs is not None
    assert data.explain(rs, "X", values).outcome == outcome
    table = pa.Table.from_pylist([{"key": "X", "area": area, **values}])
    [row] = data.screen(MODEL.book, policy, DAY, table).to_pylist()
    assert row["outcome"] == outcome  # the SQL over a population agrees


def test_the_rural_region_has_its_own_version() -> None:
    rural, urban = (MODEL.book.for_area("dibao", a, DAY) for a in (RURAL, URBAN))
    assert rural is not None and urban is not None
    assert (rural.version, rural.params["standard_month"]) == ("2026.1-rural", 800)
    assert (urban.version, urban.params["standard_month"]) == ("2026.1", 1000)
    assert MODEL.book.for_area("dibao", URBAN, date(2025, 12, 31)) is None  # not in force yet


def test_the_risk_is_the_sum_of_the_screens_met() -> None:
    from citybrain.scenes.welfare.screening import Screener

    s = Screener.__new__(Screener)
    s.cfg = MODEL.cfg
    assert s.risk([], "一般户", "eligible").level == "none"
    medium = s.risk(["risk_income_drop"], "脱贫户", "ineligible")
    assert (medium.level, medium.types, medium.group) == ("medium", ["INCOME_DROP"], "脱贫不稳定户")
    assert s.risk(["risk_illness"], "一般户", "ineligible").level == "high"  # 因病 is high on its own
    two = s.risk(["risk_income_drop", "risk_unemployment"], "一般户", "ineligible")
    assert (two.level, two.group) == ("high", "突发严重困难户")  # two screens; income above the line

"""The engine on a hand-worked four-district index: normalised values, expert weights, dimension and
index scores, bands, ranks (ties), contributions adding up to the score, month-on-month and
year-on-year changes, denominators, imputation flags; and spec validation naming the place."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from citybrain.core.composite import DataError, SpecError, compute, parse_spec
from citybrain.core.composite.engine import band_of
from citybrain.core.composite.model import Band

SPEC: dict[str, Any] = {
    "name": "平安指数（测试）",
    "scale": 100,
    "imputation": "none",
    "weighting": {"method": "expert"},
    "bands": [
        {"min": 50, "label": "平安", "label_en": "safe", "colour": "green"},
        {"min": 42, "label": "基本平安", "label_en": "mostly safe", "colour": "blue"},
        {"min": 0, "label": "不平安", "label_en": "unsafe", "colour": "red"},
    ],
    "dimensions": [
        {"id": "public", "name": "公共安全", "weight": 0.6, "indicators": [
            {"id": "fires", "name": "有效火警接警数", "direction": "down", "per": "residents_10k",
             "weight": 1},
            {"id": "accidents", "name": "交通事故数", "direction": "down", "weight": 3},
        ]},
        {"id": "order", "name": "社会治安", "weight": 0.4, "indicators": [
            {"id": "satisfaction", "name": "群众安全感", "direction": "up", "unit": "%"},
        ]},
    ],
}  # fmt: skip
DATA: dict[str, dict[str, float | None]] = {
    "A": {"fires": 10, "accidents": 5, "satisfaction": 80},
    "B": {"fires": 40, "accidents": 1, "satisfaction": 60},
    "C": {"fires": 20, "accidents": 3, "satisfaction": 70},
    "D": {"fires": 30, "accidents": 5, "satisfaction": 90},
}
RESIDENTS = {"A": {"residents_10k": 10}, "B": {"residents_10k": 20}, "C": {"residents_10k": 10},
             "D": {"residents_10k": 10}}  # fmt: skip

# fires per 10,000 residents: A 1, B 2, C 2, D 3 -> down minmax (3 - x) / 2: 1, 0.5, 0.5, 0
# accidents: 5, 1, 3, 5 -> (5 - x) / 4: 0, 1, 0.5, 0
# satisfaction: 80, 60, 70, 90 -> (x - 60) / 30: 2/3, 0, 1/3, 1
# expert weights within 公共安全: 1 and 3 -> 0.25, 0.75
# 公共安全 = 0.25 fires + 0.75 accidents: A 0.25, B 0.875, C 0.5, D 0
# index = 0.6 公共安全 + 0.4 社会治安: A 0.15 + 0.26667 = 0.41667, B 0.525, C 0.43333, D 0.4; x 100
EXPECTED = {"A": 41.6667, "B": 52.5, "C": 43.3333, "D": 40.0}


def test_hand_worked_scores_bands_and_ranks() -> None:
    r = compute(parse_spec(SPEC), DATA, RESIDENTS)
    assert {u: s.score for u, s in r.units.items()} == pytest.approx(EXPECTED, abs=1e-4)
    assert {u: s.rank for u, s in r.units.items()} == {"B": 1, "C": 2, "A": 3, "D": 4}
    assert {u: s.band.label for u, s in r.units.items() if s.band} == {
        "A": "不平安", "B": "平安", "C": "基本平安", "D": "不平安"}  # fmt: skip
    a = r.units["A"]
    assert a.indicators["fires"].value == pytest.approx(1.0)  # 10 fires / 10 (10,000 residents)
    assert a.indicators["satisfaction"].normalised == pytest.approx(2 / 3)
    assert a.dimensions["public"].score == pytest.approx(25.0)
    assert r.indicator_weights == pytest.approx({"fires": 0.25, "accidents": 0.75, "satisfaction": 1.0})
    assert r.dimension_weights == pytest.approx({"public": 0.6, "order": 0.4})
    assert "1224" in r.ranking


def test_contributions_add_up_to_the_score_when_arithmetic() -> None:
    r = compute(parse_spec(SPEC), DATA, RESIDENTS)
    assert r.additive
    for u in r.units.values():
        assert sum(i.contribution for i in u.indicators.values()) == pytest.approx(u.score)
        assert sum(d.contribution for d in u.dimensions.values()) == pytest.approx(u.score)
    # B's accidents: 100 x 0.6 x 0.75 x 1 = 45
    assert r.units["B"].indicators["accidents"].contribution == pytest.approx(45.0)
    geo = compute(parse_spec({**SPEC, "aggregation": "geometric"}), DATA, RESIDENTS)
    assert not geo.additive


def test_ties_share_the_best_rank() -> None:
    data = {**DATA, "E": dict(DATA["C"]), "F": dict(DATA["C"])}
    residents = {**RESIDENTS, "E": {"residents_10k": 10}, "F": {"residents_10k": 10}}
    r = compute(parse_spec(SPEC), data, residents)
    # C, E and F are equal: they share rank 2 and the next unit (A) is 5th
    assert {u: s.rank for u, s in r.units.items()} == {"B": 1, "C": 2, "E": 2, "F": 2, "A": 5, "D": 6}


def test_bands_boundaries() -> None:
    bands = [Band(90, "平安"), Band(70, "基本平安"), Band(40, "不平安")]
    assert [band_of(bands, s).label for s in (90.0, 89.999, 70.0, 45.0, 12.0)] == [  # type: ignore[union-attr]
        "平安", "基本平安", "基本平安", "不平安", "不平安"]  # fmt: skip
    assert band_of([], 50.0) is None
    r = compute(parse_spec(SPEC), DATA, RESIDENTS)
    assert r.units["B"].dimensions["public"].band.label == "平安"  # type: ignore[union-attr]  # 87.5


def test_changes_against_previous_periods() -> None:
    spec = parse_spec(SPEC)
    last_month: dict[str, dict[str, float | None]] = {
        **DATA,
        "D": {"fires": 10, "accidents": 1, "satisfaction": 90},
    }  # D was the best
    before = compute(spec, last_month, RESIDENTS)
    year_ago = compute(spec, DATA, RESIDENTS)
    now = compute(spec, DATA, RESIDENTS, previous=before, year_ago=year_ago)
    d = now.units["D"]
    assert before.units["D"].rank == 1 and d.rank == 4
    assert d.changes["previous"].rank == -3  # moved down three places
    assert d.changes["previous"].score == pytest.approx(d.score - before.units["D"].score)
    assert d.changes["previous"].dimensions["public"] == pytest.approx(
        d.dimensions["public"].score - before.units["D"].dimensions["public"].score
    )
    assert d.changes["year_ago"].score == 0.0 and d.changes["year_ago"].rank == 0
    assert compute(spec, DATA, RESIDENTS).units["D"].changes == {}


def test_imputation_is_flagged_and_none_refuses() -> None:
    data = {**DATA, "C": {**DATA["C"], "satisfaction": None}}
    with pytest.raises(DataError, match="unit C, indicator satisfaction"):
        compute(parse_spec(SPEC), data, RESIDENTS)
    r = compute(parse_spec({**SPEC, "imputation": "mean"}), data, RESIDENTS)
    c = r.units["C"].indicators["satisfaction"]
    assert c.imputed and c.value == pytest.approx((80 + 60 + 90) / 3)
    assert not any(i.imputed for u, s in r.units.items() for i in s.indicators.values() if u != "C")
    # "last" takes the previous period's value
    before = compute(parse_spec(SPEC), DATA, RESIDENTS)
    r = compute(parse_spec({**SPEC, "imputation": "last"}), data, RESIDENTS, previous=before)
    last = r.units["C"].indicators["satisfaction"]
    assert last.value == 70 and last.imputed


def test_data_errors_name_unit_and_indicator() -> None:
    with pytest.raises(DataError, match="unit B, indicator fires: denominator residents_10k"):
        compute(parse_spec(SPEC), DATA, {**RESIDENTS, "B": {}})
    with pytest.raises(DataError, match="unit A, indicator accidents: value inf"):
        compute(parse_spec(SPEC), {**DATA, "A": {**DATA["A"], "accidents": float("inf")}}, RESIDENTS)
    log = copy.deepcopy(SPEC)
    log["dimensions"][1]["indicators"][0]["transform"] = "log"
    with pytest.raises(DataError, match=r"satisfaction: a log transform needs values > 0 \(units B\)"):
        compute(parse_spec(log), {**DATA, "B": {**DATA["B"], "satisfaction": 0}}, RESIDENTS)
    with pytest.raises(DataError, match="unit C, indicator accidents: 'many' is not a number"):
        compute(parse_spec(SPEC), {**DATA, "C": {**DATA["C"], "accidents": "many"}}, RESIDENTS)  # type: ignore[dict-item]
    with pytest.raises(DataError, match="no units"):
        compute(parse_spec(SPEC), {}, RESIDENTS)


def test_ahp_and_entropy_weighting_in_the_engine() -> None:
    weighting = {"method": "ahp", "within": "entropy", "ahp": {"index": [[1, 3], ["1/3", 1]]}}
    spec = {**SPEC, "weighting": weighting}
    r = compute(parse_spec(spec), DATA, RESIDENTS)
    assert r.dimension_weights == pytest.approx({"public": 0.75, "order": 0.25})
    assert r.indicator_weights["fires"] + r.indicator_weights["accidents"] == pytest.approx(1.0)


def _problems(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as err:
        parse_spec(spec)
    return str(err.value)


def test_spec_errors_name_the_place_all_at_once() -> None:
    bad = copy.deepcopy(SPEC)
    bad["dimensions"][0]["indicators"][0]["goalposts"] = {"min": 5, "max": 5}
    bad["dimensions"][1]["indicators"][0]["weight"] = -1
    text = _problems(bad)
    assert "dimension 公共安全, indicator fires: goalposts min >= max" in text
    assert "dimension 社会治安, indicator satisfaction: weight -1" in text
    dup = copy.deepcopy(SPEC)
    dup["dimensions"][1]["indicators"][0]["id"] = "fires"
    assert "indicator id 'fires' is used more than once" in _problems(dup)
    assert "dimension 社会治安: no indicators" in _problems(
        {**SPEC, "dimensions": [SPEC["dimensions"][0], {"id": "order", "name": "社会治安"}]}
    )
    wrong = copy.deepcopy(SPEC)
    wrong["dimensions"][1]["indicators"][0]["direction"] = "sideways"
    assert "$.dimensions[1].indicators[0].direction" in _problems(wrong)
    partial = copy.deepcopy(SPEC)
    del partial["dimensions"][0]["indicators"][0]["weight"]
    assert "dimension 公共安全: expert weights are given for some members only" in _problems(partial)
    # declared denominators: every per names one, each with a positive unit and a sound source
    dens = {**SPEC, "denominators": [
        {"id": "households", "name": "户数", "unit": 0},
        {"id": "households", "name": "户数", "source": {"kind": "dataset", "dataset": "stats.population"}},
    ]}  # fmt: skip
    text = _problems(dens)
    assert "denominator id 'households' is used more than once" in text
    assert "denominator households: unit 0.0 must be a positive number" in text
    assert "denominator households, source: kind dataset needs 'column'" in text
    assert "indicator fires: per 'residents_10k' is no denominator (declared: households, households)" in text


def test_spec_refuses_ahp_problems_and_unusable_combinations() -> None:
    three = copy.deepcopy(SPEC)
    cyber = {"id": "cyber", "name": "网络安全", "indicators": [{"id": "inc", "name": "事件"}]}
    three["dimensions"].append(cyber)
    three["weighting"] = {"method": "ahp", "ahp": {"index": [[1, 2, "1/2"], ["1/2", 1, 2], [2, "1/2", 1]]}}
    text = _problems(three)
    assert "weighting, ahp matrix 'index': AHP matrix is inconsistent: CR = 0.431 >= 0.10" in text
    assert "[1, 2, 1/2]" in text
    missing = {"method": "ahp", "ahp": {"index": [[1, 1], [1, 1]]}}
    assert "ahp matrix 'public': missing" in _problems({**SPEC, "weighting": missing})
    nowhere = {"method": "equal", "ahp": {"nowhere": [[1]]}}
    assert "ahp matrix 'nowhere' names no level" in _problems({**SPEC, "weighting": nowhere})
    z = {**SPEC, "normalisation": {"method": "zscore"}, "aggregation": "geometric"}
    assert "indicator fires: zscore gives negative values, which geometric aggregation" in _problems(z)
    gp = copy.deepcopy(SPEC)
    gp["normalisation"] = {"method": "rank"}
    gp["dimensions"][0]["indicators"][1]["goalposts"] = {"min": 0, "max": 10}
    assert "indicator accidents: goalposts are read by minmax and efficacy, not by rank" in _problems(gp)

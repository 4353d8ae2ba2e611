"""UNDP's Human Development Index expressed as a spec (citybrain/data/composite/hdi.toml, after the
HDR technical notes): the engine computes one hand-worked country example. The inputs are
illustrative (not a published country's row) and so is the result: a hand computation."""

from __future__ import annotations

import math

import pytest

from citybrain.core.composite import compute, load_spec
from citybrain.data import path

HDI = path("composite/hdi.toml")


def test_the_hdi_spec_loads_as_the_technical_notes_define_it() -> None:
    spec = load_spec(HDI)
    assert spec.aggregation == "geometric" and spec.weighting.method == "equal"
    goalposts = {i.id: (i.goalposts.min, i.goalposts.max, i.transform)  # type: ignore[union-attr]
                 for d in spec.dimensions for i in d.indicators}  # fmt: skip
    assert goalposts == {
        "life_expectancy": (20, 85, "none"),
        "expected_schooling": (0, 18, "none"),
        "mean_schooling": (0, 15, "none"),
        "gni_per_capita": (100, 75000, "log"),
    }
    assert [d.aggregation for d in spec.dimensions if d.id == "education"] == ["arithmetic"]


def test_hand_worked_hdi() -> None:
    # inputs: life expectancy 83.2, expected schooling 18.2, mean schooling 13.0, GNI 64,660
    # health    = (83.2 - 20) / (85 - 20) = 63.2 / 65 = 0.9723077
    # education = (min(18.2 / 18, 1) + 13.0 / 15) / 2 = (1 + 0.8666667) / 2 = 0.9333333
    #             (18.2 / 18 = 1.0111 is above the maximum: capped at 1)
    # income    = (ln 64660 - ln 100) / (ln 75000 - ln 100)
    #           = (11.0768981 - 4.6051702) / (11.2252434 - 4.6051702) = 6.4717279 / 6.6200732 = 0.9775916
    # HDI       = (0.9723077 x 0.9333333 x 0.9775916) ** (1/3) = 0.8871518 ** (1/3) = 0.9608730
    assert math.log(64660) == pytest.approx(11.0768981, abs=1e-7)
    assert pytest.approx(0.8871518, abs=1e-7) == 0.9723077 * 0.9333333 * 0.9775916
    country = {"life_expectancy": 83.2, "expected_schooling": 18.2, "mean_schooling": 13.0,
               "gni_per_capita": 64660}  # fmt: skip
    # a second, lower unit: health (60 - 20) / 65 = 0.6153846, education (10/18 + 5/15) / 2 = 0.4444444,
    # income ln(20) / ln(750) = 2.9957323 / 6.6200732 = 0.4525225, HDI 0.4983504 ("low")
    low = {"life_expectancy": 60, "expected_schooling": 10, "mean_schooling": 5, "gni_per_capita": 2000}
    r = compute(load_spec(HDI), {"X": country, "Y": low})
    x = r.units["X"]
    assert x.dimensions["health"].score == pytest.approx(0.9723077, abs=1e-7)
    assert x.dimensions["education"].score == pytest.approx(0.9333333, abs=1e-7)
    assert x.indicators["expected_schooling"].normalised == 1.0
    assert x.dimensions["income"].score == pytest.approx(0.9775916, abs=1e-7)
    assert x.score == pytest.approx(0.9608730, abs=1e-7)
    assert round(x.score, 3) == 0.961
    assert x.band is not None and x.band.label_en == "Very high human development"
    y = r.units["Y"]
    assert y.score == pytest.approx(0.4983504, abs=1e-7)
    assert y.band is not None and y.band.label_en == "Low human development"
    assert (x.rank, y.rank) == (1, 2)
    # the HDI of a unit does not depend on the other units (fixed goalposts)
    assert compute(load_spec(HDI), {"X": country}).units["X"].score == pytest.approx(x.score)

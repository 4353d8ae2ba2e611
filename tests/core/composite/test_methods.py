"""Normalisation, aggregation and imputation against hand values (OECD/JRC Handbook's tables,
shared/research/anchors-governance.md 2.1): each method, "down" flipping, goalposts clipping, the
功效函数, arithmetic against geometric means and how zeros are handled, imputation flags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citybrain.core.composite.aggregate import arithmetic, geometric, two_level
from citybrain.core.composite.impute import impute
from citybrain.core.composite.model import DataError
from citybrain.core.composite.normalise import Params, normalise

X = np.array([2.0, 4.0, 6.0, 10.0])
UP, DOWN = Params(up=True), Params(up=False)


def test_minmax_data_range_and_down() -> None:
    # min 2, max 10: (x - 2) / 8
    assert normalise("minmax", X, UP) == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert normalise("minmax", X, DOWN) == pytest.approx([1.0, 0.75, 0.5, 0.0])


def test_minmax_goalposts_clip() -> None:
    # goalposts 3..8: (x - 3) / 5 = -0.2, 0.2, 0.6, 1.4 -> clipped 0, 0.2, 0.6, 1
    gp = (3.0, 8.0)
    assert normalise("minmax", X, Params(goalposts=gp)) == pytest.approx([0.0, 0.2, 0.6, 1.0])
    assert normalise("minmax", X, Params(up=False, goalposts=gp)) == pytest.approx([1.0, 0.8, 0.4, 0.0])


def test_zscore() -> None:
    # mean 5.5; deviations -3.5 -1.5 0.5 4.5; population variance (12.25 + 2.25 + 0.25 + 20.25) / 4
    # = 8.75, sd = 2.9580399
    sd = math.sqrt(8.75)
    expected = [-3.5 / sd, -1.5 / sd, 0.5 / sd, 4.5 / sd]
    assert expected == pytest.approx([-1.1832160, -0.5070926, 0.1690309, 1.5212777])
    assert normalise("zscore", X, UP) == pytest.approx(expected)
    assert normalise("zscore", X, DOWN) == pytest.approx([-v for v in expected])


def test_distance_to_target() -> None:
    # (x - 5) / 5; down flips the sign; without a target the reference is the leader (max for up)
    assert normalise("target", X, Params(target=5.0)) == pytest.approx([-0.6, -0.2, 0.2, 1.0])
    assert normalise("target", X, Params(up=False, target=5.0)) == pytest.approx([0.6, 0.2, -0.2, -1.0])
    assert normalise("target", X, UP) == pytest.approx([-0.8, -0.6, -0.4, 0.0])  # ref 10
    assert normalise("target", X, DOWN) == pytest.approx([0.0, -1.0, -2.0, -4.0])  # ref 2
    with pytest.raises(DataError, match="reference of 0"):
        normalise("target", np.array([0.0, 1.0]), Params(up=False, where="indicator x"))


def test_ranking_with_ties() -> None:
    assert normalise("rank", X, UP) == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    # 1, 2, 2, 3: ranks 1, 2.5, 2.5, 4 -> (r - 1) / 3
    tied = np.array([1.0, 2.0, 2.0, 3.0])
    assert normalise("rank", tied, UP) == pytest.approx([0.0, 0.5, 0.5, 1.0])
    assert normalise("rank", tied, DOWN) == pytest.approx([1.0, 0.5, 0.5, 0.0])


def test_efficacy_function() -> None:
    # 功效函数 d = 60 + 40 (x - x_s) / (x_h - x_s), divided by 100
    # data range: x_s = 2, x_h = 10 -> 60, 70, 80, 100
    assert normalise("efficacy", X, UP) == pytest.approx([0.60, 0.70, 0.80, 1.00])
    # goalposts 3..8 as 不允许值 and 满意值: 60 + 40 * (0, 0.2, 0.6, 1) = 60, 68, 84, 100
    assert normalise("efficacy", X, Params(goalposts=(3.0, 8.0))) == pytest.approx([0.60, 0.68, 0.84, 1.0])
    # lower is better: x_h = 3, x_s = 8: 60 + 40 (8 - x) / 5 = 100 (clipped), 92, 76, 60
    down = Params(up=False, goalposts=(3.0, 8.0))
    assert normalise("efficacy", X, down) == pytest.approx([1.0, 0.92, 0.76, 0.60])
    assert normalise("efficacy", X, Params(efficacy_floor=50.0)) == pytest.approx([0.5, 0.625, 0.75, 1.0])


def test_no_spread() -> None:
    flat = np.array([5.0, 5.0, 5.0])
    for method in ("minmax", "rank", "efficacy"):
        assert normalise(method, flat, UP) == pytest.approx([1.0] * 3)
    assert normalise("zscore", flat, UP) == pytest.approx([0.0] * 3)


def test_arithmetic_and_geometric_means() -> None:
    v, w = np.array([0.25, 1.0]), np.array([0.5, 0.5])
    assert arithmetic(v, w) == pytest.approx(0.625)  # (0.25 + 1) / 2
    assert geometric(v, w) == pytest.approx(0.5)  # sqrt(0.25 * 1)
    # weighted: 0.25 ** 0.25 * 1 ** 0.75 = 0.7071; arithmetic 0.0625 + 0.75 = 0.8125
    w2 = np.array([0.25, 0.75])
    assert geometric(v, w2) == pytest.approx(0.25**0.25)
    assert arithmetic(v, w2) == pytest.approx(0.8125)
    # a zero zeroes the geometric mean (no compensation); a zero with weight 0 counts for nothing
    assert geometric(np.array([0.0, 1.0]), w) == 0.0
    assert geometric(np.array([0.0, 0.49]), np.array([0.0, 1.0])) == pytest.approx(0.49)
    with pytest.raises(DataError, match="values >= 0"):
        geometric(np.array([-0.1, 1.0]), w)
    # many rows at once (the leading axes are kept)
    rows = np.array([[0.25, 1.0], [1.0, 1.0]])
    assert geometric(rows, w) == pytest.approx([0.5, 1.0])


def test_two_levels() -> None:
    # dimension 1 = columns 0, 1 (arithmetic, 0.5 each), dimension 2 = column 2; index geometric
    x = np.array([[0.2, 0.6, 0.9], [1.0, 1.0, 0.1]])
    w = np.array([0.5, 0.5, 1.0])
    dims, total = two_level(x, [np.array([0, 1]), np.array([2])], w, ["arithmetic", "arithmetic"],
                            np.array([0.5, 0.5]), "geometric")  # fmt: skip
    assert dims == pytest.approx(np.array([[0.4, 0.9], [1.0, 0.1]]))
    assert total == pytest.approx([math.sqrt(0.36), math.sqrt(0.1)])


NAN = np.nan
VALUES = np.array([[1.0, NAN], [3.0, 4.0], [NAN, 8.0], [5.0, 9.0]])
UNITS, INDS = ["A", "B", "C", "D"], ["p", "q"]


@pytest.mark.parametrize(
    ("method", "filled"),
    [("mean", [[1, 7], [3, 4], [3, 8], [5, 9]]), ("median", [[1, 8], [3, 4], [3, 8], [5, 9]]),
     ("zero", [[1, 0], [3, 4], [0, 8], [5, 9]])],
)  # fmt: skip
def test_imputation_fills_and_flags(method: str, filled: list[list[float]]) -> None:
    out = impute(VALUES, method, UNITS, INDS)
    assert out.values == pytest.approx(np.array(filled, dtype=float))
    assert out.imputed.tolist() == [[False, True], [False, False], [True, False], [False, False]]


def test_imputation_last_and_none() -> None:
    previous = np.array([[0.0, 6.0], [0.0, 0.0], [2.5, 0.0], [0.0, 0.0]])
    out = impute(VALUES, "last", UNITS, INDS, previous)
    assert out.values[0, 1] == 6.0 and out.values[2, 0] == 2.5
    assert out.imputed.sum() == 2
    with pytest.raises(DataError, match=r"no imputation\): unit A, indicator q; unit C, indicator p"):
        impute(VALUES, "none", UNITS, INDS)
    with pytest.raises(DataError, match="nothing to impute from"):
        impute(VALUES, "last", UNITS, INDS)  # no previous period
    with pytest.raises(DataError, match="nothing to impute from"):
        impute(np.array([[NAN], [NAN]]), "mean", ["A", "B"], ["p"])

"""Weights (issue 17, methodology): entropy weights against a hand computation, AHP against known
matrices (a consistent one, Saaty's textbook 3 x 3, inconsistent cyclic ones whose lambda_max has a
closed form), the refusals (CR >= 0.10 with the matrix shown, non-reciprocal, off-scale), and the
RI table as documented in shared/research/anchors-governance.md 2.1."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citybrain.core.composite.weights import (
    CR_LIMIT,
    RI,
    InconsistentMatrixError,
    ahp,
    entropy,
    equal,
    expert,
)
from citybrain.core.errors import ConfigError


def test_entropy_weights_match_a_hand_computation() -> None:
    # 3 units x 3 normalised indicators
    x = np.array([[1.0, 1.0, 2.0], [1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    # column sums 3, 1, 4 -> p_ij = x_ij / sum:
    #   col 1: 1/3, 1/3, 1/3    col 2: 1, 0, 0    col 3: 0.5, 0.25, 0.25
    # e_j = -(1 / ln 3) sum_i p ln p, ln 3 = 1.0986123, ln 2 = 0.6931472, 0 ln 0 := 0:
    #   e_1 = -(1/ln 3) * 3 * (1/3) ln(1/3) = ln 3 / ln 3 = 1
    #   e_2 = -(1/ln 3) * (1 ln 1 + 0 + 0) = 0
    #   e_3 = -(1/ln 3) * (0.5 ln 0.5 + 2 * 0.25 ln 0.25) = (0.5 ln 2 + ln 2) / ln 3
    #       = 1.0397208 / 1.0986123 = 0.9463946
    # d = 1 - e = 0, 1, 0.0536054; sum d = 1.0536054
    # w = d / sum d = 0, 0.9491220, 0.0508780
    e3 = 1.5 * math.log(2) / math.log(3)
    assert e3 == pytest.approx(0.9463946, abs=1e-7)
    w = entropy(x)
    assert w == pytest.approx([0.0, 0.9491220, 0.0508780], abs=1e-7)
    assert w.sum() == pytest.approx(1.0)


def test_entropy_edge_cases() -> None:
    # nothing varies: every column has e = 1 -> equal weights; a column of zeros carries nothing
    assert entropy(np.ones((4, 3))) == pytest.approx([1 / 3] * 3)
    assert entropy(np.array([[0.0, 1.0], [0.0, 0.0]])) == pytest.approx([0.0, 1.0])
    with pytest.raises(ConfigError, match="2 units"):
        entropy(np.ones((1, 3)))
    with pytest.raises(ConfigError, match=">= 0"):
        entropy(np.array([[-1.0, 1.0], [1.0, 1.0]]))


def test_equal_and_expert_weights() -> None:
    assert equal(4) == pytest.approx([0.25] * 4)
    assert expert([1, 3]) == pytest.approx([0.25, 0.75])
    with pytest.raises(ConfigError):
        expert([0, 0])
    with pytest.raises(ConfigError):
        expert([1, -1])


def test_a_consistent_matrix_gives_its_weights_and_cr_zero() -> None:
    # a_ij = w_i / w_j for w = (0.5, 0.3, 0.2): perfectly consistent, lambda_max = n
    m: list[list[float | str]] = [[1, "5/3", 2.5], ["3/5", 1, 1.5], [0.4, "2/3", 1]]
    a = ahp(m)
    assert a.weights == pytest.approx([0.5, 0.3, 0.2])
    assert a.lambda_max == pytest.approx(3.0)
    assert a.cr == pytest.approx(0.0, abs=1e-9)
    w4 = np.array([4.0, 3.0, 2.0, 1.0])
    a4 = ahp((w4[:, None] / w4[None, :]).tolist())
    assert a4.weights == pytest.approx(w4 / 10)
    assert a4.cr == pytest.approx(0.0, abs=1e-9)


def test_saaty_textbook_matrix() -> None:
    # the classic [[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]]: weights 0.637, 0.258, 0.105,
    # lambda_max 3.0385, CI 0.0193, CR = 0.0193 / 0.58 = 0.0332 < 0.10: accepted
    a = ahp([[1, 3, 5], ["1/3", 1, 3], ["1/5", "1/3", 1]])
    assert a.weights == pytest.approx([0.6370, 0.2583, 0.1047], abs=1e-4)
    assert a.lambda_max == pytest.approx(3.0385, abs=1e-4)
    assert a.ci == pytest.approx((a.lambda_max - 3) / 2)
    assert a.cr == pytest.approx(a.ci / 0.58)
    assert a.cr == pytest.approx(0.0332, abs=1e-4)


@pytest.mark.parametrize(("k", "cr"), [(2, 0.4310), (9, 6.1303)])
def test_an_inconsistent_matrix_is_refused_with_the_matrix_and_cr(k: int, cr: float) -> None:
    # a cyclic judgement (1 > 2 > 3 > 1 by k): (1, 1, 1) is an eigenvector, so lambda_max is a row
    # sum 1 + k + 1/k: k = 2 -> 3.5, CI = 0.25, CR = 0.25 / 0.58 = 0.4310;
    # k = 9 -> 10.1111, CI = 3.5556, CR = 6.1303
    m: list[list[float | str]] = [[1, k, f"1/{k}"], [f"1/{k}", 1, k], [k, f"1/{k}", 1]]
    with pytest.raises(InconsistentMatrixError) as err:
        ahp(m)
    assert err.value.cr == pytest.approx(cr, abs=1e-4)
    assert err.value.cr >= CR_LIMIT
    text = str(err.value)
    assert f"CR = {cr:.3f} >= 0.10" in text
    assert f"[1, {k}, 1/{k}]" in text and f"[{k}, 1/{k}, 1]" in text  # the matrix, row by row
    assert isinstance(err.value, ConfigError)


def test_non_reciprocal_and_off_scale_matrices_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"not reciprocal: a\[1\]\[2\] = 3 but a\[2\]\[1\] = 0.5"):
        ahp([[1, 3], [0.5, 1]])
    with pytest.raises(ConfigError, match="Saaty's scale"):
        ahp([[1, 12], ["1/12", 1]])
    with pytest.raises(ConfigError, match="square"):
        ahp([[1, 2], [0.5]])
    with pytest.raises(ConfigError, match="positive"):
        ahp([[1, 0], [0, 1]])
    with pytest.raises(ConfigError, match="fraction"):
        ahp([[1, "x"], ["1/2", 1]])
    ahp([[1, 3], [0.333, 1]])  # 1/3 written to three decimals is reciprocal enough


def test_two_by_two_is_always_consistent() -> None:
    a = ahp([[1, 7], ["1/7", 1]])
    assert a.weights == pytest.approx([0.875, 0.125])
    assert a.cr == 0.0
    assert ahp([[1]]).weights == pytest.approx([1.0])


def test_the_ri_table_is_the_documented_one() -> None:
    # anchors-governance.md 2.1 (CRAN AHPWR CR.R)
    assert RI == {1: 0, 2: 0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49}
    assert CR_LIMIT == 0.10
    with pytest.raises(ConfigError, match="RI table stops at 10"):
        ahp(np.ones((11, 11)).tolist())

"""Weights of one level (a dimension's indicators, or the index's dimensions), each summing to 1.

- equal: 1/n each.
- expert: the given weights divided by their sum.
- entropy (objective, common in Chinese practice; formula as in CRAN ``CPP::Entrop.weights``, after
  Pomerol & Barba-Romero and Hwang & Yoon): for n units and normalised values x_ij >= 0,
  p_ij = x_ij / sum_i x_ij, e_j = -(1 / ln n) sum_i p_ij ln p_ij with 0 ln 0 := 0, d_j = 1 - e_j,
  w_j = d_j / sum_j d_j. A column of zeros carries no information (e_j = 1); when no column varies
  at all the weights are equal. Entropy weights follow the data and move month to month: freeze them
  for a reporting year.
- AHP (Saaty): a pairwise matrix on the 1-9 scale with a_ji = 1/a_ij; the weights are its principal
  eigenvector, normalised; CI = (lambda_max - n) / (n - 1); CR = CI / RI(n) with Saaty's random
  index RI below (the table of CRAN AHPWR ``CR.R``); a matrix with CR >= 0.10 is refused, with the
  matrix and its CR in the message. n <= 2 is always consistent (RI 0, CR 0).

Sources: OECD/JRC Handbook on Constructing Composite Indicators (2008), weighting;
shared/research/anchors-governance.md section 2.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from citybrain.core.errors import ConfigError

Array = npt.NDArray[np.float64]

# Saaty's random consistency index by matrix order (AHPWR's table; ahpsurvey's simulated values
# differ slightly: this one is the one we use, and the only one)
RI: dict[int, float] = {
    1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49
}  # fmt: skip
CR_LIMIT = 0.10
RECIPROCAL_TOLERANCE = 0.01  # |a_ij * a_ji - 1|: lets TOML write 1/3 as 0.333


class InconsistentMatrixError(ConfigError):
    """An AHP matrix whose consistency ratio is CR_LIMIT or more; carries the matrix and the CR."""

    def __init__(self, matrix: Array, cr: float, message: str) -> None:
        self.matrix = matrix
        self.cr = cr
        super().__init__(message)


@dataclass(frozen=True)
class Ahp:
    weights: Array
    lambda_max: float
    ci: float
    cr: float


def equal(n: int) -> Array:
    return np.full(n, 1.0 / n)


def expert(given: Sequence[float]) -> Array:
    w = np.asarray(given, dtype=np.float64)
    if w.size == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(f"expert weights {list(given)} must be >= 0 with a positive sum")
    out: Array = w / w.sum()
    return out


def entropy(values: Array) -> Array:
    """Entropy weights of the columns of ``values`` (units x indicators, all >= 0, 2 units or more)."""
    x = np.asarray(values, dtype=np.float64)
    n, m = x.shape
    if n < 2:
        raise ConfigError("entropy weights need 2 units or more (ln 1 = 0)")
    if (x < 0).any() or not np.isfinite(x).all():
        raise ConfigError("entropy weights need normalised values >= 0")
    sums = x.sum(axis=0)
    p = np.divide(x, sums, out=np.zeros_like(x), where=sums > 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)  # 0 ln 0 := 0
    e = np.where(sums > 0, -plogp.sum(axis=0) / np.log(n), 1.0)
    d = np.clip(1.0 - e, 0.0, None)  # e may pass 1 by rounding
    if d.sum() <= 0:
        return equal(m)
    out: Array = d / d.sum()
    return out


def entry(value: float | str) -> float:
    """A matrix entry: a number or a fraction written as text ("1/3")."""
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"matrix entry {value!r} is not a number or a fraction like 1/3") from None
    return float(value)


def ahp(matrix: Sequence[Sequence[float | str]]) -> Ahp:
    """Weights of a pairwise comparison matrix, refused unless square, positive, on the 1-9 scale,
    reciprocal and consistent (CR < 0.10)."""
    rows = [[entry(v) for v in row] for row in matrix]
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        raise ConfigError(f"an AHP matrix must be square, got {[len(r) for r in rows]} entries per row")
    if n > max(RI):
        raise ConfigError(f"an AHP matrix of order {n}: the RI table stops at {max(RI)} (Saaty: 9 at most)")
    a = np.array(rows, dtype=np.float64)
    if not np.isfinite(a).all() or (a <= 0).any():
        raise ConfigError(f"AHP entries must be positive numbers:\n{show(a)}")
    if (a < 1 / 9 - 1e-9).any() or (a > 9 + 1e-9).any():
        raise ConfigError(f"AHP entries must lie on Saaty's scale 1/9 .. 9:\n{show(a)}")
    bad = np.argwhere(np.abs(a * a.T - 1.0) > RECIPROCAL_TOLERANCE)
    if bad.size:
        i, j = (int(k) for k in bad[0])
        raise ConfigError(
            f"AHP matrix is not reciprocal: a[{i + 1}][{j + 1}] = {a[i, j]:.4g} but "
            f"a[{j + 1}][{i + 1}] = {a[j, i]:.4g} (must be 1/{a[i, j]:.4g}):\n{show(a)}"
        )
    if n == 1:
        return Ahp(np.ones(1), 1.0, 0.0, 0.0)
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    v = np.abs(vecs[:, k].real)
    w: Array = v / v.sum()
    ci = max(0.0, (lam - n) / (n - 1))
    cr = ci / RI[n] if RI[n] > 0 else 0.0
    if cr >= CR_LIMIT:
        raise InconsistentMatrixError(a, cr, (
            f"AHP matrix is inconsistent: CR = {cr:.3f} >= {CR_LIMIT:.2f} (lambda_max = {lam:.4f}, "
            f"CI = {ci:.4f}, RI({n}) = {RI[n]}); revise the judgements:\n{show(a)}"
        ))  # fmt: skip
    return Ahp(w, lam, ci, cr)


def show(a: Array) -> str:
    """A matrix as rows of Saaty entries (9, 1/3, or 2.5)."""
    return "\n".join("  [" + ", ".join(_saaty(float(v)) for v in row) + "]" for row in a)


def _saaty(v: float) -> str:
    if v >= 1 and abs(v - round(v)) < 1e-6:
        return str(round(v))
    if 0 < v < 1 and abs(1 / v - round(1 / v)) < 1e-3:
        return f"1/{round(1 / v)}"
    return f"{v:.4g}"

"""Aggregation of weighted values along the last axis (weights summing to 1), and the two levels of
an index: indicators into dimension scores, dimension scores into the index.

- arithmetic (linear): sum_q w_q I_q. Fully compensatory: a weight is a trade-off rate.
- geometric: prod_q I_q ** w_q. Partially compensatory; needs I_q >= 0. A zero stays a zero: the
  product is 0 whatever the other values (the limit of I ** w as I -> 0), and a member with weight 0
  counts for nothing (its factor is 1, not 0 ** 0). Negative values are refused. Normalise to a
  range above zero (goalposts below the worst value, or the efficacy function) to avoid zeros, as
  the Handbook advises (min-max to [1, 100]).

Leading axes are kept, so one call scores many Monte Carlo runs at once.
Source: OECD/JRC Handbook on Constructing Composite Indicators (2008), step 6;
shared/research/anchors-governance.md section 2.1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from citybrain.core.composite.model import DataError

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]


def arithmetic(values: Array, weights: Array) -> Array:
    out: Array = (values * weights).sum(axis=-1)
    return out


def geometric(values: Array, weights: Array) -> Array:
    if (values < 0).any():
        raise DataError("geometric aggregation needs values >= 0 (normalise with minmax, rank or efficacy)")
    w = np.broadcast_to(weights, values.shape)
    logs = np.log(np.where(values > 0, values, 1.0))
    terms = np.where(w > 0, np.where(values > 0, w * logs, -np.inf), 0.0)
    out: Array = np.exp(terms.sum(axis=-1))
    return out


RULES: dict[str, Callable[[Array, Array], Array]] = {"arithmetic": arithmetic, "geometric": geometric}


def two_level(
    values: Array,
    groups: Sequence[Ints],
    within: Array,
    rules: Sequence[str],
    across: Array,
    rule: str,
) -> tuple[Array, Array]:
    """Dimension scores (..., units, dimensions) and index scores (..., units) of normalised
    ``values`` (..., units, indicators): ``groups`` holds each dimension's indicator columns,
    ``within`` the indicators' weights (each group summing to 1), ``rules`` each dimension's rule,
    ``across`` the dimensions' weights and ``rule`` theirs. Weights broadcast against the values'
    last axis (give runs x 1 x columns for many runs)."""
    dims = np.stack(
        [RULES[r](values[..., g], within[..., g]) for g, r in zip(groups, rules, strict=True)], axis=-1
    )
    return dims, RULES[rule](dims, across)

"""Imputation of missing values (NaN), column by column, returning which values were imputed so
that every result can say so (reported, never hidden).

- none: nothing is imputed; a missing value is an error naming the unit and the indicator.
- mean / median: of the units that have a value (unconditional mean/median substitution).
- last: the unit's value of the previous period.
- zero: 0 (only sound for counts where "no report" means "none").
A value that cannot be imputed (no observed value in the column, no previous value) is an error.
Source: OECD/JRC Handbook on Constructing Composite Indicators (2008), step 3 (imputation of
missing data); shared/research/anchors-governance.md section 2.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citybrain.core.composite.model import DataError

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Imputed:
    values: Array  # units x indicators, no NaN
    imputed: Mask  # True where a value was imputed


def _column(x: Array, method: str, previous: Array | None) -> Array:
    seen = x[~np.isnan(x)]
    fill: Array | float
    if method == "mean":
        fill = float(seen.mean()) if seen.size else np.nan
    elif method == "median":
        fill = float(np.median(seen)) if seen.size else np.nan
    elif method == "zero":
        fill = 0.0
    elif method == "last":
        fill = previous if previous is not None else np.nan
    else:
        fill = np.nan
    return np.where(np.isnan(x), fill, x)


def impute(
    values: Array,
    method: str,
    units: Sequence[str],
    indicators: Sequence[str],
    previous: Array | None = None,
) -> Imputed:
    """Fill the NaN of ``values`` (units x indicators) by ``method``; ``previous`` holds the last
    period's values in the same layout (NaN where unknown) for "last"."""
    x = np.asarray(values, dtype=np.float64)
    missing = np.isnan(x)
    filled = np.column_stack(
        [_column(x[:, j], method, None if previous is None else previous[:, j]) for j in range(x.shape[1])]
    ).reshape(x.shape)
    left = np.argwhere(np.isnan(filled))
    if left.size:
        why = "no imputation" if method == "none" else f"imputation {method!r} has nothing to impute from"
        where = "; ".join(f"unit {units[i]}, indicator {indicators[j]}" for i, j in left[:10])
        more = f" (and {len(left) - 10} more)" if len(left) > 10 else ""
        raise DataError(f"missing values ({why}): {where}{more}")
    return Imputed(filled, missing)

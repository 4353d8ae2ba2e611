"""Normalisation of one indicator across units, so that higher is always better.

Methods (the OECD/JRC Handbook's table, 2008, step 5; shared/research/anchors-governance.md 2.1):

| method   | value for "up"                              | "down" (lower is better)      | range     |
|----------|---------------------------------------------|-------------------------------|-----------|
| minmax   | (x - min) / (max - min), clipped to [0, 1]  | 1 - that                      | [0, 1]    |
| zscore   | (x - mean) / sd (population sd)             | -(that)                       | unbounded |
| target   | (x - ref) / abs(ref)                        | (ref - x) / abs(ref)          | unbounded |
| rank     | (r - 1) / (n - 1), r the average rank       | of -x                         | [0, 1]    |
| efficacy | 功效函数 (floor + (100 - floor) t) / 100,     | t of "down" minmax            | [0.6, 1]  |
|          | t the minmax value: 60 + 40 t for floor 60  |                               |           |

min and max are the goalposts when fixed (then values outside are clipped: UNDP's HDI caps at 1),
else the data's range. For the efficacy function the goalposts are 不允许值 and 满意值 (x_s, x_h).
The target's reference is the indicator's target, else the best observed value (the leader). With
no spread (max = min, sd = 0, one unit) minmax, rank and efficacy give 1 (no unit is worse than
another) and zscore gives 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citybrain.core.composite.model import DataError

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Params:
    up: bool = True
    goalposts: tuple[float, float] | None = None  # already transformed (log goalposts for log values)
    target: float | None = None
    efficacy_floor: float = 60.0
    where: str = ""  # names the indicator in errors


def minmax(x: Array, p: Params) -> Array:
    lo, hi = p.goalposts if p.goalposts is not None else (float(x.min()), float(x.max()))
    if hi <= lo:
        return np.ones_like(x)
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t if p.up else 1.0 - t


def zscore(x: Array, p: Params) -> Array:
    sd = float(x.std())
    z = (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
    return z if p.up else -z


def target(x: Array, p: Params) -> Array:
    ref = p.target if p.target is not None else float(x.max() if p.up else x.min())
    if ref == 0:
        raise DataError(f"{p.where}: distance to a reference of 0 is undefined (set a target)")
    d = (x - ref) / abs(ref)
    return d if p.up else -d


def rank(x: Array, p: Params) -> Array:
    n = x.size
    if n < 2:
        return np.ones_like(x)
    values, inverse = np.unique(x if p.up else -x, return_inverse=True)
    order = np.argsort(x if p.up else -x, kind="stable")
    r = np.empty(n)
    r[order] = np.arange(1, n + 1)
    average = np.bincount(inverse, weights=r) / np.bincount(inverse)  # ties share their mean rank
    out: Array = (average[inverse] - 1.0) / (n - 1)
    return out if values.size > 1 else np.ones_like(x)


def efficacy(x: Array, p: Params) -> Array:
    return (p.efficacy_floor + (100.0 - p.efficacy_floor) * minmax(x, p)) / 100.0


METHODS: dict[str, Callable[[Array, Params], Array]] = {
    "minmax": minmax,
    "zscore": zscore,
    "target": target,
    "rank": rank,
    "efficacy": efficacy,
}


def normalise(method: str, x: Array, p: Params) -> Array:
    return METHODS[method](np.asarray(x, dtype=np.float64), p)

"""How much the ranks owe to the modelling choices: Monte Carlo uncertainty analysis and
one-at-a-time sensitivity (OECD/JRC Handbook on Constructing Composite Indicators, 2008, step 7;
shared/research/anchors-governance.md section 2.1, "minimum viable implementation").

The data are prepared as by the engine (``previous`` serves imputation "last").
Uncertainty: ``runs`` re-scorings, each drawing (from one seeded generator, so a seed gives the same
output) a normalisation method among ``normalisations`` (indicators with fixed goalposts keep theirs),
an aggregation rule among ``aggregations`` (used at both levels) and weights perturbed by a factor
uniform in [1 - p, 1 + p] then renormalised within each level; the spec's weights (entropy and AHP
ones as computed for this period) are the ones perturbed. Per unit: the spec's rank, the median and
mean rank, and the 5th-95th percentile rank band (the 5th rounded to the better rank, the 95th to
the worse, so the band holds at least 90 % of the runs).

Sensitivity: the mean and largest absolute rank shift against the spec's ranks when one choice
changes: each indicator dropped in turn (its dimension's other weights renormalised; a dimension
left empty is dropped), each other normalisation method, each other aggregation rule, and the weight
perturbation alone. The list comes most influential first.

Every re-scoring here (the reference ranks too) aggregates values mapped to [0.01, 1] (0.01 + 0.99 I)
so that a geometric mean is not zeroed by each indicator's worst unit, as the Handbook advises
(min-max to [1, 100]); arithmetic ranks are unchanged by that map. Ranks are competition ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from citybrain.core.composite.aggregate import two_level
from citybrain.core.composite.engine import (
    Data,
    Denominators,
    IndexResult,
    compute,
    groups,
    normalised,
    prepare,
    ranks,
    weigh,
)
from citybrain.core.composite.model import BOUNDED, IndexSpec, indicators, method_of
from citybrain.core.errors import ConfigError

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
FLOOR = 0.01


class UnitRobustness(msgspec.Struct):
    rank: int  # under the spec's own choices
    median_rank: float
    mean_rank: float
    rank_low: int  # 5th percentile (the better end)
    rank_high: int  # 95th percentile


class Influence(msgspec.Struct):
    kind: str  # drop | normalisation | aggregation | weights
    name: str  # the indicator id, method, rule, or the perturbation ("±20%")
    mean_shift: float  # mean absolute rank shift over the units (and runs)
    max_shift: int


class Robustness(msgspec.Struct):
    runs: int
    seed: int
    perturbation: float
    normalisations: list[str]
    aggregations: list[str]
    units: dict[str, UnitRobustness]
    influence: list[Influence]  # most influential first


def _ranks(spec: IndexSpec, x: Array, w: Array, across: Array, rules: Sequence[str], rule: str) -> Ints:
    _, total = two_level(FLOOR + (1 - FLOOR) * x, groups(spec), w, rules, across, rule)
    return ranks(total)


def _influence(kind: str, name: str, r: Ints, ref: Ints) -> Influence:
    shift = np.abs(r - ref)
    return Influence(kind, name, float(shift.mean()), int(shift.max()))


def _perturbed(base: Array, factors: Array, cols: Sequence[Ints]) -> Array:
    w = base * factors
    for g in cols:
        w[..., g] /= w[..., g].sum(axis=-1, keepdims=True)
    return w


def robustness(
    spec: IndexSpec,
    data: Data,
    denominators: Denominators | None = None,
    previous: IndexResult | None = None,
    *,
    runs: int = 1000,
    seed: int = 0,
    perturbation: float = 0.2,
    normalisations: Sequence[str] = ("minmax", "rank", "efficacy"),
    aggregations: Sequence[str] = ("arithmetic", "geometric"),
) -> Robustness:
    if unbounded := [m for m in normalisations if m not in BOUNDED]:
        raise ConfigError(f"robustness: {unbounded} can be negative (geometric means); use {sorted(BOUNDED)}")
    if not normalisations or not aggregations or runs < 1 or not 0 <= perturbation < 1:
        raise ConfigError("robustness: needs methods, rules, runs >= 1 and a perturbation in [0, 1)")
    base = compute(spec, data, denominators, previous)
    prep = prepare(spec, data, denominators, previous)
    x = normalised(spec, prep.values)
    w, across = weigh(spec, x)
    cols, k, m = groups(spec), len(spec.dimensions), x.shape[-1]
    rules = [d.aggregation for d in spec.dimensions]
    ref = _ranks(spec, x, w, across, rules, spec.aggregation)

    rng = np.random.default_rng(seed)
    pick = rng.integers(len(normalisations), size=runs)
    rule = rng.integers(len(aggregations), size=runs)
    wi = _perturbed(w, rng.uniform(1 - perturbation, 1 + perturbation, (runs, m)), cols)
    wd = _perturbed(across, rng.uniform(1 - perturbation, 1 + perturbation, (runs, k)), [np.arange(k)])
    stack = np.stack([normalised(spec, prep.values, name) for name in normalisations])
    run_ranks = np.zeros((runs, len(prep.units)), dtype=np.intp)
    for a, name in enumerate(aggregations):
        if (sel := rule == a).any():
            xs, ws, ds = stack[pick[sel]], wi[sel, None, :], wd[sel, None, :]
            run_ranks[sel] = _ranks(spec, xs, ws, ds, [name] * k, name)

    units = {
        u: UnitRobustness(
            base.units[u].rank,
            float(np.median(run_ranks[:, j])),
            float(run_ranks[:, j].mean()),
            int(np.percentile(run_ranks[:, j], 5, method="lower")),
            int(np.percentile(run_ranks[:, j], 95, method="higher")),
        )
        for j, u in enumerate(prep.units)
    }

    found: list[Influence] = []
    dim_of = [d for d, g in enumerate(cols) for _ in g]
    for j, (_, ind) in enumerate(indicators(spec) if m > 1 else []):
        wj, aj = w.copy(), across.copy()
        wj[j] = 0.0
        g = cols[dim_of[j]]
        if wj[g].sum() > 0:
            wj[g] /= wj[g].sum()
        else:
            aj[dim_of[j]] = 0.0
            aj /= aj.sum()
        found.append(_influence("drop", ind.id, _ranks(spec, x, wj, aj, rules, spec.aggregation), ref))
    for name in normalisations:
        if name != spec.normalisation.method:
            r = _ranks(spec, normalised(spec, prep.values, name), w, across, rules, spec.aggregation)
            found.append(_influence("normalisation", name, r, ref))
    bounded = all(method_of(spec, i) in BOUNDED for _, i in indicators(spec))
    for name in aggregations:
        if set([*rules, spec.aggregation]) != {name} and (bounded or name == "arithmetic"):
            found.append(_influence("aggregation", name, _ranks(spec, x, w, across, [name] * k, name), ref))
    if perturbation > 0:
        r = _ranks(spec, x, wi[:, None, :], wd[:, None, :], rules, spec.aggregation)
        found.append(_influence("weights", f"±{perturbation:.0%}", r, ref))
    found.sort(key=lambda f: (-f.mean_shift, -f.max_shift, f.kind, f.name))
    return Robustness(runs, seed, perturbation, list(normalisations), list(aggregations), units, found)

"""The composite-index engine: a spec (model.py) and each unit's raw values in, each unit's score,
band, rank, dimension scores, normalised indicators (imputed ones flagged), contributions and
changes against earlier periods out. Pure computation: no store, no scene.

The steps follow the OECD/JRC Handbook on Constructing Composite Indicators (2008): raw value ->
divided by the unit's denominator (``per``) -> imputed -> transformed (log) -> normalised (higher
is better) -> weighted and aggregated into dimensions -> into the index -> times ``scale``.

- Ranks: competition ranking ("1224"): units whose scores are equal to 12 decimals share the best
  of their ranks and the next rank is skipped. Rank 1 is the best.
- Bands: a score is in the band with the highest ``min`` not above it; a score below every band's
  ``min`` is in the lowest band. Dimension scores get bands from the same table.
- Contributions: scale x dimension weight x indicator weight x normalised value (w I). They add
  up to the score only when both levels are arithmetic (``IndexResult.additive``).
- Changes: against ``previous`` (month on month) and ``year_ago`` (year on year) results: score
  and dimension differences (now minus then) and the rank change (then minus now: + moved up).
Sources: shared/research/anchors-governance.md section 2 (the Handbook's steps, the report skeleton).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from citybrain.core.composite.aggregate import two_level
from citybrain.core.composite.impute import impute
from citybrain.core.composite.model import (
    Band,
    DataError,
    Dimension,
    IndexSpec,
    indicators,
    method_of,
    within_method,
)
from citybrain.core.composite.normalise import Params, normalise
from citybrain.core.composite.weights import ahp, entropy, equal, expert
from citybrain.core.errors import ConfigError

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Data = Mapping[str, Mapping[str, float | None]]  # unit -> indicator id -> raw value (None: missing)
Denominators = Mapping[str, Mapping[str, float]]  # unit -> denominator id -> value
Matrix = Sequence[Sequence[float | str]]
RANKING = "competition (1224): equal scores (to 12 decimals) share the best rank, the next is skipped"


class IndicatorScore(msgspec.Struct):
    value: float  # after ``per`` and imputation, before the transform
    normalised: float
    imputed: bool
    weight: float  # within its dimension
    contribution: float  # scale x dimension weight x weight x normalised


class DimensionScore(msgspec.Struct):
    score: float
    band: Band | None
    weight: float  # within the index
    contribution: float  # scale x weight x normalised dimension score


class Change(msgspec.Struct):
    score: float  # now - then
    rank: int  # then - now: positive means the unit moved up
    dimensions: dict[str, float]  # now - then, by dimension id


class UnitScore(msgspec.Struct):
    score: float
    band: Band | None
    rank: int
    dimensions: dict[str, DimensionScore]
    indicators: dict[str, IndicatorScore]
    changes: dict[str, Change]  # "previous", "year_ago"


class IndexResult(msgspec.Struct):
    name: str
    scale: float
    units: dict[str, UnitScore]
    dimension_weights: dict[str, float]
    indicator_weights: dict[str, float]  # within their dimensions
    additive: bool  # contributions add up to the score
    ranking: str = RANKING


@dataclass(frozen=True)
class Prepared:
    """Values ready to normalise: units x indicators, after ``per`` and imputation."""

    units: list[str]
    values: Array
    imputed: npt.NDArray[np.bool_]


def groups(spec: IndexSpec) -> list[Ints]:
    """Each dimension's indicator columns."""
    out, start = [], 0
    for d in spec.dimensions:
        out.append(np.arange(start, start + len(d.indicators)))
        start += len(d.indicators)
    return out


def prepare(
    spec: IndexSpec, data: Data, denominators: Denominators | None = None, previous: IndexResult | None = None
) -> Prepared:
    units = list(data)
    if not units:
        raise DataError(f"index {spec.name}: no units to score")
    pairs = indicators(spec)
    x = np.full((len(units), len(pairs)), np.nan)
    last = np.full_like(x, np.nan)
    problems: list[str] = []
    for a, u in enumerate(units):
        for b, (_, ind) in enumerate(pairs):
            if previous is not None and u in previous.units and ind.id in previous.units[u].indicators:
                last[a, b] = previous.units[u].indicators[ind.id].value
            raw = data[u].get(ind.id)
            try:
                if raw is None or (v := float(raw)) != v:  # None or NaN: missing
                    continue
            except (TypeError, ValueError):
                problems.append(f"unit {u}, indicator {ind.id}: {raw!r} is not a number")
                continue
            if not math.isfinite(v):
                problems.append(f"unit {u}, indicator {ind.id}: value {v} is not finite")
                continue
            if ind.per:
                den = (denominators or {}).get(u, {}).get(ind.per)
                if den is None or not math.isfinite(den) or den <= 0:
                    problems.append(f"unit {u}, indicator {ind.id}: denominator {ind.per} missing or not > 0")
                    continue
                v /= den
            x[a, b] = v
    if problems:
        raise DataError("; ".join(problems))
    filled = impute(x, spec.imputation, units, [i.id for _, i in pairs], last)
    for b, (_, ind) in enumerate(pairs):
        if ind.transform == "log" and (bad := [units[a] for a in np.flatnonzero(filled.values[:, b] <= 0)]):
            raise DataError(f"indicator {ind.id}: a log transform needs values > 0 (units {', '.join(bad)})")
    return Prepared(units, filled.values, filled.imputed)


def normalised(spec: IndexSpec, values: Array, method: str | None = None) -> Array:
    """Each column transformed and normalised; ``method`` replaces the spec's methods except for
    indicators with fixed goalposts (robustness runs)."""
    cols = []
    for b, (d, ind) in enumerate(indicators(spec)):
        how = method if method is not None and ind.goalposts is None else method_of(spec, ind)
        x, gp, ref = values[..., b], ind.goalposts, ind.target
        goalposts = None if gp is None else (gp.min, gp.max)
        if ind.transform == "log":
            x = np.log(x)
            goalposts = None if gp is None else (math.log(gp.min), math.log(gp.max))
            ref = None if ref is None else math.log(ref)
        params = Params(ind.direction == "up", goalposts, ref, spec.normalisation.efficacy_floor,
                        f"dimension {d.name}, indicator {ind.id}")  # fmt: skip
        cols.append(normalise(how, x, params))
    return np.stack(cols, axis=-1)


def _level(method: str, values: Array, declared: Sequence[float | None], matrix: Matrix | None) -> Array:
    if len(declared) == 1:
        return np.ones(1)
    if method == "expert" and all(w is not None for w in declared):
        return expert([w for w in declared if w is not None])
    if method == "entropy":
        return entropy(values)
    if method == "ahp":
        if matrix is None:
            raise ConfigError(f"weighting ahp: no matrix for a level of {len(declared)} (see model.check)")
        return ahp(matrix).weights
    return equal(len(declared))


def weigh(spec: IndexSpec, x: Array) -> tuple[Array, Array]:
    """The indicators' weights (each dimension's summing to 1) and the dimensions' weights, by the
    spec's methods, from normalised values ``x`` (entropy reads them; at the index level it reads
    the dimension scores)."""
    cols = groups(spec)
    w = np.zeros(x.shape[-1])
    for d, g in zip(spec.dimensions, cols, strict=True):
        declared = [i.weight for i in d.indicators]
        w[g] = _level(within_method(spec), x[:, g], declared, spec.weighting.ahp.get(d.id))
    k = len(spec.dimensions)
    dims, _ = two_level(x, cols, w, [d.aggregation for d in spec.dimensions], equal(k), "arithmetic")
    across = _level(spec.weighting.method, dims, [d.weight for d in spec.dimensions],
                    spec.weighting.ahp.get("index"))  # fmt: skip
    return w, across


def ranks(scores: Array) -> Ints:
    """Competition ranks along the last axis, 1 the highest score."""
    s = np.round(scores, 12)
    out: Ints = 1 + (s[..., None, :] > s[..., :, None]).sum(axis=-1)
    return out


def band_of(bands: Sequence[Band], score: float) -> Band | None:
    ordered = sorted(bands, key=lambda b: b.min, reverse=True)
    for b in ordered:
        if round(score, 12) >= b.min:
            return b
    return ordered[-1] if ordered else None


def compute(
    spec: IndexSpec,
    data: Data,
    denominators: Denominators | None = None,
    previous: IndexResult | None = None,
    year_ago: IndexResult | None = None,
) -> IndexResult:
    """Score every unit of ``data``; ``previous`` also gives imputation "last" its values."""
    prep = prepare(spec, data, denominators, previous)
    x = normalised(spec, prep.values)
    w, across = weigh(spec, x)
    dims, total = two_level(x, groups(spec), w, [d.aggregation for d in spec.dimensions], across,
                            spec.aggregation)  # fmt: skip
    rank = ranks(total)
    s, pairs = spec.scale, indicators(spec)
    dim_of = {i.id: k for k, d in enumerate(spec.dimensions) for i in d.indicators}
    units: dict[str, UnitScore] = {}
    for a, u in enumerate(prep.units):
        ind = {
            i.id: IndicatorScore(float(prep.values[a, b]), float(x[a, b]), bool(prep.imputed[a, b]),
                                 float(w[b]), s * float(across[dim_of[i.id]] * w[b] * x[a, b]))
            for b, (_, i) in enumerate(pairs)
        }  # fmt: skip
        dim = {
            d.id: DimensionScore(s * float(dims[a, k]), band_of(spec.bands, s * float(dims[a, k])),
                                 float(across[k]), s * float(across[k] * dims[a, k]))
            for k, d in enumerate(spec.dimensions)
        }  # fmt: skip
        score = s * float(total[a])
        units[u] = UnitScore(score, band_of(spec.bands, score), int(rank[a]), dim, ind, {})
    for label, then in (("previous", previous), ("year_ago", year_ago)):
        for u, now in units.items():
            if then is not None and u in then.units:
                now.changes[label] = _change(now, then.units[u], spec.dimensions)
    additive = {spec.aggregation, *(d.aggregation for d in spec.dimensions)} == {"arithmetic"}
    return IndexResult(
        spec.name,
        s,
        units,
        {d.id: float(across[k]) for k, d in enumerate(spec.dimensions)},
        {i.id: float(w[b]) for b, (_, i) in enumerate(pairs)},
        additive,
    )


def _change(now: UnitScore, then: UnitScore, dims: Sequence[Dimension]) -> Change:
    return Change(
        now.score - then.score,
        then.rank - now.rank,
        {d.id: now.dimensions[d.id].score - old.score for d in dims if (old := then.dimensions.get(d.id))},
    )

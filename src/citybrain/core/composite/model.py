"""A composite index as data: the indicator tree (index -> dimensions -> indicators) and the
methodological choices (normalisation, weighting, imputation, aggregation, bands, scale), loaded
from TOML and checked, every problem at once, each naming where it is.

The steps and their vocabulary follow the OECD/JRC *Handbook on Constructing Composite Indicators*
(Nardo et al., 2008, ISBN 978-92-64-04345-9; see shared/research/anchors-governance.md section 2):
imputation, normalisation, weighting and aggregation are choices written down here, never code
constants. A spec in TOML::

    name = "平安指数"
    aggregation = "arithmetic"      # of the dimensions: arithmetic | geometric
    imputation = "mean"             # none | mean | median | last | zero
    scale = 100                     # scores are normalised values in [0, 1] times this
    [normalisation]
    method = "minmax"               # minmax | zscore | target | rank | efficacy (功效函数)
    [weighting]
    method = "ahp"                  # of the dimensions: equal | expert | entropy | ahp
    within = "entropy"              # of each dimension's indicators (default: method)
    ahp.index = [[1, 3], ["1/3", 1]]  # one pairwise matrix per level: "index" or a dimension id
    [[bands]]
    min = 90
    label = "平安"
    colour = "green"
    [[dimensions]]
    id = "public"
    name = "公共安全"
    [[dimensions.indicators]]
    id = "fires"
    name = "有效火警接警数"
    direction = "down"              # lower is better
    per = "residents_10k"           # divided by the unit's denominator before normalising
    source = { kind = "cases", type = "civic.hotline", area = "{unit}" }  # where gather reads it

An indicator's ``source`` is declarative and read by ``sources.gather`` (one reader per kind:
``metric``, ``alerts``, ``cases``, ``dataset``); ``{unit}`` in a key or an area is the unit's code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import msgspec

from citybrain.core.composite.weights import ahp
from citybrain.core.documents import read_document
from citybrain.core.errors import CitybrainError, ConfigError

Direction = Literal["up", "down"]
Transform = Literal["none", "log"]
Aggregation = Literal["arithmetic", "geometric"]
NormMethod = Literal["minmax", "zscore", "target", "rank", "efficacy"]
WeightMethod = Literal["equal", "expert", "entropy", "ahp"]
Imputation = Literal["none", "mean", "median", "last", "zero"]

# methods whose output lies in [0, 1] (the efficacy function's 60-100 divided by 100): only these may
# be aggregated geometrically or weighted by entropy, which need values >= 0
BOUNDED: frozenset[str] = frozenset({"minmax", "rank", "efficacy"})
GOALPOSTED: frozenset[str] = frozenset({"minmax", "efficacy"})  # the methods that read goalposts


class SpecError(ConfigError):
    """A spec that cannot be used; ``problems`` lists every problem, each naming its place."""

    def __init__(self, index: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"index {index}: " + "; ".join(problems))


class DataError(CitybrainError):
    """Data that cannot be scored (a missing value without imputation, a log of 0, a missing
    denominator); the message names the unit and the indicator."""


class Goalposts(msgspec.Struct, forbid_unknown_fields=True):
    min: float
    max: float


# source kind -> the fields it needs (sources.READERS holds a reader for each)
SOURCE_NEEDS: dict[str, tuple[str, ...]] = {
    "metric": ("name", "key"),
    "alerts": ("rule", "area"),
    "cases": ("type", "area"),
    "dataset": ("dataset", "column"),
}
SOURCE_AGGS: dict[str, tuple[str, ...]] = {
    "metric": ("sum", "avg", "max", "min", "count"),
    "dataset": ("sum", "avg", "max", "min"),
}
UNIT = "{unit}"  # the placeholder a source's key or area carries


class Source(msgspec.Struct, forbid_unknown_fields=True):
    """Where an indicator's raw value comes from, for a unit and a period ``[start, end)``:
    ``metric``: a stored metric of ``key`` aggregated (``agg``) over the period; ``alerts``: alerts
    of ``rule`` opened in the period in ``area``; ``cases``: cases of ``type`` (of ``category``)
    opened in the period in ``area``; ``dataset``: imported statistics, ``column`` of the rows of
    ``dataset`` whose ``area_column`` is the unit and whose ``month_column`` lies in the period."""

    kind: str
    name: str = ""  # metric
    key: str = ""  # metric: e.g. "{unit}", "district:{unit}"
    agg: str = ""  # metric: sum | avg | max | min | count; dataset: sum | avg | max | min (default sum)
    rule: str = ""  # alerts: "<scene>.<rule>"
    area: str = UNIT  # alerts, cases: a division code prefix
    type: str = ""  # cases: a case type name
    category: str = ""  # cases: one category only (empty: every one)
    dataset: str = ""  # dataset: "<department>.<table>"
    column: str = ""  # dataset: the value column
    area_column: str = "district"  # dataset: the column holding the unit's code
    month_column: str = "month"  # dataset: the column holding the month ("2026-11" or a date)


class Indicator(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str
    name_en: str = ""
    direction: Direction = "up"
    unit: str = ""
    per: str = ""  # a denominator id: the raw value is divided by the unit's value of it
    transform: Transform = "none"  # applied to the value and to the goalposts
    goalposts: Goalposts | None = None  # fixed min and max (minmax, efficacy), values clipped
    weight: float | None = None  # expert weight within its dimension
    normalisation: NormMethod | None = None  # overrides the index's default method
    target: float | None = None  # the reference of "target" (default: the best observed value)
    source: Source | None = None  # where gather reads it (None: the caller supplies the value)


class Dimension(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str
    name_en: str = ""
    weight: float | None = None  # expert weight within the index
    aggregation: Aggregation = "arithmetic"  # of its indicators
    indicators: list[Indicator] = msgspec.field(default_factory=list)


class Normalisation(msgspec.Struct, forbid_unknown_fields=True):
    method: NormMethod = "minmax"
    efficacy_floor: float = 60.0  # 功效函数 d = floor + (100 - floor) t, the usual 60 + 40 t


class Weighting(msgspec.Struct, forbid_unknown_fields=True):
    method: WeightMethod = "equal"  # of the dimensions
    within: WeightMethod | None = None  # of each dimension's indicators (None: method)
    ahp: dict[str, list[list[float | str]]] = msgspec.field(default_factory=dict)  # level -> matrix


class Denominator(msgspec.Struct, forbid_unknown_fields=True):
    """What an indicator's raw value is divided by (its ``per``), e.g. a district's residents in
    tens of thousands: read from ``source`` like an indicator, except that a ``dataset`` source
    gives the newest row dated before the period ends (a census or a yearly estimate stands until
    the next one), then divided by ``unit`` (10,000: per 10,000 residents)."""

    id: str
    name: str
    name_en: str = ""
    unit: float = 1.0
    source: Source | None = None  # None: the caller supplies the values


class Band(msgspec.Struct, forbid_unknown_fields=True):
    min: float  # scores >= min (and below the next band's min) are in this band
    label: str
    label_en: str = ""
    colour: str = ""


class IndexSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    dimensions: list[Dimension]
    name_en: str = ""
    aggregation: Aggregation = "arithmetic"  # of the dimensions
    normalisation: Normalisation = msgspec.field(default_factory=Normalisation)
    weighting: Weighting = msgspec.field(default_factory=Weighting)
    imputation: Imputation = "none"
    bands: list[Band] = msgspec.field(default_factory=list)
    scale: float = 1.0
    source: str = ""  # where the method comes from
    denominators: list[Denominator] = msgspec.field(default_factory=list)  # what ``per`` names


def indicators(spec: IndexSpec) -> list[tuple[Dimension, Indicator]]:
    """Every indicator with its dimension, in declaration order (the engine's column order)."""
    return [(d, i) for d in spec.dimensions for i in d.indicators]


def method_of(spec: IndexSpec, ind: Indicator) -> str:
    return ind.normalisation or spec.normalisation.method


def within_method(spec: IndexSpec) -> str:
    return spec.weighting.within or spec.weighting.method


def parse_spec(raw: Any) -> IndexSpec:
    """A spec from decoded TOML/JSON (a dict), checked; SpecError names every problem."""
    try:
        spec = msgspec.convert(raw, IndexSpec)
    except msgspec.ValidationError as err:
        name = raw.get("name", "?") if isinstance(raw, dict) else "?"
        raise SpecError(str(name), [str(err)]) from None
    return validate(spec)


def load_spec(path: str | Path) -> IndexSpec:
    """A spec from a TOML (or JSON) file, checked."""
    try:
        spec = read_document(path, "composite index", IndexSpec)
    except ConfigError as err:
        raise SpecError(str(path), [str(err)]) from None
    return validate(spec)


def validate(spec: IndexSpec) -> IndexSpec:
    problems = check(spec)
    if problems:
        raise SpecError(spec.name or "?", problems)
    return spec


def check(spec: IndexSpec) -> list[str]:
    """Every problem of ``spec``, each naming its place (``dimension 公共安全, indicator fires: ...``)."""
    out: list[str] = []
    if not spec.name.strip():
        out.append("the index has no name")
    if not (math.isfinite(spec.scale) and spec.scale > 0):
        out.append(f"scale {spec.scale} must be a positive number")
    if not spec.dimensions:
        out.append("the index has no dimensions")
    if not 0 <= spec.normalisation.efficacy_floor < 100:
        out.append("normalisation: efficacy_floor must be in [0, 100)")
    dim_ids = [d.id for d in spec.dimensions]
    ind_ids = [i.id for _, i in indicators(spec)]
    for what, ids in (("dimension", dim_ids), ("indicator", ind_ids)):
        for dup in sorted({x for x in ids if ids.count(x) > 1}):
            out.append(f"{what} id {dup!r} is used more than once")
    geometric = spec.aggregation == "geometric" or any(d.aggregation == "geometric" for d in spec.dimensions)
    entropy = "entropy" in (spec.weighting.method, within_method(spec))
    for d in spec.dimensions:
        here = f"dimension {d.name or d.id}"
        if not d.id.strip() or not d.name.strip():
            out.append(f"{here}: id and name are required")
        if not d.indicators:
            out.append(f"{here}: no indicators")
        out.extend(f"{here}: {p}" for p in _weight(d.weight))
        for i in d.indicators:
            out.extend(f"{here}, indicator {i.id}: {p}" for p in _indicator(spec, i, geometric, entropy))
    _expert(out, spec)
    for level in spec.weighting.ahp:
        if level != "index" and level not in dim_ids:
            out.append(f"weighting: ahp matrix {level!r} names no level (index or a dimension id)")
    for level, method, n in _levels(spec):
        if method != "ahp" or n < 2:
            continue
        where = f"weighting, ahp matrix {level!r}"
        if level not in spec.weighting.ahp:
            out.append(f"{where}: missing (weighting ahp needs one for each level of 2 or more)")
            continue
        try:
            w = ahp(spec.weighting.ahp[level])
        except ConfigError as err:
            out.append(f"{where}: {err}")
            continue
        if len(w.weights) != n:
            out.append(f"{where}: is {len(w.weights)} x {len(w.weights)}, the level has {n} members")
    dens = [d.id for d in spec.denominators]
    for dup in sorted({x for x in dens if dens.count(x) > 1}):
        out.append(f"denominator id {dup!r} is used more than once")
    for den in spec.denominators:
        here = f"denominator {den.id}"
        if not den.id.strip() or not den.name.strip():
            out.append(f"{here}: id and name are required")
        if not (math.isfinite(den.unit) and den.unit > 0):
            out.append(f"{here}: unit {den.unit} must be a positive number")
        if den.source is not None:
            out.extend(f"{here}, source: {p}" for p in check_source(den.source))
    if spec.denominators:  # declared: every per names one (else the caller supplies them all)
        for d, i in indicators(spec):
            if i.per and i.per not in dens:
                out.append(f"dimension {d.name or d.id}, indicator {i.id}: per {i.per!r} is no denominator "
                           f"(declared: {', '.join(dens)})")  # fmt: skip
    mins = [b.min for b in spec.bands]
    if len(set(mins)) != len(mins):
        out.append("bands: two bands have the same min")
    for b in spec.bands:
        if not b.label.strip() or not math.isfinite(b.min):
            out.append(f"band {b.label or '?'}: a band needs a label and a finite min")
    return out


def _indicator(spec: IndexSpec, i: Indicator, geometric: bool, entropy: bool) -> list[str]:
    out: list[str] = []
    if not i.id.strip() or not i.name.strip():
        out.append("id and name are required")
    method = method_of(spec, i)
    out.extend(_weight(i.weight))
    if i.goalposts is not None:
        lo, hi = i.goalposts.min, i.goalposts.max
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            out.append("goalposts min >= max")
        elif i.transform == "log" and lo <= 0:
            out.append("goalposts min must be > 0 under a log transform")
        if method not in GOALPOSTED:
            out.append(f"goalposts are read by minmax and efficacy, not by {method}")
    if i.target is not None and not math.isfinite(i.target):
        out.append("target must be a finite number")
    if i.transform == "log" and i.target is not None and i.target <= 0:
        out.append("target must be > 0 under a log transform")
    if method == "target" and i.target == 0:
        out.append("target 0 cannot be a reference (the distance divides by it)")
    if method not in BOUNDED and geometric:
        out.append(f"{method} gives negative values, which geometric aggregation cannot take")
    if method not in BOUNDED and entropy:
        out.append(f"{method} gives negative values, which entropy weighting cannot take")
    if i.source is not None:
        out.extend(f"source: {p}" for p in check_source(i.source))
    return out


def check_source(src: Source) -> list[str]:
    """Every problem of one source: its kind known, the fields its kind needs given, the others
    empty, ``{unit}`` where a per-unit value needs it."""
    needs = SOURCE_NEEDS.get(src.kind)
    if needs is None:
        return [f"kind {src.kind!r} is unknown (known: {', '.join(sorted(SOURCE_NEEDS))})"]
    out = [f"kind {src.kind} needs {f!r}" for f in needs if not str(getattr(src, f)).strip()]
    used = {*needs, "kind", *(("agg",) if src.kind in SOURCE_AGGS else ()),
            *(("category",) if src.kind == "cases" else ()),
            *(("area_column", "month_column") if src.kind == "dataset" else ())}  # fmt: skip
    defaults = Source(kind=src.kind)
    for f in Source.__struct_fields__:
        if f not in used and getattr(src, f) != getattr(defaults, f):
            out.append(f"{f!r} is not read by kind {src.kind}")
    if src.agg and src.kind in SOURCE_AGGS and src.agg not in SOURCE_AGGS[src.kind]:
        out.append(f"agg {src.agg!r} must be one of {', '.join(SOURCE_AGGS[src.kind])}")
    place = {"metric": "key", "alerts": "area", "cases": "area"}.get(src.kind)
    if place and getattr(src, place) and UNIT not in getattr(src, place):
        out.append(f"{place} {getattr(src, place)!r} must contain {UNIT} (else every unit reads the same)")
    if src.kind == "alerts" and src.rule and "." not in src.rule.strip("."):
        out.append(f"rule {src.rule!r} must be '<scene>.<rule>'")
    if src.kind in ("alerts", "cases") and src.area != UNIT and not src.area.startswith(UNIT):
        out.append(f"area {src.area!r} must start with {UNIT} (a division code prefix)")
    return out


def _weight(w: float | None) -> list[str]:
    return [] if w is None or (math.isfinite(w) and w >= 0) else [f"weight {w} must be a number >= 0"]


def _expert(out: list[str], spec: IndexSpec) -> None:
    """Expert weights: in each level, all given or none (then equal); their sum must be positive."""
    groups: list[tuple[str, str, list[float | None]]] = [
        ("index", spec.weighting.method, [d.weight for d in spec.dimensions])
    ]
    groups += [(f"dimension {d.name or d.id}", within_method(spec), [i.weight for i in d.indicators])
               for d in spec.dimensions]  # fmt: skip
    for where, method, ws in groups:
        if method != "expert" or len(ws) < 2:
            continue
        given = [w for w in ws if w is not None]
        if given and len(given) != len(ws):
            out.append(f"{where}: expert weights are given for some members only")
        elif given and sum(given) <= 0:
            out.append(f"{where}: expert weights sum to 0")


def _levels(spec: IndexSpec) -> list[tuple[str, str, int]]:
    """(level key, weighting method, members) for the index and each dimension."""
    out = [("index", spec.weighting.method, len(spec.dimensions))]
    return out + [(d.id, within_method(spec), len(d.indicators)) for d in spec.dimensions]

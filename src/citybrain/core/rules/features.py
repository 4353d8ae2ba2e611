"""Features: what rules read of each subject, built at once for a whole population from the
datasets' current rows (core/aggregation), declared as data.

A **subject** set comes from one dataset (a household roster: its key column, its area column);
each **feature** aggregates one dataset's rows by the column naming the subject::

    name = "medical_12m"          # what clauses call it
    dataset = "medical.bills"     # whose current rows
    by = "household"              # the column naming the subject
    agg = "sum"                   # sum | count | max | min | latest | any (a row, or a true value)
    value = "amount"              # the column aggregated (not for count)
    where = "settled >= '2025-12-01'"   # which rows (the rules' expression language)
    per = "members"               # divided by another feature (per person)

A subject without rows has 0 for sum and count, false for any, and nothing (unknown) for the
others. Each feature remembers where it came from (dataset and the newest as-of date it read), so
a decision names its sources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import msgspec
import pyarrow as pa

from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.errors import ConfigError
from citybrain.core.rules.expr import parse
from citybrain.core.store.base import Store

Agg = Literal["sum", "count", "max", "min", "latest", "any"]
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SQL = {"sum": "sum", "count": "count", "max": "max", "min": "min", "latest": "arg_max", "any": "bool_or"}


class FeatureSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    dataset: str
    by: str
    agg: Agg = "latest"
    value: str = ""
    where: str = ""
    per: str = ""
    title: str = ""


class SubjectSpec(msgspec.Struct, forbid_unknown_fields=True):
    dataset: str  # the roster: one row per subject
    key: str  # its column naming the subject
    area: str  # its column with the subject's area code


@dataclass(frozen=True)
class Population:
    """The subjects with their features (``table``: key, area, one column per feature) and where
    each feature came from (feature -> dataset, the newest as-of date read)."""

    table: pa.Table
    sources: dict[str, dict[str, str]] = field(default_factory=dict)


def check(subjects: SubjectSpec, features: Sequence[FeatureSpec], datasets: Mapping[str, Dataset]) -> None:
    """ConfigError naming the first feature that reads what its dataset does not have."""
    roster = datasets.get(subjects.dataset)
    if roster is None:
        raise ConfigError(f"subjects: dataset {subjects.dataset!r} is not declared")
    for col in (subjects.key, subjects.area):
        if col not in {c.name for c in roster.columns}:
            _missing("subjects", subjects.dataset, col)
    names = {f.name for f in features}
    if len(names) != len(features):
        raise ConfigError("a feature name is used twice")
    for f in features:
        if not _NAME.match(f.name) or f.name in ("key", "area"):
            raise ConfigError(
                f"feature {f.name!r}: a name is lower case letters, digits and _ (not key, area)"
            )
        if f.agg not in ("count", "any") and not f.value:
            raise ConfigError(f"feature {f.name!r}: {f.agg} needs the column it aggregates (value)")
        ds = datasets.get(f.dataset)
        if ds is None:
            raise ConfigError(f"feature {f.name!r}: dataset {f.dataset!r} is not declared")
        have = {c.name for c in ds.columns}
        for col in [f.by, *([f.value] if f.value else [])]:
            if col not in have:
                _missing(f"feature {f.name!r}", f.dataset, col)
        if f.where:
            unknown = parse(f.where, f"feature {f.name!r}").names - have
            if unknown:
                _missing(f"feature {f.name!r} (where)", f.dataset, sorted(unknown)[0])
        if f.per and f.per not in names:
            raise ConfigError(f"feature {f.name!r}: per {f.per!r} is not a feature")


def _missing(what: str, dataset: str, column: str) -> None:
    raise ConfigError(f"{what}: dataset {dataset!r} has no column {column!r}")


def build(
    store: Store,
    subjects: SubjectSpec,
    features: Sequence[FeatureSpec],
    datasets: Mapping[str, Dataset],
    keys: Sequence[str] | None = None,
) -> Population:
    """Every subject of the roster with every feature, in one in-memory DuckDB over Arrow; only
    the subjects ``keys`` when given (a household to re-screen after a new fact): then only their
    rows are read."""
    check(subjects, features, datasets)
    roster = datasets[subjects.dataset]
    only = None if keys is None else list(keys)
    con = duckdb.connect()
    try:
        people = store.current_table(roster.name, _types(roster, [subjects.key, subjects.area]),
                                     None if only is None else (subjects.key, only))  # fmt: skip
        con.register("subjects", people)
        needed: dict[str, set[str]] = {}
        for f in features:
            cols = needed.setdefault(f.dataset, set())
            cols |= {f.by, *([f.value] if f.value else []), *(parse(f.where).names if f.where else set())}
        sources: dict[str, dict[str, str]] = {}
        for name, cols in needed.items():
            bys = {f.by for f in features if f.dataset == name}
            where = (next(iter(bys)), only) if only is not None and len(bys) == 1 else None
            t = store.current_table(name, _types(datasets[name], sorted(cols)), where)
            con.register(_view(name).strip('"'), t)
            newest = con.execute(f"SELECT max(as_of) FROM {_view(name)}").fetchall()[0][0]
            for f in features:
                if f.dataset == name:
                    sources[f.name] = {
                        "dataset": name,
                        "as_of": str(newest or ""),
                    }
        selects = [f'"{subjects.key}" AS key', f'"{subjects.area}" AS area']
        joins = []
        for i, f in enumerate(features):
            agg = _aggregate(f)
            cond = f" WHERE {parse(f.where).sql({})}" if f.where else ""
            joins.append(f'LEFT JOIN (SELECT "{f.by}" AS k, {agg} AS v FROM {_view(f.dataset)}{cond} '
                         f'GROUP BY "{f.by}") f{i} ON f{i}.k = s."{subjects.key}"')  # fmt: skip
            # no rows: 0 for sum and count, false for any; rows whose values are all missing: unknown
            empty = {"sum": "0", "count": "0", "any": "FALSE"}.get(f.agg)
            value = f"CASE WHEN f{i}.k IS NULL THEN {empty} ELSE f{i}.v END" if empty else f"f{i}.v"
            selects.append(f'{value} AS "{f.name}"')
        base = f"SELECT {', '.join(selects)} FROM subjects s {' '.join(joins)}"
        per = {f.name: f.per for f in features if f.per}
        outer = [f'CAST("{n}" AS DOUBLE) / NULLIF("{per[n]}", 0) AS "{n}"' if n in per else f'"{n}"'
                 for n in ["key", "area", *(f.name for f in features)]]  # fmt: skip
        table = con.sql(f"SELECT {', '.join(outer)} FROM ({base}) t ORDER BY key").to_arrow_table()
    finally:
        con.close()
    return Population(table, sources)


def _view(dataset: str) -> str:
    return '"ds_' + dataset.replace(".", "__") + '"'


def _types(ds: Dataset, names: Sequence[str]) -> dict[str, str]:
    return {n: ds.column(n).type for n in names}


def _aggregate(f: FeatureSpec) -> str:
    if f.agg == "count":
        return "count(*)"
    if f.agg == "any" and not f.value:  # a row exists (a signed 授权书 in force, a disability record)
        return "count(*) > 0"
    if (
        f.agg == "latest"
    ):  # the value of the row with the newest as-of date (then the greatest key), even if null
        return f"arg_max_null(\"{f.value}\", as_of || '|' || key)"
    return f'{_SQL[f.agg]}("{f.value}")'

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
    via = "civil.members"         # ``by`` names a key of this dataset, whose column named as the
                                  # subjects' key gives the subject (a person's ID -> household)

A ``where`` may compare with the caller's ``params`` (the screening day: ``settled >= days_365``).
A subject without rows has 0 for sum and count, false for any, and nothing (unknown) for the
others. Each feature remembers where it came from (dataset and the newest as-of date it read), so
a decision names its sources.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec
import pyarrow as pa

from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.documents import read_document
from citybrain.core.errors import ConfigError
from citybrain.core.rules.expr import Value, parse
from citybrain.core.store.base import CurrentView, Store

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
    via: str = ""  # a dataset keyed by what ``by`` holds, with a column naming the subject
    title: str = ""


class SubjectSpec(msgspec.Struct, forbid_unknown_fields=True):
    dataset: str  # the roster: one row per subject
    key: str  # its column naming the subject
    area: str  # its column with the subject's area code


class FeatureFile(msgspec.Struct, forbid_unknown_fields=True):
    subjects: SubjectSpec
    features: list[FeatureSpec] = msgspec.field(default_factory=list)


def load_features(path: Path) -> tuple[SubjectSpec, list[FeatureSpec]]:
    """The subjects and features declared in a TOML file (``[subjects]``, ``[[features]]``)."""
    parsed = read_document(path, "features", FeatureFile)
    return parsed.subjects, parsed.features


@dataclass(frozen=True)
class Population:
    """The subjects with their features (``table``: key, area, one column per feature) and where
    each feature came from (feature -> dataset, the newest as-of date read)."""

    table: pa.Table
    sources: dict[str, dict[str, str]] = field(default_factory=dict)


def check(
    subjects: SubjectSpec,
    features: Sequence[FeatureSpec],
    datasets: Mapping[str, Dataset],
    params: Collection[str] = (),
) -> None:
    """ConfigError naming the first feature that reads what its dataset does not have (a
    ``where`` may also read ``params``)."""
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
            unknown = parse(f.where, f"feature {f.name!r}").names - have - set(params)
            if unknown:
                _missing(f"feature {f.name!r} (where)", f.dataset, sorted(unknown)[0])
        # a sensitive column is stored sealed (core/fieldcrypt.py): equal values join, nothing else
        sealed = {c.name for c in ds.columns if c.sensitive}
        read = [*([f.value] if f.value else []), *sorted(parse(f.where).names if f.where else ())]
        if touched := [c for c in read if c in sealed]:
            raise ConfigError(
                f"feature {f.name!r}: column {touched[0]!r} of {f.dataset!r} is sensitive, stored encrypted: "
                "it may name whom a row is about (by), not be computed on"
            )
        if f.per and f.per not in names:
            raise ConfigError(f"feature {f.name!r}: per {f.per!r} is not a feature")
        if f.via:
            link = datasets.get(f.via)
            if link is None:
                raise ConfigError(f"feature {f.name!r}: via {f.via!r} is not a declared dataset")
            if len(link.key) != 1 or subjects.key not in {c.name for c in link.columns}:
                raise ConfigError(f"feature {f.name!r}: via {f.via!r} needs a one-column key and a "
                                  f"column {subjects.key!r} naming the subject")  # fmt: skip


def _missing(what: str, dataset: str, column: str) -> None:
    raise ConfigError(f"{what}: dataset {dataset!r} has no column {column!r}")


def build(
    store: Store,
    subjects: SubjectSpec,
    features: Sequence[FeatureSpec],
    datasets: Mapping[str, Dataset],
    keys: Sequence[str] | None = None,
    params: Mapping[str, Value] | None = None,
) -> Population:
    """Every subject of the roster with every feature, in one DuckDB query over the datasets'
    current rows (``Store.current_query``: in place on the DuckDB store); only the subjects
    ``keys`` when given (a household to re-screen after a new fact): then only their
    rows are read. ``params`` are the values a ``where`` may compare with (the screening day)."""
    values = dict(params or {})
    check(subjects, features, datasets, values)
    roster = datasets[subjects.dataset]
    only = None if keys is None else list(keys)
    links = {f.via for f in features if f.via}
    needed: dict[str, set[str]] = {}
    for f in features:
        cols = needed.setdefault(f.dataset, set())
        cols |= {f.by, *([f.value] if f.value else []), *(_reads(f.where) - set(values))}
        if f.via:
            needed.setdefault(f.via, set()).update({datasets[f.via].key[0], subjects.key})
    views = {"subjects": CurrentView(roster.name, (subjects.key, subjects.area),
                                     None if only is None else (subjects.key, only))}  # fmt: skip
    linked: dict[str, list[str]] = {}  # a link dataset -> its keys of the chosen subjects
    for name in sorted(needed, key=lambda n: (n not in links, n)):  # links first
        where = _only(name, features, subjects, links, only, linked)
        if name in links and only is not None:
            key_col = datasets[name].key[0]
            t = store.current_table(name, sorted({key_col, subjects.key}), where)
            chosen = set(only)
            linked[name] = [k for k, s in zip(t.column(key_col).to_pylist(),
                                              t.column(subjects.key).to_pylist(), strict=True)
                            if k is not None and s in chosen]  # fmt: skip
        views[_view(name)] = CurrentView(name, tuple(sorted(needed[name])), where)
    selects, joins = _aggregations(features, subjects, datasets, values)
    base = f"SELECT {', '.join(selects)} FROM subjects s {' '.join(joins)}"
    per = {f.name: f.per for f in features if f.per}
    outer = [f'CAST("{n}" AS DOUBLE) / NULLIF("{per[n]}", 0) AS "{n}"' if n in per else f'"{n}"'
             for n in ["key", "area", *(f.name for f in features)]]  # fmt: skip
    newest = " UNION ALL ".join(  # the newest as-of date each dataset gave: where the features came from
        [f"SELECT '{n}' AS dataset, max(as_of) AS as_of FROM \"{_view(n)}\"" for n in sorted(needed)]
        or ["SELECT NULL AS dataset, NULL AS as_of WHERE false"]
    )
    table, dated = store.current_query(
        views, f"SELECT {', '.join(outer)} FROM ({base}) t ORDER BY key", newest
    )
    as_of = {str(r["dataset"]): str(r["as_of"] or "") for r in dated.to_pylist()}
    sources = {f.name: {"dataset": f.dataset, "as_of": as_of.get(f.dataset, "")} for f in features}
    return Population(table, sources)


def _reads(where: str) -> set[str]:
    return set(parse(where).names) if where else set()


def _only(
    name: str,
    features: Sequence[FeatureSpec],
    subjects: SubjectSpec,
    links: set[str],
    only: list[str] | None,
    linked: Mapping[str, list[str]],
) -> tuple[str, list[str]] | None:
    """Which rows of ``name`` to read for the chosen subjects (None: all): those naming them, by
    the one column every use of the dataset names them with (through a link: the link's keys)."""
    if only is None:
        return None
    uses = {(f.by, f.via) for f in features if f.dataset == name}
    if name in links:
        uses.add((subjects.key, ""))
    if len(uses) != 1:
        return None
    by, via = next(iter(uses))
    return (by, linked[via]) if via else (by, only)


def _aggregations(
    features: Sequence[FeatureSpec],
    subjects: SubjectSpec,
    datasets: Mapping[str, Dataset],
    values: Mapping[str, Value],
) -> tuple[list[str], list[str]]:
    """The select list (key, area, each feature) and the joins giving it, over ``subjects s``.

    The features reading the same dataset by the same column (and link) share one scan: each is an
    aggregate FILTERed by its ``where``, with the count of rows it matched (none: 0 for sum and
    count, false for any, else unknown; rows whose values are all missing: unknown). Rows naming a
    person reach the household in two steps: aggregated by person where they are, then the persons'
    aggregates combined per household through the link (one join of a row per person, not of every
    row: 16 million wages are 2.75 million people)."""
    groups: dict[tuple[str, str, str], list[tuple[int, FeatureSpec]]] = {}
    for i, f in enumerate(features):
        groups.setdefault((f.dataset, f.by, f.via), []).append((i, f))
    selects = [f's."{subjects.key}" AS key', f's."{subjects.area}" AS area']
    joins = []
    for g, ((dataset, by, via), members) in enumerate(groups.items()):
        first = [f'"{by}" AS k']
        combined = [f'l."{subjects.key}" AS k']
        for i, f in members:
            cond = f" FILTER (WHERE {parse(f.where).sql(values)})" if f.where else ""
            first.append(f"count(*){cond} AS n{i}")
            combined.append(f"CAST(sum(n{i}) AS BIGINT) AS n{i}")
            if f.agg == "latest":  # the newest as-of date, then the greatest key, even if null
                first += [f"arg_max_null(\"{f.value}\", as_of || '|' || key){cond} AS v{i}",
                          f"max(as_of || '|' || key){cond} AS o{i}"]  # fmt: skip
                combined.append(f"arg_max_null(v{i}, o{i}) AS v{i}")
            elif f.value and f.agg != "count":
                first.append(f'{_SQL[f.agg]}("{f.value}"){cond} AS v{i}')
                combined.append(f"{_COMBINE[f.agg]}(v{i}) AS v{i}")
        sub = f'SELECT {", ".join(first)} FROM "{_view(dataset)}" GROUP BY "{by}"'
        if via:
            link_key = datasets[via].key[0]
            sub = (f'SELECT {", ".join(combined)} FROM ({sub}) x JOIN "{_view(via)}" l '
                   f'ON l."{link_key}" = x.k GROUP BY l."{subjects.key}"')  # fmt: skip
        joins.append(f'LEFT JOIN ({sub}) g{g} ON g{g}.k = s."{subjects.key}"')
        for i, f in members:
            n = f"coalesce(g{g}.n{i}, 0)"
            if f.agg == "count":
                value = n
            elif f.agg == "any" and not f.value:  # a row exists (a signed 授权书 in force)
                value = f"{n} > 0"
            else:
                value = f"CASE WHEN {n} = 0 THEN {_EMPTY.get(f.agg, 'NULL')} ELSE g{g}.v{i} END"
            selects.append(f'{value} AS "{f.name}"')
    return selects, joins


_COMBINE = {"sum": "sum", "max": "max", "min": "min", "any": "bool_or"}  # persons' aggregates, per household
_EMPTY = {"sum": "0", "any": "FALSE"}  # a subject with no rows


def _view(dataset: str) -> str:
    """The name a dataset's rows go by in the features' query."""
    return "ds_" + dataset.replace(".", "__")

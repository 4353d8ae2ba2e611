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

import duckdb
import msgspec
import pyarrow as pa

from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.documents import read_document
from citybrain.core.errors import ConfigError
from citybrain.core.rules.expr import Value, parse
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
    """Every subject of the roster with every feature, in one in-memory DuckDB over Arrow; only
    the subjects ``keys`` when given (a household to re-screen after a new fact): then only their
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
    con = duckdb.connect()
    try:
        people = store.current_table(roster.name, _types(roster, [subjects.key, subjects.area]),
                                     None if only is None else (subjects.key, only),
                                     roster.column(subjects.key).indexed)  # fmt: skip
        con.register("subjects", people)
        sources: dict[str, dict[str, str]] = {}
        linked: dict[str, list[str]] = {}  # a link dataset -> its keys of the chosen subjects
        for name in sorted(needed, key=lambda n: (n not in links, n)):  # links first
            where = _only(name, features, subjects, links, only, linked)
            indexed = where is not None and datasets[name].column(where[0]).indexed
            t = store.current_table(name, _types(datasets[name], sorted(needed[name])), where, indexed)
            if name in links and only is not None:
                chosen = set(only)
                key_col = datasets[name].key[0]
                linked[name] = [k for k, s in zip(t.column(key_col).to_pylist(),
                                                  t.column(subjects.key).to_pylist(), strict=True)
                                if k is not None and s in chosen]  # fmt: skip
            con.register(_view(name).strip('"'), t)
            newest = con.execute(f"SELECT max(as_of) FROM {_view(name)}").fetchall()[0][0]
            for f in features:
                if f.dataset == name:
                    sources[f.name] = {"dataset": name, "as_of": str(newest or "")}
        selects = [f'"{subjects.key}" AS key', f'"{subjects.area}" AS area']
        joins = []
        for i, f in enumerate(features):
            agg = _aggregate(f)
            cond = f" WHERE {parse(f.where).sql(values)}" if f.where else ""
            rows = _rows(f, subjects, datasets)
            joins.append(f'LEFT JOIN (SELECT "{_BY}" AS k, {agg} AS v FROM {rows}{cond} '
                         f'GROUP BY "{_BY}") f{i} ON f{i}.k = s."{subjects.key}"')  # fmt: skip
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


_BY = "__subject"  # the column naming the subject of a feature's rows


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


def _rows(f: FeatureSpec, subjects: SubjectSpec, datasets: Mapping[str, Dataset]) -> str:
    """A feature's rows with the subject each is about (``__subject``): its ``by`` column, or
    through its link dataset."""
    if not f.via:
        return f'(SELECT *, "{f.by}" AS "{_BY}" FROM {_view(f.dataset)}) d'
    link_key = datasets[f.via].key[0]
    return (f'(SELECT d.*, l."{subjects.key}" AS "{_BY}" FROM {_view(f.dataset)} d '
            f'JOIN {_view(f.via)} l ON l."{link_key}" = d."{f.by}") d')  # fmt: skip


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
        return f"arg_max_null(\"{f.value}\", d.as_of || '|' || d.key)"
    return f'{_SQL[f.agg]}("{f.value}")'

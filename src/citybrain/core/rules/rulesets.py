"""Rule sets: which clauses decide a policy, with which numbers, for which region and from when.

A **rule set** is one policy's rules (低保 eligibility, a 防返贫 risk screen, a subsidy granted
without application) for a region (an area code: 3601 南昌, 360121 南昌县; the longest code that
covers a subject wins) from a date (``valid_from``; the latest one in force on the day asked wins),
with a ``version`` that every decision carries. ``params`` are its numbers (低保标准 900 元/人/月,
the monitoring line, asset limits); ``clauses`` its conditions, each an expression over features
and params (core/rules/expr.py). A subject is **eligible** when every clause holds, **ineligible**
when one fails, and **needs review** when none fails but one cannot be decided (a value missing).
A rule set may require a yes/no feature first (``requires``: a signed 授权书 in force): a subject
without it is **not authorised** and its data is not compared at all.

Declared in TOML (``[[rulesets]]``), checked when loaded: a clause that reads a name that is
neither a declared feature nor a parameter is a ConfigError naming the rule set and the clause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import msgspec

from citybrain.core.documents import read_document
from citybrain.core.errors import ConfigError
from citybrain.core.rules.expr import Expr, Value, parse

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ClauseSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    title: str
    expr: str


class RuleSetSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str  # the policy: "dibao", "relapse_risk", "elderly_subsidy"
    title: str
    region: str  # an area code: "3601", "360121"
    valid_from: str  # YYYY-MM-DD
    version: str  # "2026.1": carried by every decision
    clauses: list[ClauseSpec]
    params: dict[str, bool | int | float | str] = msgspec.field(default_factory=dict)
    features: list[str] = msgspec.field(default_factory=list)  # the subject's values the clauses read
    source: str = ""  # the document it implements (民发〔2021〕57号, a county notice ...)
    requires: str = ""  # a yes/no feature without which a subject's data is not compared (授权书)


@dataclass(frozen=True)
class Clause:
    name: str
    title: str
    expr: Expr


@dataclass(frozen=True)
class RuleSet:
    name: str
    title: str
    region: str
    valid_from: date
    version: str
    clauses: tuple[Clause, ...]
    params: Mapping[str, Value]
    features: tuple[str, ...]
    source: str = ""
    requires: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} {self.region} v{self.version} (from {self.valid_from})"

    @classmethod
    def of(cls, spec: RuleSetSpec) -> RuleSet:
        where = f"rule set {spec.name!r} {spec.region} v{spec.version}"
        if not _NAME.match(spec.name):
            raise ConfigError(f"{where}: the name must be lower case letters, digits and _")
        if not spec.region.isascii() or not spec.region.isdigit():
            raise ConfigError(f"{where}: region {spec.region!r} is not an area code")
        try:
            start = date.fromisoformat(spec.valid_from)
        except ValueError:
            raise ConfigError(f"{where}: valid_from {spec.valid_from!r} is not a date (YYYY-MM-DD)") from None
        if not spec.clauses:
            raise ConfigError(f"{where}: it has no clause")
        clash = set(spec.params) & set(spec.features)
        if clash:
            raise ConfigError(f"{where}: {sorted(clash)[0]!r} is both a parameter and a feature")
        clauses = []
        for c in spec.clauses:
            if not _NAME.match(c.name):
                raise ConfigError(
                    f"{where}: clause {c.name!r}: the name must be lower case letters, digits and _"
                )
            expr = parse(c.expr, f"{where}, clause {c.name!r}")
            unknown = sorted(expr.names - set(spec.params) - set(spec.features))
            if unknown:
                raise ConfigError(
                    f"{where}, clause {c.name!r}: {unknown[0]!r} is neither a feature "
                    f"{sorted(spec.features)} nor a parameter {sorted(spec.params)}"
                )
            clauses.append(Clause(c.name, c.title, expr))
        names = [c.name for c in clauses]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: a clause name is used twice")
        if spec.requires and spec.requires not in spec.features:
            raise ConfigError(f"{where}: requires {spec.requires!r}, which is not one of its features")
        return cls(spec.name, spec.title, spec.region, start, spec.version, tuple(clauses), dict(spec.params),
                   tuple(spec.features), spec.source, spec.requires)  # fmt: skip


class RuleBook:
    """Every rule set, and the one in force for a policy, region and day."""

    def __init__(self, sets: Iterable[RuleSet]) -> None:
        self.sets = list(sets)
        seen: set[tuple[str, str, date]] = set()
        for s in self.sets:
            k = (s.name, s.region, s.valid_from)
            if k in seen:
                raise ConfigError(f"rule set {s.name!r} {s.region} is declared twice from {s.valid_from}")
            seen.add(k)

    def in_force(self, name: str, on: date) -> list[RuleSet]:
        """For each region with rules of ``name``, the latest version in force on ``on``."""
        best: dict[str, RuleSet] = {}
        for s in self.sets:
            if s.name == name and s.valid_from <= on:
                cur = best.get(s.region)
                if cur is None or s.valid_from > cur.valid_from:
                    best[s.region] = s
        return sorted(best.values(), key=lambda s: s.region)

    def for_area(self, name: str, area: str, on: date) -> RuleSet | None:
        """The rule set of the most specific region covering ``area`` (None: no region does)."""
        covering = [s for s in self.in_force(name, on) if area.startswith(s.region)]
        return max(covering, key=lambda s: len(s.region)) if covering else None


class RuleFile(msgspec.Struct, forbid_unknown_fields=True):
    rulesets: list[RuleSetSpec] = msgspec.field(default_factory=list)


def load_rules(path: Path) -> RuleBook:
    parsed = read_document(path, "rules", RuleFile)
    return RuleBook(RuleSet.of(s) for s in parsed.rulesets)

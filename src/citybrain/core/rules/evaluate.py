"""Deciding with rule sets: a whole population at once (``screen``: one SQL statement per region in
an in-memory DuckDB over an Arrow table), one subject with every reason (``explain``), and what a
proposed change would do (``what_if``). The two evaluators of a clause are the same expression
(core/rules/expr.py), and the tests hold them to the same answers.

The population is an Arrow table with a ``key`` column (the subject: a household, a company), an
``area`` column (its administrative code: which region's rules apply) and one column per feature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from citybrain.core.errors import ConfigError
from citybrain.core.rules.expr import Value, literal
from citybrain.core.rules.rulesets import RuleBook, RuleSet

Outcome = Literal["eligible", "ineligible", "needs_review", "not_authorised"]


@dataclass(frozen=True)
class ClauseResult:
    name: str
    title: str
    expr: str
    result: bool | None  # None: could not be decided (a value is missing)
    values: dict[str, Value]  # the features it read, as they were
    params: dict[str, Value]  # the rule set's numbers it read


@dataclass(frozen=True)
class Decision:
    """One subject's decision and every reason: each clause with the values it read and where
    each value came from (``sources``: feature -> dataset, as-of date), and the rule version."""

    key: str
    policy: str
    outcome: Outcome
    region: str
    version: str
    valid_from: str
    clauses: list[ClauseResult]
    sources: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.clauses if c.result is False]

    @property
    def unknown(self) -> list[str]:
        return [c.name for c in self.clauses if c.result is None]


def outcome_of(results: Sequence[bool | None]) -> Outcome:
    if any(r is False for r in results):
        return "ineligible"
    return "needs_review" if any(r is None for r in results) else "eligible"


def explain(
    rs: RuleSet, key: str, values: Mapping[str, Value], sources: Mapping[str, Mapping[str, str]] | None = None
) -> Decision:
    """``rs`` applied to one subject, every clause with its reason (none when the subject lacks
    what the rule set ``requires``: its data is not compared)."""
    if rs.requires and not _granted(values.get(rs.requires)):
        return Decision(key, rs.name, "not_authorised", rs.region, rs.version, rs.valid_from.isoformat(), [],
                        {n: dict(s) for n, s in (sources or {}).items() if n == rs.requires})  # fmt: skip
    results = []
    for c in rs.clauses:
        got = c.expr.eval(values, rs.params)
        truth = None if got is None else bool(got)
        read = sorted(c.expr.names)
        results.append(ClauseResult(c.name, c.title, c.expr.text, truth,
                                    {n: values.get(n) for n in read if n not in rs.params},
                                    {n: rs.params[n] for n in read if n in rs.params}))  # fmt: skip
    used = {n for r in results for n in r.values}
    return Decision(key, rs.name, outcome_of([r.result for r in results]), rs.region, rs.version,
                    rs.valid_from.isoformat(), results,
                    {n: dict(s) for n, s in (sources or {}).items() if n in used})  # fmt: skip


def _granted(v: Value) -> bool:
    """What the SQL gate ``coalesce(x = TRUE, FALSE)`` says of a value: true, or a non-zero number."""
    return v is True or (isinstance(v, int | float) and not isinstance(v, bool) and v == v and v != 0)


def _region_filter(rs: RuleSet, others: Sequence[RuleSet]) -> str:
    """Subjects in ``rs``'s region and not in a more specific region with rules of its own."""
    inner = [o.region for o in others if o.region != rs.region and o.region.startswith(rs.region)]
    cond = f"starts_with(area, {literal(rs.region)})"
    return cond + "".join(f" AND NOT starts_with(area, {literal(r)})" for r in inner)


def screen_sql(rs: RuleSet, others: Sequence[RuleSet]) -> str:
    """The one statement deciding every subject of ``rs``'s region: a column per clause (TRUE,
    FALSE or NULL: unknown), the outcome, the failed and the unknown clauses."""
    # without what the rule set requires (a 授权书), no clause is evaluated: nothing is compared
    gate = f'coalesce("{rs.requires}" = TRUE, FALSE)' if rs.requires else "TRUE"
    cols = [f'CASE WHEN {gate} THEN CAST({c.expr.sql(rs.params)} AS BOOLEAN) END AS "c_{c.name}"'
            for c in rs.clauses]  # fmt: skip
    names = [f'"c_{c.name}"' for c in rs.clauses]
    failed = ", ".join(
        f"CASE WHEN {n} = FALSE THEN {literal(c.name)} END" for n, c in zip(names, rs.clauses, strict=True)
    )
    unknown = ", ".join(
        f"CASE WHEN {n} IS NULL THEN {literal(c.name)} END" for n, c in zip(names, rs.clauses, strict=True)
    )
    return (
        f"SELECT key, {literal(rs.region)} AS region, {literal(rs.version)} AS version, "
        "CASE WHEN NOT allowed THEN 'not_authorised' "
        f"WHEN {' OR '.join(f'{n} = FALSE' for n in names)} THEN 'ineligible' "
        f"WHEN {' OR '.join(f'{n} IS NULL' for n in names)} THEN 'needs_review' "
        "ELSE 'eligible' END AS outcome, "
        f"list_filter([{failed}], lambda x: x IS NOT NULL) AS failed, "
        f"CASE WHEN allowed THEN list_filter([{unknown}], lambda x: x IS NOT NULL) ELSE [] END AS unknown "
        f"FROM (SELECT key, {gate} AS allowed, {', '.join(cols)} FROM subjects "
        f"WHERE {_region_filter(rs, others)}) t"
    )


def screen(book: RuleBook, policy: str, on: date, subjects: pa.Table) -> pa.Table:
    """Every subject decided by the rule set of its region in force on ``on``: a table of key,
    region, version, outcome, failed (clause names), unknown (clause names). Subjects of no region
    with rules are not in it."""
    return screen_many(book, [policy], on, subjects)[policy]


def screen_many(book: RuleBook, policies: Sequence[str], on: date, subjects: pa.Table) -> dict[str, pa.Table]:
    """``screen`` of several policies over the same subjects, in one database."""
    chosen = {p: book.in_force(p, on) for p in dict.fromkeys(policies)}
    for policy, sets in chosen.items():
        if not sets:
            raise ConfigError(f"no rule set of {policy!r} is in force on {on}")
        missing = sorted(
            {"key", "area", *(f for rs in sets for f in rs.features)} - set(subjects.column_names)
        )
        if missing:
            raise ConfigError(f"the subjects lack the columns {missing}")
    con = duckdb.connect()
    out = {}
    try:
        con.register("subjects", _nan_as_null(subjects))
        for policy, sets in chosen.items():
            parts = [con.sql(screen_sql(rs, sets)).to_arrow_table() for rs in sets]
            out[policy] = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    finally:
        con.close()
    return out


def _nan_as_null(t: pa.Table) -> pa.Table:
    """Float columns with NaN as null: a NaN is a missing value (as ``explain`` reads it), where
    DuckDB would order it above every number."""
    for i, field_ in enumerate(t.schema):
        if pa.types.is_floating(field_.type):
            col = t.column(i)
            t = t.set_column(i, field_.name, pc.if_else(pc.is_nan(col), pa.scalar(None, field_.type), col))
    return t


def what_if(
    book: RuleBook, policy: str, on: date, proposed: Sequence[RuleSet], subjects: pa.Table
) -> pa.Table:
    """Who would gain or lose under ``proposed`` (rule sets of ``policy`` replacing those of their
    regions): key, before, after, failed_before, failed_after, for every subject whose outcome
    changes."""
    if not proposed:
        raise ConfigError("what if: no proposed rule set")
    current = book.in_force(policy, on)
    regions = {rs.region for rs in proposed}
    wrong = [rs.label for rs in proposed if rs.name != policy]
    if wrong:
        raise ConfigError(f"proposed rule sets are not of {policy!r}: {wrong}")
    after_book = RuleBook([*(rs for rs in current if rs.region not in regions), *proposed])
    before = screen(book, policy, on, subjects)
    after = screen(after_book, policy, max(on, *(rs.valid_from for rs in proposed)), subjects)
    con = duckdb.connect()
    try:
        con.register("b", before)
        con.register("a", after)
        return con.sql(
            "SELECT coalesce(a.key, b.key) AS key, b.outcome AS before, a.outcome AS after, "
            "b.failed AS failed_before, a.failed AS failed_after FROM b FULL OUTER JOIN a ON a.key = b.key "
            "WHERE b.outcome IS DISTINCT FROM a.outcome ORDER BY key"
        ).to_arrow_table()
    finally:
        con.close()

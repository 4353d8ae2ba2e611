"""The case tables, the same SQL on both backends (``Cases`` in base.py; the engine in core/cases).

Changes are written many at a time, in one transaction (the engine's group commit): the case
rows are read with the backend's row lock and each change's version compared with the one it was
computed from, then the rows are written, the log entries appended and the audit records added,
each by one bulk statement. Two API nodes changing one case at once therefore see each other: the
second finds another version and gets a ``ConflictError``; a command id already in the log is a
``CommandSeen`` (the engine answers the first result again). A refused change refuses only itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain.core.cases.records import Case, CaseChange, CaseEntry, CaseQuery
from citybrain.core.errors import CitybrainError, ConflictError, NotFoundError, StoreError
from citybrain.core.store.base import Cases
from citybrain.core.store.sql_primitives import SqlPrimitives

_CASE = msgspec.json.Decoder(Case)
_ENTRY = msgspec.json.Decoder(CaseEntry)
_JSON = msgspec.json.Encoder()
CASE_MAX = 10_000  # rows one query returns at most

_ROW = (
    "id, type, scene, state, version, opened_ts, updated_ts, department, area, category, due_ts, "
    "step_due_ts, closed_ts, doc"
)


class CommandSeen(ConflictError):
    """The command id was applied before (to ``case_id``, making ``version``)."""

    def __init__(self, command_id: str, case_id: str, version: int) -> None:
        super().__init__(f"command {command_id!r} was already applied (case {case_id} version {version})")
        self.case_id, self.version = case_id, version


def case_params(c: Case) -> list[Any]:
    return [c.id, c.type, c.scene, c.state, c.version, c.opened_ts, c.updated_ts, c.department, c.area,
            c.category, c.due_ts, c.step_due_ts, c.closed_ts, _JSON.encode(c).decode()]  # fmt: skip


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_cases_query(q: CaseQuery) -> tuple[str, list[object]]:
    """The cases ``q`` finds, soonest deadline first (then newest) or newest first: SQL and its
    parameters."""
    conds: list[tuple[str, list[object]]] = []
    for column, value in (("type", q.type), ("scene", q.scene), ("department", q.department),
                          ("category", q.category)):  # fmt: skip
        if value:
            conds.append((f"{column} = ?", [value]))
    if q.states:
        conds.append((f"state IN ({', '.join('?' * len(q.states))})", list(q.states)))
    if q.area_prefix:
        conds.append(("area LIKE ? ESCAPE '\\'", [_like(q.area_prefix) + "%"]))
    if q.open_only or q.overdue_at is not None:
        conds.append(("closed_ts IS NULL", []))
    if q.overdue_at is not None:
        conds.append(("(due_ts < ? OR step_due_ts < ?)", [q.overdue_at, q.overdue_at]))
    if q.opened_since is not None:
        conds.append(("opened_ts >= ?", [q.opened_since]))
    if q.opened_until is not None:
        conds.append(("opened_ts < ?", [q.opened_until]))
    if q.text:
        conds.append(("lower(doc) LIKE ? ESCAPE '\\'", [f"%{_like(q.text.lower())}%"]))
    where = " AND ".join(["1 = 1", *(c for c, _ in conds)])
    order = (
        "opened_ts DESC, id"
        if q.newest_first
        else "coalesce(step_due_ts, due_ts, 9223372036854775807), opened_ts DESC, id"
    )
    sql = f"SELECT doc FROM cases WHERE {where} ORDER BY {order} LIMIT ?"
    return sql, [*(v for _, vs in conds for v in vs), max(0, min(q.limit, CASE_MAX))]


# the rows of ``Cases.case_kpi_rows``: the JSON operators below are the same on DuckDB and PostgreSQL
KPI_ENTRIES = (  # the entry's document is decoded by the caller: PostgreSQL's json parses once per ->>
    "SELECT l.case_id, l.version, l.ts, c.area, l.doc FROM case_log l JOIN cases c ON c.id = l.case_id "
    "WHERE l.ts >= ? AND l.ts < ? AND (? = '' OR c.scene = ?)"
)
KPI_CASES = (
    "SELECT id, type, state, department, area, category, opened_ts, due_ts, closed_ts, "
    "CAST(CAST(doc AS JSON) ->> 'paused_since' AS BIGINT), CAST(CAST(doc AS JSON) ->> 'left_ms' AS BIGINT) "
    "FROM cases WHERE (? = '' OR scene = ?) AND ((opened_ts >= ? AND opened_ts < ?) "
    "OR (due_ts >= ? AND due_ts < ?) OR (closed_ts >= ? AND closed_ts < ?) "
    "OR (closed_ts IS NULL AND due_ts IS NULL))"
)
KPI_OPEN = (
    "SELECT id, type, state, department, area, opened_ts, due_ts, step_due_ts, "
    "CAST(CAST(doc AS JSON) ->> 'lon' AS DOUBLE PRECISION), "
    "CAST(CAST(doc AS JSON) ->> 'lat' AS DOUBLE PRECISION) "
    "FROM cases WHERE (? = '' OR scene = ?) AND closed_ts IS NULL"
)


# the columns of a case row and of a log entry, as ``_upsert`` takes them
CASE_COLUMNS = tuple((c.strip(), "bigint" if c.strip().endswith(("_ts", "version")) else "text")
                     for c in _ROW.split(","))  # fmt: skip
LOG_COLUMNS = (("case_id", "text"), ("version", "bigint"), ("ts", "bigint"), ("command_id", "text"),
               ("doc", "text"))  # fmt: skip
AUDIT_COLUMNS = (("ts", "bigint"), ("actor", "text"), ("action", "text"), ("target", "text"),
                 ("detail", "text"))  # fmt: skip
# the rows were checked under the row lock; a new case another node inserted meanwhile makes
# its log entry's key (case_id, version) collide, which fails the transaction: none is overwritten
UPSERT_CASES = f"INSERT INTO cases SELECT {_ROW} FROM {{src}} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c, _ in CASE_COLUMNS[1:]
)
INSERT_LOG = "INSERT INTO case_log SELECT case_id, version, ts, command_id, doc FROM {src}"
INSERT_AUDIT = "INSERT INTO audit SELECT ts, actor, action, target, detail FROM {src}"


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _refusal(
    ch: CaseChange, seen: dict[str, tuple[str, int]], stored: dict[str, int]
) -> CitybrainError | None:
    """Why ``ch`` cannot be written over what is stored (and written before it), if it cannot."""
    case, cmd = ch.case, ch.entry.command_id
    if cmd in seen:
        return CommandSeen(cmd, *seen[cmd])
    have = stored.get(case.id, 0)
    if have == ch.expected:
        return None
    if ch.expected == 0:
        return ConflictError(f"case {case.id!r} exists already")
    if case.id not in stored:
        return NotFoundError(f"case {case.id!r} does not exist")
    return ConflictError(
        f"case {case.id!r} is at version {have}, not {ch.expected}: someone changed it meanwhile; "
        "reload it and decide again"
    )


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [[r[i] for r in rows] for i in range(width)] if rows else [[] for _ in range(width)]


class SqlCases(Cases, SqlPrimitives):
    """``Cases`` over the primitives of ``sql.SqlStore``."""

    _ROW_LOCK = ""

    def save_cases(self, changes: Sequence[CaseChange], audit: bool = True) -> list[CitybrainError | None]:
        if not changes:
            return []
        try:
            return self._save_together(changes, audit)
        except StoreError as err:
            # another node's transaction wrote one of these meanwhile (a unique command id, a new
            # case): each change on its own, so one refused change does not refuse the others
            if len(changes) == 1:
                return [err]
            return [self.save_cases([ch], audit)[0] for ch in changes]

    def _save_together(self, changes: Sequence[CaseChange], audit: bool) -> list[CitybrainError | None]:
        with self._transaction(f"saving {len(changes)} case change(s)") as tx:
            commands = sorted({ch.entry.command_id for ch in changes})
            marks = _marks(len(commands))
            applied = f"SELECT command_id, case_id, version FROM case_log WHERE command_id IN ({marks})"
            seen = {str(r[0]): (str(r[1]), int(r[2])) for r in tx.rows(applied, commands)}
            ids = sorted({ch.case.id for ch in changes})
            locked = (
                f"SELECT id, version FROM cases WHERE id IN ({_marks(len(ids))}) ORDER BY id" + self._ROW_LOCK
            )
            stored = {str(r[0]): int(r[1]) for r in tx.rows(locked, ids)}
            answers: list[CitybrainError | None] = []
            rows: dict[str, Case] = {}
            written: list[CaseEntry] = []
            broken: set[tuple[str, int]] = set()  # the versions refused changes would have made
            for ch in changes:
                refused = _refusal(ch, seen, stored)
                if (ch.case.id, ch.expected) in broken:  # computed from a change refused above
                    refused = ConflictError(
                        f"case {ch.case.id!r}: the change to version {ch.expected} this one follows was "
                        "refused; reload it and decide again"
                    )
                answers.append(refused)
                if refused is not None:
                    broken.add((ch.case.id, ch.case.version))
                else:
                    stored[ch.case.id] = ch.case.version
                    seen[ch.entry.command_id] = (ch.case.id, ch.case.version)
                    rows[ch.case.id] = ch.case
                    written.append(ch.entry)
            if not written:
                return answers
            # one row per case: the last version this batch made
            self._upsert(
                tx, UPSERT_CASES, CASE_COLUMNS, _columns([case_params(c) for c in rows.values()], 14)
            )
            log = [[e.case_id, e.version, e.ts, e.command_id, _JSON.encode(e).decode()] for e in written]
            self._upsert(tx, INSERT_LOG, LOG_COLUMNS, _columns(log, 5))
            if audit:
                records = [[e.ts, e.actor, f"case.{e.action}", e.case_id,
                            _JSON.encode({"version": e.version, "from": e.from_state, "to": e.to_state,
                                          "note": e.note}).decode()] for e in written]  # fmt: skip
                self._upsert(tx, INSERT_AUDIT, AUDIT_COLUMNS, _columns(records, 5))
            return answers

    def cases_of(self, case_ids: Sequence[str]) -> dict[str, Case]:
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        found = self._rows(f"SELECT doc FROM cases WHERE id IN ({_marks(len(ids))})", ids)
        return {c.id: c for c in (_CASE.decode(r[0]) for r in found)}

    def case(self, case_id: str) -> Case:
        rows = self._rows("SELECT doc FROM cases WHERE id = ?", [case_id])
        if not rows:
            raise NotFoundError(f"case {case_id!r} does not exist")
        return _CASE.decode(rows[0][0])

    def cases_by_commands(self, command_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        ids = sorted(set(command_ids))
        if not ids:
            return {}
        sql = f"SELECT command_id, case_id, version FROM case_log WHERE command_id IN ({_marks(len(ids))})"
        return {str(r[0]): (str(r[1]), int(r[2])) for r in self._rows(sql, ids)}

    def case_entries(self, case_id: str) -> list[CaseEntry]:
        rows = self._rows("SELECT doc FROM case_log WHERE case_id = ? ORDER BY version", [case_id])
        return [_ENTRY.decode(r[0]) for r in rows]

    def case_entries_since(self, ts: int, limit: int = CASE_MAX) -> list[CaseEntry]:
        rows = self._rows(
            "SELECT doc FROM case_log WHERE ts >= ? ORDER BY ts, case_id, version LIMIT ?", [ts, limit]
        )
        return [_ENTRY.decode(r[0]) for r in rows]

    def last_case_change(self) -> int | None:
        rows = self._rows("SELECT max(ts) FROM case_log")
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def find_cases(self, q: CaseQuery) -> list[Case]:
        sql, params = find_cases_query(q)
        return [_CASE.decode(r[0]) for r in self._rows(sql, params)]

    def count_cases(self) -> int:
        rows = self._rows("SELECT count(*) FROM cases")
        return int(rows[0][0]) if rows else 0

    def case_kpi_rows(
        self, scene: str, start: int, end: int, follow_until: int, open_cases: bool = False
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        entries = self._rows(KPI_ENTRIES, [start, max(end, follow_until), scene, scene])
        cases = self._rows(KPI_CASES, [scene, scene, start, end, start, end, start, end])
        still_open = self._rows(KPI_OPEN, [scene, scene]) if open_cases else []
        return entries, cases, still_open

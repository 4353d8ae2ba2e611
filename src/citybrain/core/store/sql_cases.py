"""The case tables, the same SQL on both backends (``Cases`` in base.py; the engine in core/cases).

A change is one transaction: the case row is read with the backend's row lock and its version
compared with the one the change was computed from, then the row is written and the log entry
appended. Two API nodes changing one case at once therefore see each other: the second finds
another version and gets a ``ConflictError``; a command id already in the log is a
``CommandSeen`` (the engine answers the first result again).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import msgspec

from citybrain.core.cases.records import Case, CaseEntry, CaseQuery
from citybrain.core.errors import ConflictError, NotFoundError
from citybrain.core.store.base import Cases

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


class _Tx(Protocol):
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...


def case_params(c: Case) -> list[Any]:
    return [c.id, c.type, c.scene, c.state, c.version, c.opened_ts, c.updated_ts, c.department, c.area,
            c.category, c.due_ts, c.step_due_ts, c.closed_ts, _JSON.encode(c).decode()]  # fmt: skip


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_cases_query(q: CaseQuery) -> tuple[str, list[object]]:
    """The cases ``q`` finds, soonest deadline first (then newest): SQL and its parameters."""
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
    sql = (
        f"SELECT doc FROM cases WHERE {where} "
        "ORDER BY coalesce(step_due_ts, due_ts, 9223372036854775807), opened_ts DESC, id LIMIT ?"
    )
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


class SqlCases(Cases):
    """``Cases`` over the two primitives of ``sql.SqlStore``."""

    _ROW_LOCK = ""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _transaction(self, what: str) -> AbstractContextManager[Any]: ...

    def save_case(self, case: Case, expected: int, entry: CaseEntry) -> None:
        with self._transaction(f"saving case {case.id!r}") as tx:
            self._check_command(tx, entry.command_id)
            rows = tx.rows("SELECT version FROM cases WHERE id = ?" + self._ROW_LOCK, [case.id])
            stored = int(rows[0][0]) if rows else 0
            if stored != expected:
                if expected == 0:
                    raise ConflictError(f"case {case.id!r} exists already")
                if not rows:
                    raise NotFoundError(f"case {case.id!r} does not exist")
                raise ConflictError(
                    f"case {case.id!r} is at version {stored}, not {expected}: someone changed it "
                    "meanwhile; reload it and decide again"
                )
            if expected == 0:
                tx.execute(f"INSERT INTO cases ({_ROW}) VALUES ({', '.join('?' * 14)})", case_params(case))
            else:
                sets = ", ".join(f"{c.strip()} = ?" for c in _ROW.split(",")[1:])
                tx.execute(f"UPDATE cases SET {sets} WHERE id = ?", [*case_params(case)[1:], case.id])
            tx.execute(
                "INSERT INTO case_log VALUES (?, ?, ?, ?, ?)",
                [entry.case_id, entry.version, entry.ts, entry.command_id, _JSON.encode(entry).decode()],
            )

    @staticmethod
    def _check_command(tx: _Tx, command_id: str) -> None:
        seen = tx.rows("SELECT case_id, version FROM case_log WHERE command_id = ?", [command_id])
        if seen:
            raise CommandSeen(command_id, str(seen[0][0]), int(seen[0][1]))

    def case(self, case_id: str) -> Case:
        rows = self._rows("SELECT doc FROM cases WHERE id = ?", [case_id])
        if not rows:
            raise NotFoundError(f"case {case_id!r} does not exist")
        return _CASE.decode(rows[0][0])

    def case_by_command(self, command_id: str) -> tuple[str, int] | None:
        rows = self._rows("SELECT case_id, version FROM case_log WHERE command_id = ?", [command_id])
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

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

"""绩效考核 KPIs of cases, per department or district and month (Beijing time), for any scene.

One function, :func:`month_kpis`, computes them from the store's rows (``Cases.case_kpi_rows``);
the civic scene's API, its big-screen panel and its monthly report all read its answer, so they
agree. The definitions (金华 考核细则 for the 按期 rule: ../research notes A1.5):

============  ==================================================================================
派单数         log entries of the month whose action is a dispatch (``dispatch``, ``reassign``),
dispatched    attributed to the department the case was sent to (the entry's department)
按时签收数      of those dispatches, the ones whose case was then signed (``sign``, before it left
signed on     the dispatched state otherwise) no later than the step deadline of the entry before
time          the sign (that entry's ``step_due_ts``; none set: on time). A sign that answers a
              rework, or a dispatch of an earlier month, is not counted: the rate stays a share
签收率          按时签收数 / 派单数
应结案数 due    cases whose deadline falls in the month, merged / not filed ones left out (final
              states other than the normal close, ``closed``); a case in a pause counts with the
              deadline it had when the pause began
缓办数 paused   those of them in a pause state now (延期/待补充材料: their clock stands)
结案数 closed   those of them closed (state ``closed``)
按期结案数      those of them closed no later than their deadline
按期办结率       按期结案数 / (应结案数 − 缓办数)
结案率          结案数 / (应结案数 − 缓办数)
答复数 replies  entries of the month whose action is a reply (``reply``: the 12345 答复 and the
              grid's 反馈 alike), attributed to the replying department
返工率          replies of the month sent back afterwards (``rework`` before the next reply) / 答复数
回访率          replies of the month called back afterwards (``callback``) / 答复数
满意率          callbacks of the month with satisfaction >= 4 / callbacks of the month
办理时长        cases closed (``closed``) in the month: working time from opening to closing on
handling      the city's calendar, mean and 90th percentile (nearest rank), in working hours
超期 overdue    open cases whose deadline or step deadline has passed (now), listed
============  ==================================================================================

A rate whose denominator is zero is ``None`` (nothing to judge), never 0 or 1. Rows are keyed by
department, or by district (the first 6 digits of the case's area); the total row sums every key.
Answers to a dispatch or a reply are looked for up to :data:`FOLLOW_MS` after the month's end
(a month judged later still credits a sign made on 1 July of a dispatch of 30 June).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

import msgspec

from citybrain.core.cases.engine import BJT, WORKING
from citybrain.core.cases.model import CaseType
from citybrain.core.cases.workcal import HOUR_MS, WorkCalendar
from citybrain.core.errors import Problem, ValidationError
from citybrain.core.store.base import Cases

By = Literal["department", "district"]
DAY_MS = 86_400_000
FOLLOW_MS = 31 * DAY_MS  # how long after the month an answer (签收, 返工, 回访) is looked for
SATISFIED_AT = 4  # satisfaction 4 满意 and 5 非常满意 count as satisfied


@dataclass(frozen=True)
class KpiActions:
    """Which actions the KPIs count, by name (the civic case types' names by default)."""

    dispatch: tuple[str, ...] = ("dispatch", "reassign")
    sign: tuple[str, ...] = ("sign",)
    reply: tuple[str, ...] = ("reply",)  # 答复, and the grid's 反馈 (also named reply)
    rework: tuple[str, ...] = ("rework",)
    callback: tuple[str, ...] = ("callback",)
    closed_state: str = "closed"  # the normal close; other final states are left out of 应结案


@dataclass
class KpiRow:
    """The KPIs of one department or district (``key``) in a month; rates None when undefined."""

    key: str
    opened: int = 0  # 受理数: cases opened in the month
    dispatched: int = 0  # 派单数
    signed_on_time: int = 0  # 按时签收数
    sign_rate: float | None = None  # 签收率
    due: int = 0  # 应结案数
    paused: int = 0  # 缓办数
    closed: int = 0  # 结案数 (of the due)
    closed_on_time: int = 0  # 按期结案数
    on_time_rate: float | None = None  # 按期办结率
    close_rate: float | None = None  # 结案率
    replies: int = 0  # 答复数
    reworked: int = 0  # replies sent back
    rework_rate: float | None = None  # 返工率
    called_back: int = 0  # replies called back
    callback_rate: float | None = None  # 回访率
    callbacks: int = 0  # 回访数 in the month
    satisfied: int = 0  # callbacks with satisfaction >= 4
    satisfaction_rate: float | None = None  # 满意率
    handled: int = 0  # cases closed in the month
    handling_hours_mean: float | None = None
    handling_hours_p90: float | None = None
    overdue: int = 0  # open cases past a deadline now
    _hours: list[float] = field(default_factory=list, repr=False)

    def finish(self) -> KpiRow:
        """Fill the rates and handling-time figures from the counts."""
        judged = self.due - self.paused
        self.sign_rate = ratio(self.signed_on_time, self.dispatched)
        self.on_time_rate = ratio(self.closed_on_time, judged)
        self.close_rate = ratio(self.closed, judged)
        self.rework_rate = ratio(self.reworked, self.replies)
        self.callback_rate = ratio(self.called_back, self.replies)
        self.satisfaction_rate = ratio(self.satisfied, self.callbacks)
        self.handled = len(self._hours)
        if self._hours:
            hours = sorted(self._hours)
            self.handling_hours_mean = sum(hours) / len(hours)
            self.handling_hours_p90 = hours[math.ceil(0.9 * len(hours)) - 1]
        return self

    def add(self, other: KpiRow) -> None:
        for f in COUNTS:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self._hours.extend(other._hours)

    def answer(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


COUNTS = ("opened", "dispatched", "signed_on_time", "due", "paused", "closed", "closed_on_time", "replies",
          "reworked", "called_back", "callbacks", "satisfied", "overdue")  # fmt: skip


@dataclass(frozen=True)
class OverdueCase:
    id: str
    type: str
    state: str
    department: str
    area: str
    due_ts: int | None
    step_due_ts: int | None
    overdue_ms: int  # how long past the earlier passed deadline


@dataclass(frozen=True)
class OpenCase:
    id: str
    type: str
    state: str
    department: str
    area: str
    opened_ts: int
    due_ts: int | None
    step_due_ts: int | None
    lon: float | None
    lat: float | None


@dataclass
class KpiTable:
    """A month's KPIs: one row per key (sorted), the total, the overdue list, the open cases."""

    month: str
    by: By
    start: int
    end: int
    now: int
    rows: list[KpiRow]
    total: KpiRow
    overdue: list[OverdueCase]
    open_cases: list[OpenCase]  # every case not closed (of the scene), for the big screen


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to judge (a zero denominator)."""
    return None if denominator == 0 else numerator / denominator


def month_range(month: str) -> tuple[int, int]:
    """ "2026-11" -> epoch ms of its first instant and of the next month's, Beijing time."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=BJT)
    except ValueError:
        raise ValidationError([Problem(0, "month", f"{month!r} is not a month written YYYY-MM")]) from None
    if not 2000 <= first.year <= 2098:  # the working-day calendar's years
        raise ValidationError([Problem(0, "month", f"{month!r} is outside the years 2000-2098")])
    after = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return int(first.timestamp() * 1000), int(after.timestamp() * 1000)


def month_of(ts: int) -> str:
    """The Beijing-time month of an instant: "2026-12"."""
    return datetime.fromtimestamp(ts / 1000, BJT).strftime("%Y-%m")


def month_kpis(
    store: Cases,
    types: Mapping[str, CaseType],
    calendar: WorkCalendar,
    month: str,
    by: By = "department",
    *,
    now: int,
    scene: str = "",
    actions: KpiActions = KpiActions(),  # frozen: shared safely
    admit: Callable[[str], bool] | None = None,
) -> KpiTable:
    """The KPIs of ``month`` ("YYYY-MM") of ``scene``'s cases ("" every scene), as they stand at
    ``now``, one row per department or district (see the module's table for the definitions);
    only of cases whose area ``admit`` admits, when given (the caller's readable areas)."""
    start, end = month_range(month)
    follow = max(end, min(now, end + FOLLOW_MS))
    entries, cases, still_open = store.case_kpi_rows(scene, start, end, follow, open_cases=True)
    if admit is not None:
        entries = [r for r in entries if admit(r[3] or "")]
        cases = [r for r in cases if admit(r[4] or "")]
        still_open = [r for r in still_open if admit(r[4] or "")]
    groups: dict[str, KpiRow] = defaultdict(lambda: KpiRow(""))
    key = _district if by == "district" else _department

    _count_entries(entries, groups, key, start, end, actions)
    _count_cases(cases, groups, key, start, end, types, calendar, actions)
    overdue, open_list = [], []
    for cid, ctype, state, dept, area, opened, due, step_due, lon, lat in still_open:
        open_list.append(OpenCase(cid, ctype, state, dept, area, opened, due, step_due, lon, lat))
        passed = [t for t in (due, step_due) if t is not None and t < now]
        if passed:
            overdue.append(OverdueCase(cid, ctype, state, dept, area, due, step_due, now - min(passed)))
            groups[key(dept, area)].overdue += 1
    overdue.sort(key=lambda o: (-o.overdue_ms, o.id))

    rows = []
    total = KpiRow("")
    for k in sorted(groups):
        row = groups[k]
        row.key = k
        total.add(row)
        rows.append(row.finish())
    return KpiTable(month, by, start, end, now, rows, total.finish(), overdue, open_list)


def _department(department: str, _area: str) -> str:
    return department


def _district(_department: str, area: str) -> str:
    return area[:6]


def _count_entries(
    entries: Iterable[tuple[Any, ...]],
    groups: dict[str, KpiRow],
    key: Any,
    start: int,
    end: int,
    a: KpiActions,
) -> None:
    """Walk each case's log in version order: dispatches and replies of the month, and what answered
    them (a sign by the step deadline; a rework, a callback before the next reply)."""
    case = None
    dispatch: str | None = None  # the group of a dispatch of the month awaiting its sign
    reply: list[Any] | None = None  # [group, reworked, called back] of a reply awaiting answers
    step_due: int | None = None
    for cid, _v, ts, area, doc in sorted(entries, key=_by_version):
        e = _ENTRY.decode(doc)
        action, src, dst, dept, step = e.action, e.from_state, e.to_state, e.department, e.step_due_ts
        if cid != case:
            case, dispatch, reply, step_due = cid, None, None, None
        here = start <= ts < end
        g = key(dept or "", area or "")
        if action in a.dispatch:
            dispatch = g if here else None
            if here:
                groups[g].dispatched += 1
        elif action in a.sign:
            if dispatch is not None and (step_due is None or ts <= step_due):
                groups[dispatch].signed_on_time += 1
            dispatch = None
        elif src != dst:
            dispatch = None  # returned, merged, sent back: that dispatch was not signed
        if action in a.reply:
            reply = [g, False, False] if here else None
            if here:
                groups[g].replies += 1
        elif action in a.rework:
            if reply is not None and not reply[1]:
                reply[1] = True
                groups[reply[0]].reworked += 1
            reply = None
        elif action in a.callback:
            if reply is not None and not reply[2]:
                reply[2] = True
                groups[reply[0]].called_back += 1
            if here:
                groups[g].callbacks += 1
                groups[g].satisfied += _score(e.fields.satisfaction) >= SATISFIED_AT
        step_due = step


class _Fields(msgspec.Struct):
    satisfaction: Any = None


class _Entry(msgspec.Struct):
    """What the KPIs read of a log entry (the rest of the document is skipped, not decoded)."""

    action: str
    from_state: str = ""
    to_state: str = ""
    department: str = ""
    step_due_ts: int | None = None
    fields: _Fields = msgspec.field(default_factory=_Fields)


_ENTRY = msgspec.json.Decoder(_Entry)


def _by_version(e: tuple[Any, ...]) -> tuple[str, int]:
    return e[0], e[1]


def _score(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return -math.inf


def _count_cases(
    cases: Iterable[tuple[Any, ...]],
    groups: dict[str, KpiRow],
    key: Any,
    start: int,
    end: int,
    types: Mapping[str, CaseType],
    cal: WorkCalendar,
    a: KpiActions,
) -> None:
    """应结案 / 缓办 / 结案 / 按期 of the cases due in the month, 受理 and handling time."""
    for _cid, ctype, state, dept, area, category, opened, due, closed_ts, paused_since, left_ms in cases:
        ct = types.get(ctype)
        st = _state(ct, state)
        row = groups[key(dept, area)]
        if start <= opened < end:
            row.opened += 1
        normal_close = state == a.closed_state
        if st is not None and st.final and not normal_close:
            continue  # merged, not filed: nothing to handle
        paused = st is not None and st.pause
        if due is None and paused and paused_since is not None and left_ms is not None and ct is not None:
            due = _due_when_paused(ct, category, dept, paused_since, left_ms, cal)
        if due is not None and start <= due < end:
            row.due += 1
            row.paused += paused
            if normal_close and closed_ts is not None:
                row.closed += 1
                row.closed_on_time += closed_ts <= due
        if normal_close and closed_ts is not None and start <= closed_ts < end and closed_ts >= opened:
            row._hours.append(cal.working_time_between(opened, closed_ts, dept or None).ms / HOUR_MS)


def _state(ct: CaseType | None, name: str) -> Any:
    if ct is None:
        return None
    try:
        return ct.state(name)
    except KeyError:
        return None


def _due_when_paused(
    ct: CaseType, category: str, dept: str, since: int, left_ms: int, cal: WorkCalendar
) -> int:
    """The deadline a paused case had when its pause began (the allowance left, counted from then)."""
    limit = ct.limit_for(category)
    if limit is not None and limit.unit in WORKING:
        return cal.deadline(since, left_ms / HOUR_MS, "working_hours", dept or None).at_ms
    return since + left_ms


# -- the big screen --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPoint:
    """Open cases of one area (a unit grid, or whatever area the cases carry), for the map."""

    area: str
    open: int
    overdue: int
    lon: float | None  # the mean of its cases' coordinates (None: none has any)
    lat: float | None


@dataclass
class Overview:
    """What the big-screen panel shows: today's figures and the month's, from :func:`month_kpis`."""

    now: int
    month: str
    open: int
    overdue: int
    opened_today: int
    closed_today: int
    satisfaction_rate: float | None  # the month's 满意率 (the total row of the month's KPIs)
    on_time_rate: float | None  # the month's 按期办结率
    grids: list[GridPoint]
    kpis: KpiTable


def day_range(now: int) -> tuple[int, int]:
    """Epoch ms of the Beijing day of ``now``: its first instant and the next day's."""
    first = datetime.fromtimestamp(now / 1000, BJT).replace(hour=0, minute=0, second=0, microsecond=0)
    start = int(first.timestamp() * 1000)
    return start, start + DAY_MS


def overview(
    store: Cases,
    types: Mapping[str, CaseType],
    calendar: WorkCalendar,
    *,
    now: int,
    scene: str = "",
    actions: KpiActions = KpiActions(),  # frozen: shared safely
    admit: Callable[[str], bool] | None = None,
) -> Overview:
    """Open and overdue cases now, cases opened and closed today, the month's satisfaction and
    on-time rates, and the open cases by area with coordinates (of the areas ``admit`` admits)."""
    table = month_kpis(store, types, calendar, month_of(now), "department", now=now, scene=scene,
                       actions=actions, admit=admit)  # fmt: skip
    today, tomorrow = day_range(now)
    _entries, cases, _open = store.case_kpi_rows(scene, today, tomorrow, today)
    if admit is not None:
        cases = [r for r in cases if admit(r[4] or "")]
    opened = sum(today <= c[6] < tomorrow for c in cases)
    closed = sum(
        c[2] == actions.closed_state and c[8] is not None and today <= c[8] < tomorrow for c in cases
    )
    late = {o.id for o in table.overdue}
    by_area: dict[str, list[OpenCase]] = defaultdict(list)
    for c in table.open_cases:
        by_area[c.area].append(c)
    grids = []
    for area in sorted(by_area):
        found = by_area[area]
        placed = [c for c in found if c.lon is not None and c.lat is not None]
        lon = sum(c.lon for c in placed if c.lon is not None) / len(placed) if placed else None
        lat = sum(c.lat for c in placed if c.lat is not None) / len(placed) if placed else None
        grids.append(GridPoint(area, len(found), sum(c.id in late for c in found), lon, lat))
    return Overview(now, table.month, len(table.open_cases), len(table.overdue), opened, closed,
                    table.total.satisfaction_rate, table.total.on_time_rate, grids, table)  # fmt: skip

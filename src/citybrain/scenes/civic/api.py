"""Civic API (mounted at /api/v1/scenes/civic): the month's 绩效考核 KPIs by department or district,
and the big screen's overview. Both read ``core.cases.kpi`` over the platform's case engine (its
store, case types and the city's working-day calendar), as the monthly report does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import BaseModel

from citybrain import sdk

kpi = sdk.case_kpi

router = sdk.router("read")
SCENE = "civic"
OVERDUE_SHOWN = 200  # the overdue list in an answer (the count is of them all)


class KpiRowAnswer(BaseModel):
    key: str  # a department id, or a district code (6 digits)
    opened: int
    dispatched: int
    signed_on_time: int
    sign_rate: float | None
    due: int
    paused: int
    closed: int
    closed_on_time: int
    on_time_rate: float | None
    close_rate: float | None
    replies: int
    reworked: int
    rework_rate: float | None
    called_back: int
    callback_rate: float | None
    callbacks: int
    satisfied: int
    satisfaction_rate: float | None
    handled: int
    handling_hours_mean: float | None
    handling_hours_p90: float | None
    overdue: int


class OverdueAnswer(BaseModel):
    id: str
    type: str
    state: str
    department: str
    area: str
    due_ts: int | None
    step_due_ts: int | None
    overdue_ms: int


class KpiAnswer(BaseModel):
    month: str
    by: Literal["department", "district"]
    start: int
    end: int
    now: int
    rows: list[KpiRowAnswer]
    total: KpiRowAnswer
    overdue_count: int
    overdue: list[OverdueAnswer]  # the longest overdue first, at most 200


class GridAnswer(BaseModel):
    area: str
    open: int
    overdue: int
    lon: float | None
    lat: float | None


class OverviewAnswer(BaseModel):
    now: int
    month: str
    open: int
    overdue: int
    opened_today: int
    closed_today: int
    satisfaction_rate: float | None
    on_time_rate: float | None
    grids: list[GridAnswer]
    departments: list[KpiRowAnswer]


def kpi_answer(t: kpi.KpiTable) -> KpiAnswer:
    """The API's (and the report's) form of a month's KPI table."""
    return KpiAnswer(
        month=t.month, by=t.by, start=t.start, end=t.end, now=t.now,
        rows=[KpiRowAnswer(**r.answer()) for r in t.rows], total=KpiRowAnswer(**t.total.answer()),
        overdue_count=len(t.overdue),
        overdue=[OverdueAnswer(**_fields(o)) for o in t.overdue[:OVERDUE_SHOWN]],
    )  # fmt: skip


def _fields(o: Any) -> dict[str, Any]:
    return {k: getattr(o, k) for k in o.__dataclass_fields__}


def _admit(areas: sdk.Areas) -> Callable[[str], bool] | None:
    """The caller's areas as a filter (None: everywhere, nothing to filter)."""
    return None if areas.codes is None else areas.admit


@router.get("/kpis", summary="绩效考核: a month's case KPIs by department or district")
def kpis(
    rt: Annotated[sdk.Runtime[Any], Depends(sdk.runtime)],
    areas: Annotated[sdk.Areas, Depends(sdk.readable_areas)],
    month: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")] = None,
    by: Literal["department", "district"] = "department",
) -> KpiAnswer:
    engine, now = rt.cases, sdk.now_ms()
    table = kpi.month_kpis(engine.store, engine.types, engine.calendar, month or kpi.month_of(now), by,
                           now=now, scene=SCENE, admit=_admit(areas))  # fmt: skip
    return kpi_answer(table)


@router.get("/overview", summary="The big screen: open, overdue, today's, satisfaction, cases by grid")
def overview(
    rt: Annotated[sdk.Runtime[Any], Depends(sdk.runtime)],
    areas: Annotated[sdk.Areas, Depends(sdk.readable_areas)],
) -> OverviewAnswer:
    engine = rt.cases
    o = kpi.overview(engine.store, engine.types, engine.calendar, now=sdk.now_ms(), scene=SCENE,
                     admit=_admit(areas))  # fmt: skip
    return OverviewAnswer(
        now=o.now, month=o.month, open=o.open, overdue=o.overdue, opened_today=o.opened_today,
        closed_today=o.closed_today, satisfaction_rate=o.satisfaction_rate, on_time_rate=o.on_time_rate,
        grids=[GridAnswer(**_fields(g)) for g in o.grids],
        departments=[KpiRowAnswer(**r.answer()) for r in o.kpis.rows],
    )  # fmt: skip

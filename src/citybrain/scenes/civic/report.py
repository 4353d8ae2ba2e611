"""The civic section of the monthly report: the month's 绩效考核 table by department, from the one
KPI function (``core.cases.kpi.month_kpis``) the API and the big screen read."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.scenes.civic.api import SCENE, kpi_answer
from citybrain.scenes.civic.settings import CivicSettings

kpi = sdk.case_kpi

COLUMNS = ["key", "dispatched", "signed_on_time", "sign_rate", "due", "paused", "closed", "closed_on_time",
           "on_time_rate", "close_rate", "rework_rate", "callback_rate", "satisfaction_rate",
           "handling_hours_mean", "handling_hours_p90", "overdue"]  # fmt: skip
TITLES = {
    "key": "部门 / department", "dispatched": "派单数", "signed_on_time": "按时签收数", "sign_rate": "签收率",
    "due": "应结案数", "paused": "缓办数", "closed": "结案数", "closed_on_time": "按期结案数",
    "on_time_rate": "按期办结率", "close_rate": "结案率", "rework_rate": "返工率", "callback_rate": "回访率",
    "satisfaction_rate": "满意率", "handling_hours_mean": "平均办理时长(工作时)",
    "handling_hours_p90": "办理时长P90(工作时)", "overdue": "超期",
}  # fmt: skip


def report(rt: sdk.Runtime[CivicSettings], start: int, end: int) -> dict[str, Any]:
    """The KPI table of the month ``start`` falls in (Beijing time), as it stands now, on the
    platform's case engine (its store, case types and the city's calendar), as the API reads it."""
    engine = rt.cases
    title = {"zh-CN": "民情与网格 · 绩效考核", "en": "Civic requests: KPIs"}
    try:
        kpi.month_range(kpi.month_of(start))
    except sdk.ValidationError as err:  # a period before 2000: no working-day calendar, no KPIs
        return {"title": title, "month": kpi.month_of(start), "columns": COLUMNS, "column_titles": TITLES,
                "rows": [], "note": str(err)}  # fmt: skip
    table = kpi.month_kpis(
        engine.store,
        engine.types,
        engine.calendar,
        kpi.month_of(start),
        "department",
        now=sdk.now_ms(),
        scene=SCENE,
    )
    answer = kpi_answer(table).model_dump()
    return {
        "title": title,
        "month": table.month,
        "columns": COLUMNS,
        "column_titles": TITLES,
        "rows": answer["rows"],
        "total": answer["total"],
        "figures": {"overdue": answer["overdue_count"], "due": table.total.due,
                    "on_time_rate": table.total.on_time_rate,
                    "satisfaction_rate": table.total.satisfaction_rate},
    }  # fmt: skip

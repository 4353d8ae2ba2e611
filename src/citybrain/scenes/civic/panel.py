"""The big-screen panel: open, overdue, closed today and satisfaction; the departments' KPIs of the
month; the open cases by unit grid on the map. Every figure comes from the scene's API, which reads
the one KPI function (``core.cases.kpi``), so the screen agrees with the monthly report."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/civic"

PANEL = sdk.Panel(
    id="civic",
    title={"zh-CN": "民情与网格", "en": "Civic requests"},
    headline=[
        sdk.Figure(
            label={"zh-CN": "在办诉求", "en": "Open cases"}, api=f"{BASE}/overview", field="open",
        ),
    ],
    widgets=[
        sdk.Figures(
            label={"zh-CN": "今日概况", "en": "Today"},
            api=f"{BASE}/overview",
            fields={
                "open": {"zh-CN": "在办", "en": "open"},
                "overdue": {"zh-CN": "超期", "en": "overdue"},
                "opened_today": {"zh-CN": "今日受理", "en": "opened today"},
                "closed_today": {"zh-CN": "今日办结", "en": "closed today"},
            },
        ),
        sdk.Figure(
            label={"zh-CN": "本月满意率", "en": "Satisfaction this month"},
            api=f"{BASE}/overview", field="satisfaction_rate", format="percent", digits=1,
            status={"good": 0.9, "warn": 0.8}, target=0.9,
        ),
        sdk.Figure(
            label={"zh-CN": "本月按期办结率", "en": "Closed on time this month"},
            api=f"{BASE}/overview", field="on_time_rate", format="percent", digits=1,
            status={"good": 0.9, "warn": 0.7}, target=0.9,
        ),
        sdk.Table(
            label={"zh-CN": "各部门本月考核", "en": "Departments this month"},
            api=f"{BASE}/kpis?by=department", rows="rows",
            columns=[
                {"field": "key", "label": {"zh-CN": "部门", "en": "department"}},
                {"field": "dispatched", "label": {"zh-CN": "派单数", "en": "dispatched"}},
                {"field": "sign_rate", "label": {"zh-CN": "签收率", "en": "signed on time"},
                 "format": "percent"},
                {"field": "due", "label": {"zh-CN": "应结案", "en": "due"}},
                {"field": "on_time_rate", "label": {"zh-CN": "按期办结率", "en": "closed on time"},
                 "format": "percent"},
                {"field": "close_rate", "label": {"zh-CN": "结案率", "en": "closed"}, "format": "percent"},
                {"field": "rework_rate", "label": {"zh-CN": "返工率", "en": "reworked"}, "format": "percent"},
                {"field": "satisfaction_rate", "label": {"zh-CN": "满意率", "en": "satisfied"},
                 "format": "percent"},
                {"field": "handling_hours_mean", "label": {"zh-CN": "平均办理时长（工作时）",
                                                            "en": "mean handling, working h"}},
                {"field": "overdue", "label": {"zh-CN": "超期", "en": "overdue"}},
            ],
        ),
        sdk.Map(
            label={"zh-CN": "在办诉求分布（按网格）", "en": "Open cases by unit grid"},
            api=f"{BASE}/overview", items="grids", lon="lon", lat="lat", id="area", color_by="overdue",
        ),
    ],
)  # fmt: skip

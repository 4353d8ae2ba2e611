"""The big-screen panel: households screened, at risk by level, new risks today, the cases of the
15-day chain by stage and overdue, the newest households at risk (names masked by role)."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/welfare"

PANEL = sdk.Panel(
    id="welfare",
    title={"zh-CN": "帮扶不落一人", "en": "Welfare"},
    headline=[
        sdk.Figure(
            label={"zh-CN": "返贫致贫风险户", "en": "Households at risk"},
            api=f"{BASE}/overview",
            field="at_risk",
        ),
    ],
    widgets=[
        sdk.Figures(
            label={"zh-CN": "监测概况", "en": "Monitoring"},
            api=f"{BASE}/overview",
            fields={
                "households": {"zh-CN": "监测户数", "en": "households screened"},
                "high": {"zh-CN": "高风险", "en": "high risk"},
                "medium": {"zh-CN": "中风险", "en": "medium risk"},
                "new_today": {"zh-CN": "今日新增", "en": "new today"},
                "open_cases": {"zh-CN": "认定中", "en": "being verified"},
                "overdue": {"zh-CN": "超期", "en": "overdue"},
            },
        ),
        sdk.Bar(
            label={"zh-CN": "认定流程各环节", "en": "Cases by stage"},
            api=f"{BASE}/overview",
            items="stages",
            x="title",
            y="count",
        ),
        sdk.Table(
            label={"zh-CN": "最新风险户", "en": "Newest households at risk"},
            api=f"{BASE}/risks",
            rows="items",
            limit=20,
            columns=[
                {"field": "village_name", "label": {"zh-CN": "村（社区）", "en": "village"}},
                {"field": "name", "label": {"zh-CN": "户主", "en": "head"}},
                {"field": "level", "label": {"zh-CN": "风险等级", "en": "level"}},
                {"field": "types", "label": {"zh-CN": "风险类型", "en": "risk types"}},
                {"field": "group", "label": {"zh-CN": "监测类别", "en": "group"}},
            ],
        ),
        sdk.Alerts(label={"zh-CN": "风险预警", "en": "Risk alerts"}, scene="welfare"),
    ],
)

"""The big-screen panel: the city's mean 平安指数, the districts as a schematic tile map coloured
by band (no district boundaries are shipped: a grid cartogram, see docs/scenes/safety-index.md),
the dimension radar (the first-ranked district against the mean per dimension), the trend of the
mean and of each district over 13 months, and the ranking with bands and changes."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/safety"
BANDS = [
    {"value": "优秀", "color": "#34d399", "label": {"zh-CN": "优秀", "en": "Excellent"}},
    {"value": "良好", "color": "#35c7ff", "label": {"zh-CN": "良好", "en": "Good"}},
    {"value": "提醒", "color": "#ff8a3d", "label": {"zh-CN": "提醒", "en": "Caution"}},
    {"value": "预警", "color": "#ff4d5e", "label": {"zh-CN": "预警", "en": "Warning"}},
]

POINTS = {"zh-CN": "分", "en": "pts"}
LIVE = "state.safety"  # a month computed: the widgets read their answers again

PANEL = sdk.Panel(
    id="safety",
    title={"zh-CN": "平安指数", "en": "Public Safety Index"},
    headline=[
        sdk.Figure(
            label={"zh-CN": "平安指数（全市均值）", "en": "Safety index (mean)"},
            api=f"{BASE}/index",
            live=LIVE,
            field="mean",
            digits=1,
        ),
    ],
    widgets=[
        sdk.Tiles(
            label={"zh-CN": "区县平安等级（示意图）", "en": "Districts by band (schematic)"},
            api=f"{BASE}/index",
            live=LIVE,
            items="districts",
            value="score",
            color_by="band",
            categories=BANDS,
            digits=1,
            unit=POINTS,
        ),
        sdk.Radar(
            label={"zh-CN": "六维度：第一名与全市均值", "en": "Six dimensions: first vs mean"},
            api=f"{BASE}/index",
            live=LIVE,
            axes="dimensions",
            axis_label={"zh-CN": "name", "en": "name_en"},
            reference="mean",
            reference_label={"zh-CN": "全市均值", "en": "City mean"},
            items="districts",
            values="dimensions",
            min=60,
            max=100,
            digits=1,
        ),
        sdk.Line(
            label={"zh-CN": "近13个月趋势", "en": "Trend, last 13 months"},
            api=f"{BASE}/history",
            live=LIVE,
            x="months",
            series=[{"field": "mean", "label": {"zh-CN": "全市均值", "en": "City mean"}}],
            items="districts",
            points="points",
            y="score",
            at="month",
            digits=1,
            unit=POINTS,
        ),
        sdk.Table(
            label={"zh-CN": "区县排名与等级", "en": "Districts by rank"},
            api=f"{BASE}/index",
            live=LIVE,
            rows="districts",
            limit=20,
            columns=[
                {"field": "rank", "label": {"zh-CN": "排名", "en": "rank"}},
                {"field": "name", "label": {"zh-CN": "区县", "en": "district"}},
                {"field": "score", "label": {"zh-CN": "指数", "en": "index"}, "digits": 1},
                {"field": "band", "label": {"zh-CN": "等级", "en": "band"}, "categories": BANDS},
                {"field": "mom", "label": {"zh-CN": "环比", "en": "MoM"}, "digits": 1},
                {"field": "yoy", "label": {"zh-CN": "同比", "en": "YoY"}, "digits": 1},
            ],
        ),
    ],
)

"""The dashboard panel descriptor: city figures, hotspots, the congestion map (segments coloured
by level, probe vehicles), index trends and alerts."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/traffic"

LEVEL_COLORS = [
    {"value": "smooth", "color": "#2fbf71", "label": {"zh-CN": "畅通", "en": "smooth"}},
    {"value": "slow", "color": "#f2c94c", "label": {"zh-CN": "缓行", "en": "slow"}},
    {"value": "congested", "color": "#f2994a", "label": {"zh-CN": "拥堵", "en": "congested"}},
    {"value": "severe", "color": "#d7263d", "label": {"zh-CN": "严重拥堵", "en": "severe"}},
    {"value": "no_data", "color": "#4f6177", "label": {"zh-CN": "无数据", "en": "no data"}},
]

MAP_LAYERS = [
    {
        "id": "traffic.segments",
        "title": {"zh-CN": "路段拥堵", "en": "Road congestion"},
        "geometry": "line",
        "source": f"{BASE}/segments",
        "live": "state.traffic.segment",
        "key": "key",
        "color": {"by": "level", "categories": LEVEL_COLORS, "default": "#4f6177"},
        "size": 3,
        "drill": {
            "title": "name",
            "detail": f"{BASE}/segments/{{key}}",
            "fields": [
                {"field": "name", "label": {"zh-CN": "道路", "en": "road"}},
                {
                    "field": "level",
                    "label": {"zh-CN": "拥堵等级", "en": "level"},
                    "categories": LEVEL_COLORS,
                },
                {"field": "index", "label": {"zh-CN": "拥堵延时指数", "en": "delay index"}, "digits": 2},
                {"field": "speed_kmh", "label": {"zh-CN": "车速", "en": "speed"}, "unit": "km/h"},
                {
                    "field": "freeflow_kmh",
                    "label": {"zh-CN": "自由流车速", "en": "free flow"},
                    "unit": "km/h",
                },
                {"field": "samples", "label": {"zh-CN": "样本数", "en": "samples"}},
            ],
            "metrics": [
                {
                    "metric": "traffic.segment.index",
                    "label": {"zh-CN": "路段拥堵延时指数", "en": "Segment delay index"},
                    "key": "{key}",
                    "agg": "avg",
                }
            ],
        },
    },
    {
        "id": "traffic.vehicles",
        "title": {"zh-CN": "浮动车", "en": "Probe vehicles"},
        "geometry": "vehicle",
        "source": f"{BASE}/vehicles",
        "live": "state.traffic.vehicle",
        "key": "key",
        "lon": "lon",
        "lat": "lat",
        "heading": "heading",
        "color": {
            "by": "vehicle_type",
            "categories": [
                {"value": "bus", "color": "#35c7ff", "label": {"zh-CN": "公交", "en": "bus"}},
                {"value": "taxi", "color": "#ffd166", "label": {"zh-CN": "出租车", "en": "taxi"}},
                {
                    "value": "ride-hail",
                    "color": "#c77dff",
                    "label": {"zh-CN": "网约车", "en": "ride-hail"},
                },
                {
                    "value": "navigation",
                    "color": "#9fe3c1",
                    "label": {"zh-CN": "导航", "en": "navigation"},
                },
            ],
            "default": "#cfd8e3",
        },
        "size": 3,
        "visible": False,
    },
]


PANEL = sdk.Panel(
    # the headline scene: first in the header and at the top of the left column
    order=0,
    column="left",
    headline=[
        sdk.Figure(
            label={"zh-CN": "城市拥堵指数", "en": "City congestion index"},
            api=f"{BASE}/summary", field="city_index", digits=2,
            status={"field": "city_level", "categories": LEVEL_COLORS}, live="state.traffic.area",
        ),
    ],
    map_layers=MAP_LAYERS,
    widgets=[
        sdk.Figures(
            label={"zh-CN": "全城交通", "en": "City traffic"},
            api=f"{BASE}/summary",
            fields={
                "city_index": {"zh-CN": "拥堵延时指数", "en": "delay index"},
                "city_speed_kmh": {"zh-CN": "平均车速 km/h", "en": "mean speed km/h"},
                "hotspots_congested": {"zh-CN": "拥堵热点", "en": "congested hotspots"},
                "open_alerts": {"zh-CN": "预警", "en": "open alerts"},
            },
            digits={"city_index": 2}, live="state.traffic.area",
        ),
        sdk.Share(
            label={"zh-CN": "路段拥堵等级", "en": "Segments by level"},
            api=f"{BASE}/summary", field="segments_by_level", categories=LEVEL_COLORS,
            live="state.traffic.area",
        ),
        sdk.Table(
            label={"zh-CN": "拥堵热点", "en": "Hotspots"},
            api=f"{BASE}/hotspots",
            columns=[
                {"field": "name", "label": {"zh-CN": "热点", "en": "hotspot"}},
                {"field": "index", "label": {"zh-CN": "指数", "en": "index"}, "digits": 2},
                {"field": "level", "label": {"zh-CN": "等级", "en": "level"}, "categories": LEVEL_COLORS},
                {"field": "trend", "label": {"zh-CN": "趋势", "en": "trend"}},
                {"field": "speed_kmh", "label": {"zh-CN": "车速", "en": "km/h"}, "digits": 0},
            ],
            limit=8, click=f"{BASE}/hotspots/{{id}}", live="state.traffic.area",
        ),
        sdk.Bar(
            label={"zh-CN": "当前最拥堵道路（延时指数）", "en": "Most congested roads now (delay index)"},
            api=f"{BASE}/areas?kind=road", x="name", y="index", sort="-index", limit=6,
            live="state.traffic.area",
        ),
        sdk.TimeSeries(
            label={"zh-CN": "全城拥堵延时指数", "en": "City delay index"},
            metric="traffic.city.index", key="city", live="metric.traffic.city.index",
        ),
        sdk.Bar(
            label={
                "zh-CN": "今日最拥堵道路（06-22 时平均指数）",
                "en": "Most congested roads today (mean index 06-22)",
            },
            api=f"{BASE}/top-roads?limit=6", items="roads", x="name", y="mean_index",
        ),
        sdk.Table(
            label={"zh-CN": "交通预警", "en": "Traffic alerts"},
            api="/api/v1/alerts?scene=traffic&status=open",
            columns=["severity", "title", "key", "message", "last_ts"], live="alert.traffic",
        ),
    ],
)  # fmt: skip

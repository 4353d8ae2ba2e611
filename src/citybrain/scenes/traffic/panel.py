"""The dashboard panel descriptor: city figures, hotspots, the congestion map (segments coloured
by level, probe vehicles), index trends and alerts."""

from __future__ import annotations

from typing import Any

BASE = "/api/v1/scenes/traffic"

LEVEL_COLORS = [
    {"value": "smooth", "color": "#2fbf71", "label": {"zh-CN": "畅通", "en": "smooth"}},
    {"value": "slow", "color": "#f2c94c", "label": {"zh-CN": "缓行", "en": "slow"}},
    {"value": "congested", "color": "#f2994a", "label": {"zh-CN": "拥堵", "en": "congested"}},
    {"value": "severe", "color": "#d7263d", "label": {"zh-CN": "严重拥堵", "en": "severe"}},
    {"value": "no_data", "color": "#4f6177", "label": {"zh-CN": "无数据", "en": "no data"}},
]

PANEL: dict[str, Any] = {
    "id": "traffic",
    "title": {"zh-CN": "交通态势", "en": "Traffic"},
    "map_layers": [
        {
            "id": "traffic.segments",
            "title": {"zh-CN": "路段拥堵", "en": "Road congestion"},
            "geometry": "line",
            "source": f"{BASE}/segments",
            "live": "state.traffic.segment",
            "key": "key",
            "color": {"by": "level", "categories": LEVEL_COLORS, "default": "#4f6177"},
            "size": 3,
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
    ],
    "widgets": [
        {
            "kind": "figures",
            "label": {"zh-CN": "全城交通", "en": "City traffic"},
            "api": f"{BASE}/summary",
            "fields": {
                "city_index": {"zh-CN": "拥堵延时指数", "en": "delay index"},
                "city_speed_kmh": {"zh-CN": "平均车速 km/h", "en": "mean speed km/h"},
                "hotspots_congested": {"zh-CN": "拥堵热点", "en": "congested hotspots"},
                "open_alerts": {"zh-CN": "预警", "en": "open alerts"},
            },
            "live": "state.traffic.area",
        },
        {
            "kind": "table",
            "label": {"zh-CN": "拥堵热点", "en": "Hotspots"},
            "api": f"{BASE}/hotspots",
            "columns": ["name", "index", "level", "trend", "speed_kmh"],
            "click": f"{BASE}/hotspots/{{id}}",
            "live": "state.traffic.area",
        },
        {
            "kind": "timeseries",
            "label": {"zh-CN": "全城拥堵延时指数", "en": "City delay index"},
            "metric": "traffic.city.index",
            "key": "city",
            "live": "metric.traffic.city.index",
        },
        {
            "kind": "bar",
            "label": {"zh-CN": "今日最拥堵道路", "en": "Most congested roads today"},
            "api": f"{BASE}/top-roads",
            "items": "roads",
            "x": "name",
            "y": "mean_index",
        },
        {
            "kind": "table",
            "label": {"zh-CN": "交通预警", "en": "Traffic alerts"},
            "api": "/api/v1/alerts?scene=traffic&status=open",
            "columns": ["severity", "title", "key", "message", "last_ts"],
            "live": "alert.traffic",
        },
    ],
}

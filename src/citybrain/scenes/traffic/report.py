"""The traffic section of the periodic report: city and hotspot delay index over the period and
in the peaks, and the alerts raised."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.scenes.traffic.roadnet import CITY
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.sdk import AlertQuery


def report(rt: sdk.Runtime[TrafficSettings], start: int, end: int) -> dict[str, Any]:
    store = rt.store
    span = max(end - start, 60_000)
    rows = []
    for key in [CITY, *store.metric_keys("traffic.hotspot.index")]:
        name = "traffic.city.index" if key == CITY else "traffic.hotspot.index"
        mean = store.metric_series(name, key, start, end, span, "avg")
        worst = store.metric_series(name, key, start, end, span, "max")
        minutes = store.metric_series(name, key, start, end, span, "count")
        rows.append(
            {
                "area": key,
                "mean_index": round(mean[0][1], 3) if mean else None,
                "max_index": round(worst[0][1], 3) if worst else None,
                "minutes": int(minutes[0][1]) if minutes else 0,
            }
        )
    alerts = [
        a for a in store.alerts(AlertQuery(scene="traffic", limit=10_000)) if start <= a.opened_ts < end
    ]
    by_rule: dict[str, int] = {}
    for a in alerts:
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
    city = rows[0]
    return {
        "title": {"zh-CN": "交通态势", "en": "Traffic"},
        "columns": ["area", "mean_index", "max_index", "minutes"],
        "titles": {
            "area": "区域 / area",
            "mean_index": "平均拥堵指数 / mean delay index",
            "max_index": "最高拥堵指数 / highest delay index",
            "minutes": "分钟数 / minutes",
            "city_mean_index": "全市平均拥堵指数 / city mean delay index",
            "alerts": "告警 / alerts",
        },
        "rows": rows,
        "figures": {"city_mean_index": city["mean_index"], "alerts": len(alerts), **by_rule},
    }

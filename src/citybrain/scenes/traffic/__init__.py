"""Traffic: a JT/T 808 gateway and an HTTP probe feed, online map matching, per-segment speeds and
the congestion delay index per segment, hotspot, district, road and city, hotspot alerts, and a
simulated fleet of buses, taxis and ride-hailing cars on the demo network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from citybrain.core.scenes import Scene
from citybrain.core.store.base import Store
from citybrain.scenes.traffic import api, gateway, panel, sim
from citybrain.scenes.traffic import report as report_section
from citybrain.scenes.traffic.events import EVENTS
from citybrain.scenes.traffic.processors import ALERT_RULES, processors


def _report(store: Store, start: int, end: int) -> Mapping[str, Any]:
    return report_section.report(store, start, end)


scene = Scene(
    name="traffic",
    title={"zh-CN": "交通态势", "en": "Traffic"},
    description={
        "zh-CN": "JT/T 808 浮动车接入与探针数据、地图匹配、路段车速与拥堵延时指数、拥堵热点与预警",
        "en": "JT/T 808 and probe feeds, map matching, segment speeds, delay index, hotspots, alerts",
    },
    events=EVENTS,
    processors=processors,
    alert_rules=ALERT_RULES,
    routes=api.routes,
    panel=panel.PANEL,
    report=_report,
    simulators={"traffic": sim.simulator},
    servers=gateway.servers,
)

"""New-energy vehicle monitoring centre: a GB/T 32960 gateway (2016 and 2025 editions), fleet
state per VIN, vehicle alarms and platform-side early warnings, history, and a simulated fleet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from citybrain.core.scenes import Scene
from citybrain.core.store.base import Store
from citybrain.scenes.nev import api, gateway, panel, sim
from citybrain.scenes.nev import report as report_section
from citybrain.scenes.nev.events import EVENTS
from citybrain.scenes.nev.processors import ALERT_RULES, processors


def _report(store: Store, start: int, end: int) -> Mapping[str, Any]:
    return report_section.report(store, start, end)


scene = Scene(
    name="nev",
    title={"zh-CN": "新能源汽车监控", "en": "New-energy vehicle monitoring"},
    description={
        "zh-CN": "GB/T 32960 车辆接入、车队实时状态、车辆报警与平台预警、历史轨迹",
        "en": "GB/T 32960 vehicle gateway, live fleet state, vehicle alarms and early warnings, history",
    },
    events=EVENTS,
    processors=processors,
    alert_rules=ALERT_RULES,
    routes=api.routes,
    panel=panel.PANEL,
    report=_report,
    simulators={"nev": sim.simulator},
    servers=gateway.servers,
)

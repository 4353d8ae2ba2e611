"""Smart factories: MQTT and Sparkplug B telemetry, the plant model, OEE per ISO 22400-2, output
and quality, traceability, look-back replay, alerts and the district view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from citybrain.core.scenes import Scene
from citybrain.core.store.base import Store
from citybrain.scenes.factory import api, ingest, panel, sim
from citybrain.scenes.factory import report as report_section
from citybrain.scenes.factory.alerts import RULES
from citybrain.scenes.factory.events import EVENTS
from citybrain.scenes.factory.plant import book_for
from citybrain.scenes.factory.processors import processors


def _report(store: Store, start: int, end: int) -> Mapping[str, Any]:
    # the report hook gets no settings: the demo plant model unless the API loaded another one
    return report_section.report(store, book_for({}), start, end)


scene = Scene(
    name="factory",
    title={"zh-CN": "智能工厂", "en": "Smart factories"},
    description={
        "zh-CN": "MQTT/Sparkplug B 设备接入、工厂模型、OEE、产量质量、追溯、回放与区域工厂概览",
        "en": "MQTT/Sparkplug B ingest, plant model, OEE, output and quality, traceability, replay, "
        "district view",
    },
    events=EVENTS,
    processors=processors,
    alert_rules=RULES,
    routes=api.routes,
    panel=panel.PANEL,
    report=_report,
    simulators={"factory": sim.simulator},
    servers=ingest.servers,
)

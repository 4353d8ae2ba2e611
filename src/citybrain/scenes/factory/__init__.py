"""Smart factories: MQTT and Sparkplug B telemetry, the plant model, OEE per ISO 22400-2, output
and quality, traceability, look-back replay, alerts and the district view."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.factory import api, gateway, panel, report, rules, sim, world
from citybrain.scenes.factory.events import EVENTS
from citybrain.scenes.factory.processors import METRICS, FactoryMachines
from citybrain.scenes.factory.settings import FactorySettings

scene = sdk.Scene(
    "factory",
    title={"zh-CN": "智能工厂", "en": "Smart factories"},
    description={
        "zh-CN": "MQTT/Sparkplug B 设备接入、工厂模型、OEE、产量质量、追溯、回放与区域工厂概览",
        "en": "MQTT/Sparkplug B ingest, plant model, OEE, output and quality, traceability, replay, "
        "district view",
    },
    settings=FactorySettings,
    events=EVENTS,
    rules=rules.RULES,
    metrics=METRICS,
    processors=[FactoryMachines],
    world=world.world,
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    servers=gateway.servers,
    simulators={"factory": sim.simulator},
    listen={"ingest.mqtt.embedded_port": "free"},
)

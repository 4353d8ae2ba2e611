"""New-energy vehicle monitoring centre: a GB/T 32960 gateway (2016 and 2025 editions), fleet
state per VIN, vehicle alarms and platform-side early warnings, history, and a simulated fleet."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.nev import api, gateway, panel, report, rules, sim
from citybrain.scenes.nev.events import EVENTS
from citybrain.scenes.nev.history import SIGNALS
from citybrain.scenes.nev.processors import PROCESSORS
from citybrain.scenes.nev.settings import NevSettings

scene = sdk.Scene(
    "nev",
    title={"zh-CN": "新能源汽车监控", "en": "New-energy vehicle monitoring"},
    description={
        "zh-CN": "GB/T 32960 车辆接入、车队实时状态、车辆报警与平台预警、历史轨迹",
        "en": "GB/T 32960 vehicle gateway, live fleet state, vehicle alarms and early warnings, history",
    },
    settings=NevSettings,
    events=EVENTS,
    rules=rules.ALL,
    metrics={s.metric: f"history: {s.label['en']} per report ({s.unit}), key = VIN" for s in SIGNALS},
    processors=PROCESSORS,
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    servers=gateway.servers,
    simulators={"nev": sim.simulator},
    listen={"gateway.port": "any"},
    decoders={"gb32960": "citybrain.protocols.gb32960:decode_hex"},
)

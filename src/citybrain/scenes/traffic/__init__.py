"""Traffic: a JT/T 808 gateway and an HTTP probe feed, online map matching, per-segment speeds and
the congestion delay index per segment, hotspot, district, road and city, hotspot alerts, and a
simulated fleet of buses, taxis and ride-hailing cars on the demo network."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.traffic import api, cli, gateway, panel, processors, report, roadnet, rules, sim
from citybrain.scenes.traffic.events import EVENTS
from citybrain.scenes.traffic.settings import TrafficSettings

scene = sdk.Scene(
    "traffic",
    title={"zh-CN": "交通态势", "en": "Traffic"},
    description={
        "zh-CN": "JT/T 808 浮动车接入与探针数据、地图匹配、路段车速与拥堵延时指数、拥堵热点与预警",
        "en": "JT/T 808 and probe feeds, map matching, segment speeds, delay index, hotspots, alerts",
    },
    settings=TrafficSettings,
    events=EVENTS,
    rules=rules.RULES,
    metrics=processors.METRICS,
    processors=processors.PROCESSORS,
    world=roadnet.world,
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    servers=gateway.servers,
    simulators={"traffic": sim.simulator},
    listen={"gateway.port": "any"},
    commands=cli.commands,
    decoders={"jt808": "citybrain.protocols.jt808:decode_hex"},
)

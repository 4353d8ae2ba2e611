"""Safety (平安指数): the six-dimension public-safety index of the city's districts, computed every
month from the store (departments' statistics, cases, metrics, alerts), kept month by month,
shown on the big screen and in the console, and the first section of the monthly 平安报告."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.safety import api, gateway, index, panel, processors, report, sim
from citybrain.scenes.safety.events import Computed
from citybrain.scenes.safety.settings import SafetySettings

scene = sdk.Scene(
    "safety",
    title={"zh-CN": "平安指数", "en": "Public Safety Index"},
    description={
        "zh-CN": "政治安全、经济安全、公共安全、社会治安、社会矛盾、网络安全六维度平安指数, 按区县按月计算",
        "en": "A six-dimension public-safety index of the districts, computed month by month",
    },
    settings=SafetySettings,
    events=[Computed],
    processors=[processors.Months],
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    world=index.world,
    datasets=index.datasets,
    servers=gateway.servers,
    simulators={"safety": sim.simulator},
)

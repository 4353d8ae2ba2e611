"""City pulse: per-district report rates and a surge alert. The smallest complete scene on the SDK,
and the model every other scene follows (settings, events, processors, api, panel, report, sim)."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.pulse import api, panel, processors, report, rules, sim
from citybrain.scenes.pulse.events import PulseReport
from citybrain.scenes.pulse.settings import PulseSettings

scene = sdk.Scene(
    "pulse",
    title={"zh-CN": "城市脉搏", "en": "City pulse"},
    description={
        "zh-CN": "各区事件上报速率(每分钟)与激增预警",
        "en": "Reports per minute in each district, with a surge alert",
    },
    settings=PulseSettings,
    events=[PulseReport],
    rules=[rules.SURGE],
    metrics={processors.METRIC: "reports per district and minute (event time)"},
    aggregations=[processors.rates],
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    simulators={"pulse": sim.simulator},
)

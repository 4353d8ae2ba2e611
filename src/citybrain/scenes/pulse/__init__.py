"""City pulse: per-district report rates and a surge alert. The smallest complete scene, and the
model every other scene follows (events, processors, api, panel, report, sim)."""

from __future__ import annotations

from citybrain.core.scenes import Scene
from citybrain.scenes.pulse import api, panel, report, sim
from citybrain.scenes.pulse.events import PulseReport
from citybrain.scenes.pulse.processors import SURGE, processors

scene = Scene(
    name="pulse",
    title={"zh-CN": "城市脉搏", "en": "City pulse"},
    description={
        "zh-CN": "各区事件上报速率(每分钟)与激增预警",
        "en": "Reports per minute in each district, with a surge alert",
    },
    events=[PulseReport],
    processors=processors,
    alert_rules=[SURGE],
    routes=api.routes,
    panel=panel.PANEL,
    report=report.report,
    simulators={"pulse": sim.simulator},
)

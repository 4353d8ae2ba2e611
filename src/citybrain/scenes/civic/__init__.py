"""Civic requests (民情 / 政企直通车 / 网格): 12345 appeals, enterprise appeals and grid inspectors'
reports as cases on the platform's case engine, with deadlines on the working-day calendar; camera
detections dispatched as grid cases; deadline warnings and escalation as alerts."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.civic import api, panel, processors, report, rules, sim
from citybrain.scenes.civic.casetypes import case_types
from citybrain.scenes.civic.events import CameraDetection
from citybrain.scenes.civic.settings import CivicSettings

scene = sdk.Scene(
    "civic",
    title={"zh-CN": "民情与网格", "en": "Civic requests"},
    description={
        "zh-CN": "12345热线诉求、企业诉求与网格上报的受理、派单、办理、回访与考核",
        "en": "12345 appeals, enterprise appeals and grid reports: dispatch, handling, callback, KPIs",
    },
    settings=CivicSettings,
    events=[CameraDetection],
    rules=[rules.CAMERA, rules.DUE_SOON, rules.OVERDUE],
    processors=[processors.CameraAlerts, processors.CaseDeadlines],
    case_types=case_types,
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    simulators={"civic": sim.simulator},
)

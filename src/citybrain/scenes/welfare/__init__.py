"""Welfare (帮扶不落一人 · 优惠政策直达): the departments' data compared instead of paper, households
at risk of falling (back) into poverty found as their data changes and followed through the
15-day identification chain as cases, policies granted without application, personal data
encrypted at rest, masked by role and every read of it audited."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.welfare import api, panel, processors, report, rules, screening, sim
from citybrain.scenes.welfare.casetypes import case_types
from citybrain.scenes.welfare.events import Assessed, ScreeningDone
from citybrain.scenes.welfare.settings import WelfareSettings

scene = sdk.Scene(
    "welfare",
    title={"zh-CN": "帮扶不落一人", "en": "Welfare"},
    description={
        "zh-CN": "部门数据比对代替人工审核, 防止返贫动态监测与15天认定流程, 惠民政策免申即享",
        "en": "Eligibility by comparing departments' data, poverty-relapse early warning with the "
        "15-day identification chain, policies granted without application",
    },
    settings=WelfareSettings,
    events=[Assessed, ScreeningDone],
    rules=[rules.RISK],
    processors=[processors.Risks],
    case_types=case_types,
    router=api.router,
    panel=panel.PANEL,
    report=report.report,
    world=screening.world,
    datasets=screening.datasets,
    on_facts=screening.on_facts,
    simulators={"welfare": sim.simulator},
)

"""Pay later (先离场后付费 / 先诊疗后付费): cars leave a car park first and pay after, charged exactly
once on a double-entry ledger; plate reads that cannot be trusted, entries without exits and
double payments go to an operator or are refunded, never billed by themselves."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.paylater import api, caseflow, gateway, panel, processors, report, rules, sim
from citybrain.scenes.paylater.casetypes import case_types
from citybrain.scenes.paylater.events import (
    Binding,
    GateConfirm,
    GateRead,
    OrderAnswer,
    PaymentNotice,
    Reconciled,
    Review,
)
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import build_world

scene = sdk.Scene(
    "paylater",
    title={"zh-CN": "先离场后付费", "en": "Pay later"},
    description={
        "zh-CN": "停车先离场后付费、就医先诊疗后付费: 一次且仅一次扣费, 复式记账",
        "en": "Leave-first-pay-later parking and treat-first-pay-later clinics, charged exactly once",
    },
    settings=PaylaterSettings,
    events=[GateRead, GateConfirm, Binding, OrderAnswer, PaymentNotice, Review, Reconciled],
    rules=[rules.HELD, rules.REVIEW, rules.DUPLICATE, rules.REFUND_FAILED, rules.RECONCILIATION],
    processors=[processors.Sessions, caseflow.Cases],
    metrics={
        "exits": "exit reads at the gates per minute (key: <lot>#p<partition>, all#p<partition>)",
        "exits_open": "exits the barrier opened for at once (left without stopping), as exits",
    },
    case_types=case_types,
    router=api.router,
    servers=gateway.servers,
    panel=panel.PANEL,
    report=report.report,
    simulators={"paylater": sim.simulator},
    world=build_world,
)

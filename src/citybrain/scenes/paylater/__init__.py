"""Pay later (先离场后付费 / 先诊疗后付费): cars leave a car park first and pay after, patients are
treated first and repay within the settlement window, each charged exactly once on a
double-entry ledger; plate reads that cannot be trusted, entries without exits and double
payments go to an operator or are refunded, never billed by themselves."""

from __future__ import annotations

from fastapi import APIRouter

from citybrain import sdk
from citybrain.scenes.paylater import (
    api,
    caseflow,
    clinic,
    clinic_api,
    gateway,
    panel,
    processors,
    report,
    rules,
    sim,
    watch,
)
from citybrain.scenes.paylater.casetypes import case_types
from citybrain.scenes.paylater.events import (
    Backlog,
    Binding,
    GateConfirm,
    GateRead,
    LotActivity,
    OrderAnswer,
    PaymentNotice,
    Reconciled,
    Review,
)
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import build_world

# the parking routes, and the clinic's under /clinic (clinic_api uses api's channels: mounted here)
router = APIRouter()
router.include_router(api.router)
router.include_router(clinic_api.router, prefix="/clinic")

scene = sdk.Scene(
    "paylater",
    title={"zh-CN": "先离场后付费", "en": "Pay later"},
    description={
        "zh-CN": "停车先离场后付费、就医先诊疗后付费: 一次且仅一次扣费, 复式记账",
        "en": "Leave-first-pay-later parking and treat-first-pay-later clinics, charged exactly once",
    },
    settings=PaylaterSettings,
    events=[
        GateRead,
        GateConfirm,
        Binding,
        OrderAnswer,
        PaymentNotice,
        Review,
        Reconciled,
        LotActivity,
        Backlog,
        clinic.CreditRating,
        clinic.ClinicBill,
        clinic.InsurerSettled,
    ],
    rules=[
        rules.HELD,
        rules.REVIEW,
        rules.DUPLICATE,
        rules.REFUND_FAILED,
        rules.RECONCILIATION,
        rules.GATE_SILENT,
        rules.BACKLOG,
        *clinic.RULES,
    ],
    processors=[processors.Sessions, caseflow.Cases, watch.Watch, clinic.Clinic],
    metrics={
        "exits": "exit reads at the gates per minute (key: <lot>#p<partition>, all#p<partition>)",
        "exits_open": "exits the barrier opened for at once (left without stopping), as exits",
        "reads": "plate reads at a lot's gates per minute, entries and exits, as exits",
    },
    case_types=case_types,
    router=router,
    servers=gateway.servers,
    panel=panel.PANEL,
    report=report.report,
    simulators={"paylater": sim.simulator},
    world=build_world,
)

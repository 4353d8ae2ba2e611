"""Clinic credit API (to be mounted at /api/v1/scenes/paylater/clinic): a hospital's HIS posts its
bills and is told whether the self-pay part is on credit and when it is due; the credit platform
posts ratings; the hospital's desk reads a patient; the cashier takes a repayment by any channel.

The HIS is answered only once the bill is durable. The answer is computed from the patient's
state as the processor last published it (one point read), as the gate's is; the processor
(clinic.py) decides again when it books the bill and is authoritative: two bills of one patient
posted at the same instant may both be told "on credit" while the second, booked after the
first, goes to the counter; ``GET /patients/{patient}`` shows what was booked.

A bill is named by its hospital and its HIS id (a HIS numbers bills only within its hospital):
the HIS posts both, and the cashier's route names both, ``/hospitals/{hospital}/bills/{bill}/pay``.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any, Literal

import msgspec
from fastapi import Depends, Query
from pydantic import BaseModel, Field

from citybrain import sdk
from citybrain.scenes.paylater.api import PayAnswer, PayIn, channel_of, read_state
from citybrain.scenes.paylater.channels import ChannelError
from citybrain.scenes.paylater.clinic import (
    BILL_ID,
    DAY_MS,
    HOSPITAL_ID,
    BillView,
    ClinicBill,
    CreditRating,
    PatientView,
    beijing,
    bill_event_id,
    bill_key,
    bill_ref,
    clinic_order,
    clinic_settings,
    credit_decision,
    line_for,
    repayment_subject,
)
from citybrain.scenes.paylater.events import OrderAnswer
from citybrain.scenes.paylater.notices import NOTIFY
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import PaylaterWorld

router = sdk.router(None)
Rt_ = sdk.Runtime[PaylaterSettings, PaylaterWorld]
Rt = Annotated[Rt_, Depends(sdk.runtime)]
INGEST = [Depends(sdk.require("ingest"))]
READ = [Depends(sdk.require("read"))]
FUTURE_MS = 300_000  # a visit dated further ahead of the platform clock is a unit or clock mistake
PatientId = Annotated[
    str, Field(min_length=1, max_length=64, description="the id the HIS and the credit platform share")
]
BillId = Annotated[
    str,
    Field(
        min_length=1, max_length=64, pattern=BILL_ID, description="the HIS bill id, unique in its hospital"
    ),
]
HospitalId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=HOSPITAL_ID, description="the hospital's id (no '/')")
]

EVIDENCE = ("paylater.credit_rating", "paylater.clinic_bill", "paylater.insurer_settled", "paylater.notice")
DISPLAY = {
    "on_credit": "先诊疗后付费, 请于到期前还款 · on credit, repay by the due date",
    "no_self_pay": "医保已全额支付 · covered by the insurer",
    "no_line": "未获信用额度, 请窗口缴费 · no credit line, please pay at the counter",
    "over_line": "超出可用额度, 请窗口缴费 · over the available line, please pay at the counter",
    "suspended": "有逾期未还, 请窗口缴费 · overdue bills unpaid, please pay at the counter",
}


def patient_state(store: sdk.ReadModel, patient: str) -> PatientView | None:
    return read_state(store, "paylater.patient", patient, PatientView)


def bill_state(store: sdk.ReadModel, hospital: str, bill: str) -> BillView | None:
    """``bill`` of ``hospital`` as the processor last published it (None: not booked)."""
    found = read_state(store, "paylater.clinic_bill", bill_ref(hospital, bill), BillView)
    return found if found is not None and (found.hospital, found.bill) == (hospital, bill) else None


def _problem(field: str, reason: str) -> sdk.ValidationError:
    return sdk.ValidationError([sdk.Problem(0, field, reason)])


# -- bills -----------------------------------------------------------------------------------------
class BillIn(BaseModel):
    patient: PatientId
    hospital: HospitalId
    bill: BillId
    visit_ts: int = Field(ge=sdk.MIN_TS, le=sdk.MAX_TS, description="when the patient was seen, epoch ms")
    total_fen: int = Field(ge=0, le=10**10)
    insured_fen: int = Field(0, ge=0, le=10**10, description="医保统筹: settled with the insurer")
    self_pay_fen: int = Field(0, ge=0, le=10**10, description="the patient's part")
    insurer: str = Field("", max_length=64, description="who pays the insured part (required with it)")


class BillAnswer(BaseModel):
    patient: str
    hospital: str
    bill: str
    key: str  # <hospital>/<bill>: how the patient's bills name it
    on_credit: bool
    status: str  # open (on credit), counter (pay at the counter), covered (nothing self-paid)
    reason: str  # on_credit, no_line, over_line, suspended, no_self_pay
    credit_fen: int  # the self-pay part on credit
    due_ts: int | None  # when it must be repaid (on credit)
    due: str  # the same, Beijing time
    available_fen: int  # what is left of the line after this bill
    display: str  # what the desk's screen shows (Chinese first)


def check_bill(body: BillIn, now: int) -> None:
    """The amounts of a bill: 422 naming the field that is wrong."""
    if body.total_fen != body.insured_fen + body.self_pay_fen:
        parts = body.insured_fen + body.self_pay_fen
        raise _problem(
            "total_fen",
            f"total_fen {body.total_fen} must be insured_fen {body.insured_fen} + self_pay_fen "
            f"{body.self_pay_fen} = {parts}",
        )
    if body.insured_fen and not body.insurer:
        raise _problem("insurer", "a bill with an insured part names its insurer")
    if body.visit_ts > now + FUTURE_MS:
        raise _problem("visit_ts", f"visit_ts {body.visit_ts} is in the future ({beijing(body.visit_ts)})")


def answer_of(body: BillIn, status: str, reason: str, credit: int, due_ts: int, available: int) -> BillAnswer:
    return BillAnswer(
        patient=body.patient,
        hospital=body.hospital,
        bill=body.bill,
        key=bill_key(body.hospital, body.bill),
        on_credit=credit > 0,
        status=status,
        reason=reason,
        credit_fen=credit,
        due_ts=due_ts or None,
        due=beijing(due_ts) if due_ts else "",
        available_fen=available,
        display=DISPLAY.get(reason, reason),
    )


@router.post(
    "/bills", dependencies=INGEST, summary="A hospital's bill: on credit (and due when) or at the counter"
)
async def post_bill(rt: Rt, body: BillIn) -> BillAnswer:
    """Answered once the bill is durable. A bill is the hospital's (another hospital may use the
    same id): posting it again answers what was booked (or predicted); the same bill of the same
    hospital for another patient is refused (409)."""
    now = sdk.now_ms()
    check_bill(body, now)
    known = bill_state(rt.store, body.hospital, body.bill)
    if known is not None and known.patient != body.patient:
        raise sdk.ConflictError(f"bill {body.bill} of {body.hospital} is already booked for another patient")
    view = patient_state(rt.store, body.patient)
    if known is not None and view is not None:  # a retry of a bill booked: what was booked
        return answer_of(body, known.status, known.reason, known.credit_fen, known.due_ts, view.available_fen)
    cfg = clinic_settings(rt.settings)
    line, used, suspended = (view.line_fen, view.used_fen, view.suspended) if view else (0, 0, False)
    status, reason = credit_decision(line, used, suspended, body.self_pay_fen)
    credit = body.self_pay_fen if status == "open" else 0
    ev = ClinicBill(
        key=body.patient,
        ts=now,
        id=bill_event_id(body.hospital, body.bill),  # one bill of one hospital is stored once
        hospital=body.hospital,
        bill=body.bill,
        visit_ts=body.visit_ts,
        total_fen=body.total_fen,
        insured_fen=body.insured_fen,
        self_pay_fen=body.self_pay_fen,
        insurer=body.insurer,
    )
    await rt.submit([ev])  # durable before the HIS is answered
    due = body.visit_ts + cfg.settle_days * DAY_MS if credit else 0
    return answer_of(body, status, reason, credit, due, max(0, line - used - credit))


# -- ratings ---------------------------------------------------------------------------------------
class RatingIn(BaseModel):
    patient: PatientId
    score: int = Field(ge=0, le=10_000)
    source: str = Field(min_length=1, max_length=64, description="the credit platform, e.g. 白鹭分")
    as_of: int = Field(ge=sdk.MIN_TS, le=sdk.MAX_TS, description="when the score was computed, epoch ms")


class RatingAnswer(BaseModel):
    patient: str
    score: int
    line_fen: int  # the line the score's band gives (0: no credit)


@router.post("/ratings", dependencies=INGEST, summary="A patient's credit score: the line by band")
async def post_rating(rt: Rt, body: RatingIn) -> RatingAnswer:
    if body.as_of > sdk.now_ms() + FUTURE_MS:
        raise _problem("as_of", f"as_of {body.as_of} is in the future")
    # one rating (source, patient, time, score) is stored once however often it is posted
    rid = hashlib.blake2b(f"{body.source}|{body.patient}|{body.as_of}|{body.score}".encode(), digest_size=16)
    ev = CreditRating(key=body.patient, ts=body.as_of, id=f"rating:{rid.hexdigest()}", score=body.score,
                      source=body.source, as_of=body.as_of)  # fmt: skip
    await rt.submit([ev])
    return RatingAnswer(patient=body.patient, score=body.score,
                        line_fen=line_for(body.score, clinic_settings(rt.settings).bands))  # fmt: skip


# -- reading ---------------------------------------------------------------------------------------
@router.get("/patients/{patient}", dependencies=READ, summary="A patient: line, bills, defaults and evidence")
def get_patient(rt: Rt, patient: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    view = patient_state(rt.store, patient)
    found = rt.store.find_events(list(EVIDENCE), keys=[patient], limit=limit)
    if view is None and not found:
        raise sdk.NotFoundError(f"no patient {patient!r}")
    account = f"patient:{patient}"
    return {
        "patient": patient,
        "state": msgspec.to_builtins(view) if view else None,
        "owed_fen": rt.store.ledger_balances(account).get(account, 0),  # the ledger's side of used_fen
        "evidence": [msgspec.to_builtins(e) for e in found],
    }


# -- the cashier (its body and answer are the parking cashier's) -----------------------------------
def open_order(store: sdk.ReadModel, key: str, channel: str) -> tuple[str, int] | None:
    """A repayment order of the bill ``key`` at ``channel`` recorded and without an outcome yet
    (``paylater.clinic_pending``): (order, amount). Paying again reuses it (the same order at the
    provider, which takes an order id once), so a cashier that retries does not debit twice. A
    refund of an overpayment of the bill is no such order (the bill's published state may lag it)."""
    for row in store.states("paylater.clinic_pending"):
        for oid, o in row["data"].items():
            if o.get("kind", "payment") == "payment" and o["bill"] == key and o["channel"] == channel:
                return str(oid), int(o["amount"])
    return None


Status = Literal["requested", "accepted", "failed"]


def order_event(
    patient: str, channel: str, order: str, key: str, amount: int, status: Status, reason: str = ""
) -> OrderAnswer:
    """A repayment order of the bill ``key`` recorded (``requested``, id ``request:<channel>:<order>``)
    or what the provider answered to placing it (id ``answer:<channel>:<order>``), keyed by the
    patient: paylater.clinic follows the order (paylater.sessions ignores ``CB-`` orders)."""
    kind = "request" if status == "requested" else "answer"
    return OrderAnswer(key=patient, ts=sdk.now_ms(), id=f"{kind}:{channel}:{order}", order=order,
                       movement="payment", channel=channel, status=status, session=key, amount_fen=amount,
                       payer=patient, reason=reason[:200])  # fmt: skip


@router.post("/hospitals/{hospital}/bills/{bill}/pay", dependencies=INGEST,
             summary="The cashier: repay what a bill on credit still owes, by any channel")  # fmt: skip
async def post_pay(rt: Rt, hospital: str, bill: str, body: PayIn) -> PayAnswer:
    """Places the order ``CB-<bill ref>-q<time>`` for what the bill owes with the channel; the
    provider's notice repays the bill (whatever channel pays first; any later payment is booked to
    clearing:refunds and refunded). Paying a bill that owes nothing is refused (409). The order is
    recorded (``paylater.answer``, ``requested``) before it is placed, so it is followed (placed
    again, asked after) whatever happens to this request; paying again while an order of the bill
    is open at that channel places that order again (the provider takes its id once)."""
    b = bill_state(rt.store, hospital, bill)
    if b is None:
        raise sdk.NotFoundError(f"no bill {bill!r} of {hospital!r}")
    if b.owed_fen <= 0:
        raise sdk.ConflictError(f"bill {bill} of {hospital} owes nothing: it is {b.status}")
    name = body.channel or rt.settings.default_channel
    ch = channel_of(rt, name)
    key = bill_key(hospital, bill)
    found = open_order(rt.store, key, name)
    if found is not None:
        order, amount = found
    else:  # recorded before it is placed: a crash in between leaves it followed, not lost
        order, amount = clinic_order(hospital, bill, f"q{sdk.now_ms():x}"), b.owed_fen
        await rt.submit([order_event(b.patient, name, order, key, amount, "requested")])
    notify = (rt.settings.notify_url or rt.api_url + NOTIFY).rstrip("/") + f"/{name}"
    try:
        got = await asyncio.to_thread(
            ch.create_payment, order, amount, b.patient, repayment_subject(key), notify
        )
    except ChannelError as err:
        if found is None and not err.retryable:  # a new order refused for good: a retry places another
            failed = order_event(b.patient, name, order, key, amount, "failed", f"{err.code}: {err}")
            await rt.submit([failed])
        raise sdk.ConflictError(f"channel {name}: {err}") from None
    await rt.submit([order_event(b.patient, name, order, key, amount, got.status, got.reason)])
    return PayAnswer(order=order, status=got.status, amount_fen=amount, channel=name, reason=got.reason)

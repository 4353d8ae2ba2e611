"""Pay-later API (mounted at /api/v1/scenes/paylater): the gate asks what to do with a car, an
operator confirms held reads and reviews sessions, a payer binds a plate; plates, sessions and the
ledger are read here.

The gate is answered only once its read (with the decision) is durable. The decision is made
from the plate's state as the processor last committed it (one point read) and the tariff; the
processor then settles what the gate was told (processors.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from msgspec.structs import replace
from pydantic import BaseModel, Field

from citybrain import sdk
from citybrain.scenes.paylater.channels import Channel, ChannelError, SignatureError
from citybrain.scenes.paylater.events import Binding, Decision, GateConfirm, GateRead, OrderAnswer, Review
from citybrain.scenes.paylater.notices import NOTIFY, notice_event, session_key
from citybrain.scenes.paylater.plates import PlateError, parse_plate
from citybrain.scenes.paylater.reconciliation import reconcile_day
from citybrain.scenes.paylater.sessions import Caps, PlateView, exit_decision, session_id
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import PaylaterWorld

router = sdk.router(None)
Rt = Annotated[sdk.Runtime[PaylaterSettings, PaylaterWorld], Depends(sdk.runtime)]
INGEST = [Depends(sdk.require("ingest"))]
OPERATE = [Depends(sdk.require("operate"))]
READ = [Depends(sdk.require("read"))]
_VIEW = msgspec.json.Decoder(PlateView)


class GateIn(BaseModel):
    id: str = Field(min_length=1, max_length=128, description="the lot system's id of this read")
    lot: str = Field(min_length=1, max_length=64)
    gate: str = Field(min_length=1, max_length=64)
    direction: Literal["entry", "exit"]
    plate: str = Field(max_length=32, description="as the camera read it")
    confidence: float = Field(ge=0, le=1)
    colour: str = Field("", max_length=16)
    lane: str = Field("", max_length=32)
    image: str = Field("", max_length=512)
    ts: int = Field(description="when the car passed, epoch ms")


class GateAnswer(BaseModel):
    decision: Literal["open", "pay", "hold"]
    reason: str
    plate: str
    session: str
    fee_fen: int
    display: str  # what the gate's screen shows (Chinese first)


DISPLAY = {
    "free": "免费放行 · free",
    "pay_later": "先离场后付费 · pay later",
    "pay_at_gate": "请扫码缴费 · please pay",
    "arrears_cap": "欠费已达上限, 请扫码缴费 · arrears cap reached, please pay",
    "paid": "已缴费, 一路顺风 · paid",
    "entered": "欢迎光临 · welcome",
    "low_confidence": "请稍候, 人工确认车牌 · please wait",
    "bad_plate": "请稍候, 人工确认车牌 · please wait",
    "no_entry": "无入场记录, 人工处理 · no entry record",
    "in_review": "停车记录待复核, 人工处理 · record in review",
}


def plate_view(store: sdk.ReadModel, plate: str) -> PlateView | None:
    rows = store.states("paylater", plate)
    return _VIEW.decode(msgspec.json.encode(rows[0]["data"])) if rows else None


def decide(rt: sdk.Runtime[PaylaterSettings, PaylaterWorld], body: GateIn) -> GateRead:
    """The gate read with its decision, ready to be made durable."""
    cfg = rt.settings
    if body.lot not in rt.world.tariffs.lots:
        raise sdk.NotFoundError(f"lot {body.lot!r} is not in the tariff file ({rt.world.tariffs.source})")
    read = GateRead(
        key=f"unread:{body.lot}", id=f"{body.lot}:{body.id}", ts=body.ts, lot=body.lot, gate=body.gate,
        direction=body.direction, plate_read=body.plate, confidence=body.confidence, colour=body.colour,
        lane=body.lane, image=body.image, decision="hold", reason="bad_plate",
    )  # fmt: skip
    try:
        plate = parse_plate(body.plate, body.colour or None)
    except PlateError:
        return read
    read = replace(read, key=plate.text, plate=plate.text, new_energy=plate.new_energy)

    def answer(decision: Decision, reason: str, session: str = "", fee: int = 0) -> GateRead:
        return replace(read, decision=decision, reason=reason, session=session, fee_fen=fee)

    if body.confidence < cfg.min_confidence:
        return answer("hold", "low_confidence")
    if body.direction == "entry":
        return answer("open", "entered", session_id(body.lot, plate.text, read.id))
    view = plate_view(rt.store, plate.text)
    opened = view.open.get(body.lot) if view else None
    if opened is None:
        last = view.closed.get(body.lot) if view else None
        if last is not None and last.status == "settled":
            return answer("open", "paid", last.session)
        if last is not None and last.status == "awaiting":
            return answer("pay", "pay_at_gate", last.session, last.fee)
        return answer("hold", "no_entry")
    if body.ts - opened.entry_ts >= sdk.duration_ms(cfg.orphan_after):
        return answer("hold", "in_review", opened.session)
    fee = rt.world.fee_fen(body.lot, opened.entry_ts, max(body.ts, opened.entry_ts), opened.new_energy)
    decision, reason = exit_decision(view, fee, Caps(cfg.max_arrears_count, cfg.max_arrears_fen),
                                     frozenset(cfg.channels))  # fmt: skip
    return answer(decision, reason, opened.session, fee)


@router.post("/gate", dependencies=INGEST, summary="A gate's plate read: the decision (open / pay / hold)")
async def post_gate(rt: Rt, body: GateIn) -> GateAnswer:
    ev = decide(rt, body)
    await rt.submit([ev])  # durable before the gate is answered
    return GateAnswer(decision=ev.decision, reason=ev.reason, plate=ev.plate, session=ev.session,
                      fee_fen=ev.fee_fen, display=DISPLAY.get(ev.reason, ev.reason))  # fmt: skip


class ConfirmIn(BaseModel):
    gate_event: str = Field(min_length=1, max_length=200, description="the held read's id (lot:id)")
    plate: str = Field(min_length=1, max_length=32, description="the plate as the operator reads it")
    colour: str = Field("", max_length=16)


class Accepted(BaseModel):
    accepted: bool = True
    key: str


def held_read(store: sdk.ReadModel, gate_event: str) -> dict[str, Any]:
    """The open alert of a held read (what the gate saw: lot, direction, time, picture)."""
    for a in store.alerts(sdk.AlertQuery(scene="paylater", key=gate_event, limit=10)):
        if a.rule == "paylater.held_read" and a.status != "resolved":
            return a.data
    raise sdk.NotFoundError(f"no held read {gate_event!r} waits for confirmation")


@router.post("/confirm", dependencies=OPERATE, summary="An operator confirms a held read's plate")
async def post_confirm(
    rt: Rt, body: ConfirmIn, who: Annotated[tuple[str, Any], Depends(sdk.acting)]
) -> Accepted:
    held = held_read(rt.store, body.gate_event)
    try:
        plate = parse_plate(body.plate, body.colour or None)
    except PlateError as err:
        raise sdk.ValidationError([sdk.Problem(0, "plate", str(err))]) from None
    ev = GateConfirm(key=held["key"], ts=sdk.now_ms(), id=f"confirm:{body.gate_event}", plate=plate.text,
                     gate_event=body.gate_event, lot=held["lot"], direction=held["direction"],
                     read_ts=held["read_ts"], new_energy=plate.new_energy, by=who[0])  # fmt: skip
    await rt.submit([ev])
    rt.audit(
        who[0], "paylater.confirm", body.gate_event, {"plate": plate.text, "read": held.get("plate_read")}
    )
    return Accepted(key=plate.text)


class BindingIn(BaseModel):
    plate: str = Field(min_length=1, max_length=32)
    action: Literal["bind", "unbind"]
    payer: str = Field(min_length=1, max_length=64)
    channel: str = Field("wechat", min_length=1, max_length=64)
    consent: str = Field("", max_length=128, description="the signed 免密 agreement's id (bind)")


@router.post(
    "/bindings", dependencies=INGEST, summary="A payer binds or unbinds a plate (one payer per plate)"
)
async def post_binding(rt: Rt, body: BindingIn) -> Accepted:
    try:
        plate = parse_plate(body.plate)
    except PlateError as err:
        raise sdk.ValidationError([sdk.Problem(0, "plate", str(err))]) from None
    if body.channel not in rt.settings.channels:
        raise sdk.ValidationError([sdk.Problem(0, "channel", f"no channel {body.channel!r}")])
    if body.action == "bind" and not body.consent:
        raise sdk.ValidationError([sdk.Problem(0, "consent", "binding needs the signed 免密 agreement")])
    view = plate_view(rt.store, plate.text)
    if body.action == "bind" and view is not None and view.payer not in ("", body.payer):
        raise sdk.ConflictError(f"plate {plate.text} is bound to another payer: it must be unbound first")
    if body.action == "unbind" and (view is None or view.payer != body.payer):
        raise sdk.ConflictError(f"plate {plate.text} is not bound to this payer")
    now = sdk.now_ms()
    await rt.submit([Binding(key=plate.text, ts=now, action=body.action, payer=body.payer,
                             channel=body.channel, consent=body.consent)])  # fmt: skip
    return Accepted(key=plate.text)


class ReviewIn(BaseModel):
    plate: str = Field(min_length=1, max_length=32)
    session: str = Field(min_length=1, max_length=64)
    action: Literal["bill", "waive"]
    fee_fen: int = Field(0, ge=0)
    note: str = Field("", max_length=500)


@router.post("/review", dependencies=OPERATE, summary="Bill or waive a session in review")
async def post_review(
    rt: Rt, body: ReviewIn, who: Annotated[tuple[str, Any], Depends(sdk.acting)]
) -> Accepted:
    rows = rt.store.states("paylater.session", body.session)
    if not rows or rows[0]["data"].get("status") != "review" or rows[0]["data"].get("plate") != body.plate:
        raise sdk.NotFoundError(f"no session {body.session!r} of {body.plate} in review")
    await rt.submit([Review(key=body.plate, ts=sdk.now_ms(), session=body.session, action=body.action,
                            fee_fen=body.fee_fen, by=who[0], note=body.note)])  # fmt: skip
    rt.audit(who[0], f"paylater.review.{body.action}", body.session, {"fee_fen": body.fee_fen})
    return Accepted(key=body.plate)


@router.get(
    "/plates/{plate}", dependencies=READ, summary="A plate: payer, arrears, sessions and gate evidence"
)
def get_plate(rt: Rt, plate: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    try:
        text = parse_plate(plate).text
    except PlateError as err:
        raise sdk.ValidationError([sdk.Problem(0, "plate", str(err))]) from None
    view = plate_view(rt.store, text)
    reads = rt.store.find_events(["paylater.gate", "paylater.confirm", "paylater.binding"], keys=[text],
                                 limit=limit)  # fmt: skip
    return {
        "plate": text,
        "state": msgspec.to_builtins(view) if view else None,
        "evidence": [msgspec.to_builtins(e) for e in reads],
    }


@router.get("/sessions/{session}", dependencies=READ, summary="A session with its ledger postings")
def get_session(rt: Rt, session: str) -> dict[str, Any]:
    rows = rt.store.states("paylater.session", session)
    if not rows:
        raise sdk.NotFoundError(f"no session {session!r}")
    postings = rt.store.ledger_postings(ref=session)
    return {"session": rows[0]["data"], "postings": [msgspec.to_builtins(p) for p in postings]}


@router.get("/ledger/balances", dependencies=READ, summary="Account balances (fen, debits positive)")
def get_balances(rt: Rt, prefix: str = "") -> dict[str, int]:
    return rt.store.ledger_balances(prefix)


@router.get("/ledger/trial-balance", dependencies=READ, summary="The whole ledger summed")
def get_trial_balance(rt: Rt) -> dict[str, Any]:
    tb = rt.store.trial_balance()
    return {**msgspec.to_builtins(tb), "balanced": tb.balanced}


NOTICE_CHECK = (
    "a payment provider's notice: admitted only when its signature (Ed25519 over timestamp, nonce "
    "and body, the channel's key and serial) verifies and its timestamp is within 5 minutes"
)


def channel_of(rt: sdk.Runtime[PaylaterSettings, PaylaterWorld], name: str) -> Channel:
    channel = rt.world.providers.channels.get(name)
    if channel is None:
        if name in rt.settings.channels:
            raise sdk.NotFoundError(
                f"channel {name!r} is not running here (scenes.paylater.dispatcher is off)"
            )
        raise sdk.NotFoundError(f"no channel {name!r}; the channels are {sorted(rt.settings.channels)}")
    return channel


@router.post("/notify/{channel}", dependencies=[Depends(sdk.public(NOTICE_CHECK))],
             summary="A payment provider's signed notice of a payment or refund")  # fmt: skip
async def post_notify(rt: Rt, channel: str, request: Request) -> JSONResponse:
    """Answered ``SUCCESS`` only once the notice is durable; the same notice again is answered the
    same (it is stored once). A notice that does not verify is refused and changes nothing."""
    ch = channel_of(rt, channel)
    body = await request.body()
    try:
        notice = ch.verify(dict(request.headers), body, sdk.now_ms())
    except SignatureError as err:
        return JSONResponse({"code": "SIGN_ERROR", "message": str(err)}, status_code=401)
    except ChannelError as err:
        return JSONResponse({"code": "PARAM_ERROR", "message": str(err)}, status_code=400)
    await rt.submit([notice_event(notice, session_key(rt.store, notice), "notify")])
    return JSONResponse({"code": "SUCCESS", "message": "成功"})


class PayIn(BaseModel):
    channel: str = Field("", max_length=64, description="empty: default_channel")


class PayAnswer(BaseModel):
    order: str
    status: Literal["accepted", "failed"]
    amount_fen: int
    channel: str
    reason: str = ""


@router.post("/sessions/{session}/pay", dependencies=INGEST,
             summary="The cashier: pay a session owed, at the gate or later, by any channel")  # fmt: skip
async def post_pay(rt: Rt, session: str, body: PayIn) -> PayAnswer:
    rows = rt.store.states("paylater.session", session)
    if not rows:
        raise sdk.NotFoundError(f"no session {session!r}")
    s = rows[0]["data"]
    if s["status"] not in ("due", "awaiting"):
        raise sdk.ConflictError(f"session {session} owes nothing: it is {s['status']}")
    name = body.channel or rt.settings.default_channel
    ch = channel_of(rt, name)
    order = f"{session}-q{sdk.now_ms():x}"[:32]
    notify = (rt.settings.notify_url or rt.api_url + NOTIFY).rstrip("/") + f"/{name}"
    try:
        got = await asyncio.to_thread(
            ch.create_payment, order, s["fee"], s["payer"], f"停车费 {s['lot']}", notify
        )
    except ChannelError as err:
        raise sdk.ConflictError(f"channel {name}: {err}") from None
    answer = OrderAnswer(key=s["plate"], ts=sdk.now_ms(), id=f"answer:{name}:{order}", order=order,
                         movement="payment", channel=name, status=got.status, session=session,
                         amount_fen=s["fee"], payer=s["payer"], reason=got.reason[:200])  # fmt: skip
    await rt.submit([answer])
    return PayAnswer(order=order, status=got.status, amount_fen=s["fee"], channel=name, reason=got.reason)


class ReconcileIn(BaseModel):
    channel: str = Field(min_length=1, max_length=64)
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the Beijing day, YYYY-MM-DD")


@router.post(
    "/reconciliation", dependencies=OPERATE, summary="Reconcile a channel's day against its statement"
)
async def post_reconciliation(
    rt: Rt, body: ReconcileIn, who: Annotated[tuple[str, Any], Depends(sdk.acting)]
) -> dict[str, Any]:
    try:
        day = dt.date.fromisoformat(body.day)
    except ValueError as err:
        raise sdk.ValidationError([sdk.Problem(0, "day", str(err))]) from None
    run = await reconcile_day(rt, body.channel, day)
    rt.audit(who[0], "paylater.reconcile", f"{body.channel}:{body.day}", run.counts)
    return msgspec.to_builtins(run)  # type: ignore[no-any-return]


@router.get(
    "/reconciliation", dependencies=READ, summary="The recorded reconciliations of a channel, newest first"
)
def get_reconciliation(
    rt: Rt, channel: str, limit: Annotated[int, Query(ge=1, le=400)] = 31
) -> list[dict[str, Any]]:
    runs = rt.store.find_events(["paylater.reconciled"], keys=[f"recon:{channel}"])
    return [msgspec.to_builtins(e) for e in sorted(runs, key=lambda e: e.ts, reverse=True)[:limit]]


class Overview(BaseModel):
    outstanding_fen: int  # owed by payers and plates (left first, or awaiting payment)
    accrued_fen: int  # every fee charged so far (owed to the lots)
    settled_fen: int  # held at the channels for the lots (payments less refunds)
    refunds_pending_fen: int  # duplicates booked and not yet refunded
    in_review: int  # sessions waiting for an operator (orphaned, missed exit)
    held_reads: int  # gate reads waiting for an operator
    balanced: bool  # the trial balance sums to zero


def overview(store: sdk.ReadModel) -> Overview:
    """The scene's standing from the ledger and the open alerts (the panel and the report)."""
    bal = store.ledger_balances()

    def of(prefix: str) -> int:
        return sum(v for k, v in bal.items() if k.startswith(prefix))

    alerts = store.alerts(sdk.AlertQuery(scene="paylater", limit=10_000))
    live = [a for a in alerts if a.status != "resolved"]
    return Overview(
        outstanding_fen=of("payer:") + of("plate:"),
        accrued_fen=-of("lot:"),
        settled_fen=of("channel:"),
        refunds_pending_fen=-of("clearing:refunds"),
        in_review=sum(a.rule == "paylater.review" for a in live),
        held_reads=sum(a.rule == "paylater.held_read" for a in live),
        balanced=store.trial_balance().balanced,
    )


@router.get("/overview", dependencies=READ, summary="Money owed, settled and refunded; the review queue")
def get_overview(rt: Rt) -> Overview:
    return overview(rt.store)

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
import time
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from msgspec.structs import replace
from pydantic import BaseModel, Field

from citybrain import sdk
from citybrain.scenes.paylater.casetypes import DEPARTMENT
from citybrain.scenes.paylater.channels import Channel, ChannelError, SignatureError
from citybrain.scenes.paylater.events import Binding, Decision, GateRead, OrderAnswer
from citybrain.scenes.paylater.notices import NOTIFY, notice_event, session_key
from citybrain.scenes.paylater.plates import PlateError, parse_plate
from citybrain.scenes.paylater.reconciliation import reconcile_day
from citybrain.scenes.paylater.sessions import Caps, PlateView, exit_decision, session_id
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import PaylaterWorld

router = sdk.router(None)
Rt_ = sdk.Runtime[PaylaterSettings, PaylaterWorld]
Rt = Annotated[Rt_, Depends(sdk.runtime)]
INGEST = [Depends(sdk.require("ingest"))]
OPERATE = [Depends(sdk.require("operate"))]
READ = [Depends(sdk.require("read"))]
T = TypeVar("T", bound=msgspec.Struct)
REREAD_MS = 120_000  # an exit read again this soon after the car left is the same car


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


def read_state(store: sdk.ReadModel, scene: str, key: str, kind: type[T]) -> T | None:
    """An entity state the scene's processors published, as the struct they published it from."""
    rows = store.states(scene, key)
    return msgspec.convert(rows[0]["data"], kind) if rows else None


def plate_view(store: sdk.ReadModel, plate: str) -> PlateView | None:
    return read_state(store, "paylater", plate, PlateView)


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
        if last is not None and last.status in ("free", "due") and 0 <= body.ts - last.exit_ts < REREAD_MS:
            # the same car read again (a second camera, a lot system retrying): let out as before
            return answer("open", "free" if last.status == "free" else "pay_later", last.session, last.fee)
        return answer("hold", "no_entry")
    if body.ts - opened.entry_ts >= sdk.duration_ms(cfg.orphan_after):
        return answer("hold", "in_review", opened.session)
    fee = rt.world.fee_fen(body.lot, opened.entry_ts, max(body.ts, opened.entry_ts), opened.new_energy)
    decision, reason = exit_decision(view, fee, Caps(cfg.max_arrears_count, cfg.max_arrears_fen),
                                     frozenset(cfg.channels))  # fmt: skip
    return answer(decision, reason, opened.session, fee)


@router.post("/gate", dependencies=INGEST, summary="A gate's plate read: the decision (open / pay / hold)")
async def post_gate(rt: Rt, body: GateIn) -> GateAnswer:
    """A read the gate sends again (it timed out waiting) is answered as it was the first time
    (this node remembers its recent answers; the store keeps the read once)."""
    started = time.perf_counter()
    said = rt.world.answers.get(f"{body.lot}:{body.id}")
    if said is not None:
        return GateAnswer(**said)
    ev = await asyncio.to_thread(decide, rt, body)  # a store read: off the event loop
    if (late := rt.time_problem(ev)) is not None:  # it would be quarantined, not kept: no answer
        raise sdk.ValidationError([sdk.Problem(0, "ts", f"read {body.id} of lot {body.lot}: {late}")])
    await rt.submit([ev])  # durable before the gate is answered
    rt.world.decisions.append((time.perf_counter() - started) * 1000)
    answer = GateAnswer(decision=ev.decision, reason=ev.reason, plate=ev.plate, session=ev.session,
                        fee_fen=ev.fee_fen, display=DISPLAY.get(ev.reason, ev.reason))  # fmt: skip
    rt.world.remember(ev.id, answer.model_dump())
    return answer


class ConfirmIn(BaseModel):
    gate_event: str = Field(min_length=1, max_length=200, description="the held read's id (lot:id)")
    plate: str = Field("", max_length=32, description="the plate as the operator reads it; empty: dismiss")
    colour: str = Field("", max_length=16)
    note: str = Field("", max_length=500)


class Accepted(BaseModel):
    accepted: bool = True
    key: str
    case: str = ""


Who = Annotated[tuple[str, Any], Depends(sdk.acting)]


def case_of_alert(rt: Rt_, rule: str, key: str) -> tuple[str, int]:
    """The case the open alert ``rule`` of ``key`` opened: (case id, version)."""
    for a in rt.store.alerts(sdk.AlertQuery(scene="paylater", key=key, limit=10)):
        if a.rule == rule and a.status != "resolved":
            found: tuple[str, int] | None = rt.cases.store.case_by_command(f"alert:{a.id}")
            if found is not None:
                return found
    raise sdk.NotFoundError(f"nothing of {key!r} waits for an operator ({rule})")


async def act_on(rt: Rt_, who: tuple[str, Any], case: tuple[str, int], action: str, command: str,
                 fields: dict[str, Any], note: str = "") -> None:  # fmt: skip
    """Take ``action`` on the case, as ``who`` (once per ``command``: a retry is answered the same)."""
    act = sdk.CaseAct(case[0], action, command, case[1], fields, note)
    await asyncio.to_thread(rt.cases.one, act, who[1])


@router.post("/confirm", dependencies=OPERATE, summary="Confirm (or dismiss) a held read: its case's action")
async def post_confirm(rt: Rt, body: ConfirmIn, who: Who) -> Accepted:
    """The booth's shortcut to the ``paylater.held`` case the read opened: the plate is checked
    here (422 naming what is wrong), then the case's ``confirm`` (or ``dismiss``) is taken, which
    the processor carries out."""
    case = case_of_alert(rt, "paylater.held_read", body.gate_event)
    if not body.plate:
        await act_on(
            rt, who, case, "dismiss", f"dismiss:{body.gate_event}", {"reason_note": body.note or "-"}
        )
        return Accepted(key=body.gate_event, case=case[0])
    try:
        plate = parse_plate(body.plate, body.colour or None)
    except PlateError as err:
        raise sdk.ValidationError([sdk.Problem(0, "plate", str(err))]) from None
    await act_on(rt, who, case, "confirm", f"confirm:{body.gate_event}", {"plate": plate.text}, body.note)
    return Accepted(key=plate.text, case=case[0])


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
    session: str = Field(min_length=1, max_length=64)
    action: Literal["bill", "waive"]
    fee_fen: int = Field(0, ge=0)
    note: str = Field("", max_length=500)


@router.post("/review", dependencies=OPERATE, summary="Bill or waive a session in review: its case's action")
async def post_review(rt: Rt, body: ReviewIn, who: Who) -> Accepted:
    case = case_of_alert(rt, "paylater.review", body.session)
    if body.action == "bill" and not body.fee_fen:
        raise sdk.ValidationError([sdk.Problem(0, "fee_fen", "billing needs the fee (fen, above 0)")])
    fields = {"fee_fen": body.fee_fen} if body.action == "bill" else {"reason_note": body.note or "-"}
    await act_on(rt, who, case, body.action, f"review:{body.session}", fields, body.note)
    return Accepted(key=body.session, case=case[0])


class DisputeIn(BaseModel):
    plate: str = Field(min_length=1, max_length=32)
    session: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    contact: str = Field("", max_length=64, description="how to reach the driver (private)")


@router.post("/disputes", dependencies=INGEST, summary="A driver disputes a charge: a case with the evidence")
async def post_dispute(rt: Rt, body: DisputeIn) -> Accepted:
    """Opens a ``paylater.dispute`` case (once per session: asking again answers the same case),
    carrying the session, its fee and every gate read of the stay with its picture."""
    try:
        plate = parse_plate(body.plate).text
    except PlateError as err:
        raise sdk.ValidationError([sdk.Problem(0, "plate", str(err))]) from None
    shown = session_view(rt, body.session)
    s = shown["session"]
    if s["plate"] != plate:
        raise sdk.NotFoundError(f"no session {body.session!r} of {plate}")
    fields = {"plate": plate, "session": body.session, "lot": s["lot"], "reason": body.reason,
              "contact": body.contact, "fee_fen": s["fee"], "status": s["status"],
              "photos": [r["image"] for r in shown["reads"] if r.get("image")],
              "reads": [r["id"] for r in shown["reads"]]}  # fmt: skip
    opened = sdk.CaseOpen("paylater.dispute", f"dispute:{body.session}", fields,
                          department=DEPARTMENT, category="dispute", title=f"{plate} {s['lot']}",
                          note=body.reason[:200])  # fmt: skip
    out = await asyncio.to_thread(rt.cases.one, opened, sdk.CaseActor("车主 / driver app", ("system",)))
    return Accepted(key=plate, case=out.case.id)


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
    sessions = [
        row["data"]
        for sid in (view.sessions if view else [])
        for row in rt.store.states("paylater.session", sid)
    ]
    return {
        "plate": text,
        "state": msgspec.to_builtins(view) if view else None,
        "sessions": sessions,
        "evidence": [msgspec.to_builtins(e) for e in reads],
    }


def session_view(rt: Rt_, session: str) -> dict[str, Any]:
    """A session with its evidence: the ledger's postings, the fee's lines as the tariff computes
    them (a receipt), and every gate read of the plate at that lot during the stay."""
    rows = rt.store.states("paylater.session", session)
    if not rows:
        raise sdk.NotFoundError(f"no session {session!r}")
    s = rows[0]["data"]
    end = s["exit_ts"] or sdk.now_ms()
    found = rt.store.find_events(["paylater.gate", "paylater.confirm"], keys=[s["plate"]],
                                 start=s["entry_ts"], end=end + 1, limit=1_000)  # fmt: skip
    reads = [e for e in found if getattr(e, "lot", "") == s["lot"]]
    lines: list[Any] = []
    if s["exit_ts"] and s["lot"] in rt.world.tariffs.lots:
        fee = rt.world.tariffs.fee(s["lot"], s["entry_ts"], s["exit_ts"], new_energy=s["new_energy"])
        lines = [msgspec.to_builtins(line) for line in fee.lines]
    postings = rt.store.ledger_postings(ref=session)
    return {"session": s, "fee_lines": lines, "reads": [msgspec.to_builtins(e) for e in reads],
            "postings": [msgspec.to_builtins(p) for p in postings]}  # fmt: skip


@router.get(
    "/sessions/{session}", dependencies=READ, summary="A session with its evidence and ledger postings"
)
def get_session(rt: Rt, session: str) -> dict[str, Any]:
    return session_view(rt, session)


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


class NoticeAnswer(BaseModel):
    """What a provider's notice is answered: ``SUCCESS`` once durable (it stops retrying)."""

    code: Literal["SUCCESS", "SIGN_ERROR", "PARAM_ERROR"]
    message: str


@router.post("/notify/{channel}", dependencies=[Depends(sdk.public(NOTICE_CHECK))],
             response_model=NoticeAnswer, responses={code: {"model": NoticeAnswer} for code in (400, 401)},
             summary="A payment provider's signed notice of a payment or refund")  # fmt: skip
async def post_notify(rt: Rt, channel: str, request: Request) -> JSONResponse:
    """Answered ``SUCCESS`` only once the notice is durable; the same notice again is answered the
    same (it is stored once). A notice that does not verify is refused and changes nothing."""
    body = await request.body()  # bounded by server.max_body_bytes before a byte is read
    ch = channel_of(rt, channel)
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


def open_order(store: sdk.ReadModel, session: str, channel: str) -> str | None:
    """A payment of ``session`` at ``channel`` placed and not answered yet: paying again reuses it
    (the same order at the provider), so a driver who retries is not charged twice."""
    for row in store.states("paylater.pending"):
        for oid, o in row["data"].items():
            if o["session"] == session and o["channel"] == channel and o["kind"] == "payment":
                return str(oid)
    return None


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
    order = open_order(rt.store, session, name)
    if order is None:  # recorded before it is placed: a crash in between leaves it followed, not lost
        order = f"{session}-q{sdk.now_ms():x}"[:32]
        ask = OrderAnswer(key=s["plate"], ts=sdk.now_ms(), id=f"request:{name}:{order}", order=order,
                          movement="payment", channel=name, status="requested", session=session,
                          amount_fen=s["fee"], payer=s["payer"])  # fmt: skip
        await rt.submit([ask])
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
    assert run is not None  # recorded even when the day had no movement
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


def exit_series(store: sdk.ReadModel, start: int, end: int, lot: str = "all") -> dict[int, tuple[int, int]]:
    """Exits and exits let out at once per minute in ``[start, end)``, of ``lot`` or every lot:
    the partitions' counts (processors.Sessions._count) summed."""
    out: dict[int, list[int]] = {}
    for i, name in enumerate(("paylater.exits", "paylater.exits_open")):
        for key in store.metric_keys(name):
            if key.split("#", 1)[0] == lot:
                for ts, v in store.metric_series(name, key, start, end, 60_000, "sum"):
                    out.setdefault(ts, [0, 0])[i] += int(v)
    return {ts: (e, o) for ts, (e, o) in sorted(out.items())}


class ExitMinute(BaseModel):
    minute: str  # HH:MM, Beijing time
    exits: int
    left_first: int  # let out at once (pay later, free, paid before)


@router.get("/exits", dependencies=READ, summary="Exits per minute, and those let out at once")
def get_exits(
    rt: Rt, minutes: Annotated[int, Query(ge=1, le=1440)] = 30, lot: str = "all"
) -> list[ExitMinute]:
    now = sdk.now_ms()
    end = now - now % 60_000 + 60_000
    series = exit_series(rt.store, end - minutes * 60_000, end, lot)
    beijing = dt.timezone(dt.timedelta(hours=8))
    return [
        ExitMinute(
            minute=dt.datetime.fromtimestamp(ts / 1000, beijing).strftime("%H:%M"), exits=e, left_first=o
        )
        for ts, (e, o) in series.items()
    ]


class Overview(BaseModel):
    exits_per_min: int  # exit reads in the last whole minute, every lot
    left_first_share: float | None  # of the last 15 minutes' exits, those let out at once
    decision_ms_p50: float | None  # this API node's recent gate answers (until durable)
    decision_ms_p99: float | None
    outstanding_fen: int  # owed by payers and plates (left first, or awaiting payment)
    accrued_fen: int  # every fee charged so far (owed to the lots)
    settled_fen: int  # held at the channels for the lots (payments less refunds)
    refunds_pending_fen: int  # duplicates booked and not yet refunded
    in_review: int  # sessions waiting for an operator (orphaned, missed exit)
    held_reads: int  # gate reads waiting for an operator
    balanced: bool  # the trial balance sums to zero


def overview(store: sdk.ReadModel, world: PaylaterWorld | None = None, now: int | None = None) -> Overview:
    """The scene's standing from the ledger, the exit counts and the open alerts (the panel and
    the report); the decision times are this node's (``world``)."""
    now = now if now is not None else sdk.now_ms()
    minute = now - now % 60_000
    last = exit_series(store, minute - 15 * 60_000, minute)
    seen, opened = sum(e for e, _ in last.values()), sum(o for _, o in last.values())
    bal = store.ledger_balances()

    def of(prefix: str) -> int:
        return sum(v for k, v in bal.items() if k.startswith(prefix))

    alerts = store.alerts(sdk.AlertQuery(scene="paylater", limit=10_000))
    live = [a for a in alerts if a.status != "resolved"]
    return Overview(
        exits_per_min=last.get(minute - 60_000, (0, 0))[0],
        left_first_share=round(opened / seen, 4) if seen else None,
        decision_ms_p50=world.decision_ms(0.5) if world else None,
        decision_ms_p99=world.decision_ms(0.99) if world else None,
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
    return overview(rt.store, rt.world)

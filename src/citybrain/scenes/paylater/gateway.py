"""The payment gateway: the scene's server between the platform and the payment providers. It
starts the providers' clients (a sandbox provider in-process for a channel configured without a
URL); its dispatcher places the orders the processor asks for, asks after the ones whose notice
is late, and reconciles each channel's yesterday (T+1).

Exactly once without a distributed transaction: the dispatcher may place an order twice (a
restart, a timeout), and a provider takes one order id once; an answer or a notice becomes an
event whose id is the provider's (``answer:<channel>:<order>``, ``<channel>:<kind>:<movement>:
<status>``), so repeats are stored once; and the processor settles a session (or repays a clinic
bill) once whatever it hears (sessions.py, clinic.py). The orders waiting are the processors'
states: ``paylater.pending`` (parking's payments and refunds) and ``paylater.clinic_pending`` (the
clinic cashier's repayments and the refunds of overpayments), a few rows per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Literal

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater.channels import Channel, ChannelError
from citybrain.scenes.paylater.clinic import repayment_subject
from citybrain.scenes.paylater.events import Backlog, LotActivity, OrderAnswer
from citybrain.scenes.paylater.notices import NOTIFY, notice_event
from citybrain.scenes.paylater.providers import Providers
from citybrain.scenes.paylater.reconciliation import BEIJING, day_bounds, reconcile_day
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import PaylaterWorld
from citybrain.sdk import Event

log = logging.getLogger(__name__)
MINUTE, DAY = 60_000, 86_400_000
CATCH_UP_DAYS = 7  # days before yesterday reconciled when they were missed (providers keep 3 months)
RETRY_AFTER_S = 600.0  # a day whose reconciliation failed is tried again this much later
QUEUES = ("paylater.held", "paylater.review", "paylater.dispute")  # the cases a backlog is counted of


class Followed(msgspec.Struct, frozen=True):
    """An order the dispatcher places and follows, whichever processor asked for it."""

    key: str  # the partition key of its answer and notices: the plate, or the clinic's patient
    kind: Literal["payment", "refund"]
    channel: str
    amount: int
    payer: str
    pays: str  # what it pays: a parking session, or a clinic bill's key (the answer's ``session``)
    subject: str  # what the payer's provider shows (a refund: the reason it gives)
    status: str  # requested (to place) | accepted (placed: asked after when its notice is late)
    ts: int  # when it was asked for
    refund_of: str = ""  # a refund: the order whose money it returns


PARKING_REFUND = "重复支付退款 duplicate payment"  # the reason a parking refund gives the provider
CLINIC_REFUND = "就医还款多付退款 clinic overpayment"  # the reason a clinic refund gives


def followed(store: sdk.ReadModel) -> dict[str, Followed]:
    """Every order waiting for a provider: parking's (``paylater.pending``) and the clinic's
    (``paylater.clinic_pending``: the cashier's repayments, the refunds of overpayments), by order id."""
    out: dict[str, Followed] = {}
    for row in store.states("paylater.pending"):
        for oid, o in row["data"].items():
            sid, status, kind = o["session"], o["status"], o["kind"]
            subject = PARKING_REFUND if kind == "refund" else f"停车费 parking {sid}"
            out[oid] = Followed(o["plate"], kind, o["channel"], o["amount"], o["payer"], sid, subject,
                                status, o["ts"], o.get("refund_of", ""))  # fmt: skip
    for row in store.states("paylater.clinic_pending"):
        for oid, o in row["data"].items():
            kind = o.get("kind", "payment")
            subject = CLINIC_REFUND if kind == "refund" else repayment_subject(o["bill"])
            out[oid] = Followed(o["patient"], kind, o["channel"], o["amount"], o["patient"], o["bill"],
                                subject, o["status"], o["ts"], o.get("refund_of", ""))  # fmt: skip
    return out


class Dispatcher:
    """A scene server: starts the providers, then places and follows orders until stopped."""

    name = "paylater-dispatcher"

    def __init__(self, rt: sdk.Runtime[PaylaterSettings, PaylaterWorld]) -> None:
        self.rt = rt
        self.cfg = rt.settings
        self.providers: Providers = rt.world.providers
        self.notify = (self.cfg.notify_url or rt.api_url + NOTIFY).rstrip("/") + "/"
        self.sent: dict[str, int] = {}  # order -> when it was last sent or asked after (wall ms)
        self.reconciled: set[tuple[str, str]] = set()  # (channel, day) reconciled (or found so) here
        self.retry_at: dict[tuple[str, str], float] = {}  # (channel, day) that failed: when to try again
        self.watched = 0  # the minute the lots and the queues were last counted
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await asyncio.to_thread(self.providers.start, self.cfg.channels, self.cfg.sandbox_seed)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.providers.close)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.round()
                await self.reconcile_due()
                await self.watch()
            except Exception:  # a provider or the store failing must not end the dispatcher
                log.exception("paylater dispatcher: round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.cfg.dispatch_every_ms / 1000)

    async def reconcile_due(self, now: dt.datetime | None = None) -> list[str]:
        """T+1: once it is past ``reconcile_at`` (Beijing time), yesterday of every channel is
        reconciled, and so is each of the ``CATCH_UP_DAYS`` before it not reconciled yet (the
        platform was down at ``reconcile_at``, or a provider's statement was not ready). A day
        already reconciled (a ``paylater.reconciled`` of it) is not run again; one that failed is
        tried again after ``RETRY_AFTER_S``; a day without a movement on either side is not
        recorded. Returns the runs it recorded."""
        at = self.cfg.reconcile_at
        if not at:
            return []
        local = (now or dt.datetime.now(BEIJING)).astimezone(BEIJING)
        last = local.date() - dt.timedelta(days=1 if local.strftime("%H:%M") >= at else 2)
        runs: list[str] = []
        for back in range(CATCH_UP_DAYS - 1, -1, -1):
            day = (last - dt.timedelta(days=back)).isoformat()
            for name in sorted(self.providers.channels):
                if (name, day) in self.reconciled or time.monotonic() < self.retry_at.get((name, day), 0):
                    continue
                if await asyncio.to_thread(reconciled_before, self.rt.store, name, day):
                    self.reconciled.add((name, day))
                    continue
                try:
                    run = await reconcile_day(self.rt, name, dt.date.fromisoformat(day), skip_empty=True)
                except Exception:
                    log.exception("paylater: reconciling %s of %s failed; trying again later", name, day)
                    self.retry_at[(name, day)] = time.monotonic() + RETRY_AFTER_S
                    continue
                self.reconciled.add((name, day))
                if run is not None:
                    runs.append(run.id)
        return runs

    async def watch(self, now: int | None = None) -> list[Event]:
        """Once a minute: the lots' reads and the operators' queues, as events (``watch_events``)."""
        now = now if now is not None else sdk.now_ms()
        if now - now % MINUTE == self.watched:
            return []
        self.watched = now - now % MINUTE
        made = watch_events(self.rt, now)
        if made:
            await self.rt.submit(made)
        return made

    async def round(self) -> int:
        """Place each order not placed yet; ask after each one without an outcome for
        ``query_after_ms`` (parking's and the clinic cashier's alike). Returns how many requests
        went to providers."""
        pending = followed(self.rt.store)
        now = sdk.now_ms()
        self.sent = {k: v for k, v in self.sent.items() if k in pending}
        calls = 0
        for oid, order in sorted(pending.items()):
            channel = self.providers.channels.get(order.channel)
            if channel is None:
                continue
            last = self.sent.get(oid)
            if last is None and order.status == "requested":
                self.sent[oid] = now
                await self._place(channel, oid, order)
            elif now - (last or order.ts) >= self.cfg.query_after_ms:
                self.sent[oid] = now
                await self._ask(channel, oid, order)
            else:
                continue
            calls += 1
        return calls

    async def _place(self, channel: Channel, oid: str, o: Followed) -> None:
        notify = self.notify + o.channel
        try:
            if o.kind == "refund":
                got = await asyncio.to_thread(channel.refund, oid, o.refund_of, o.amount, o.subject, notify)
            else:
                got = await asyncio.to_thread(
                    channel.create_payment, oid, o.amount, o.payer, o.subject, notify
                )
            status, reason = got.status, got.reason
        except ChannelError as err:
            if err.retryable:
                del self.sent[oid]  # placed again next round (the provider takes an order id once)
                log.warning("paylater: order %s at %s: %s; retrying", oid, o.channel, err)
                return
            status, reason = "failed", f"{err.code}: {err}"
        await self.rt.submit([OrderAnswer(
            key=o.key, ts=sdk.now_ms(), id=f"answer:{o.channel}:{oid}", order=oid,
            movement=o.kind, channel=o.channel, status=status, session=o.pays,
            amount_fen=o.amount, payer=o.payer, reason=reason[:200],
        )])  # fmt: skip

    async def _ask(self, channel: Channel, oid: str, o: Followed) -> None:
        try:
            if o.kind == "refund":
                found = await asyncio.to_thread(channel.query_refund, oid)
            else:
                found = await asyncio.to_thread(channel.query_payment, oid)
        except ChannelError as err:
            log.warning("paylater: asking after %s at %s: %s", oid, o.channel, err)
            return
        if found is not None:
            await self.rt.submit([notice_event(found, o.key, "query")])


def watch_events(rt: sdk.Runtime[PaylaterSettings, PaylaterWorld], now: int) -> list[Event]:
    """Each lot's reads in the last ``gate_silent_after`` and the cases waiting for an operator,
    every partition's counts summed, as events for ``paylater.watch``. Only what can matter: a lot
    that read in the last day, a queue that is not empty, or either while its alert is open (so
    it resolves)."""
    cfg, minute = rt.settings, now - now % MINUTE
    open_alerts = rt.store.alerts(sdk.AlertQuery(scene="paylater", status="open", limit=10_000))
    alerting = {(a.rule, a.key) for a in open_alerts}
    made: list[Event] = []
    if cfg.gate_silent_after:
        window = sdk.duration_ms(cfg.gate_silent_after)
        for lot in rt.world.tariffs.lots:
            reads = count(rt.store, "paylater.reads", lot, now - window, now + 1)
            before = count(rt.store, "paylater.reads", lot, now - DAY, now - window)
            if before or reads or ("paylater.gate_silent", lot) in alerting:
                silent = ("paylater.gate_silent", lot) in alerting  # stays silent until a read comes
                made.append(LotActivity(key=lot, ts=now, id=f"lot:{lot}:{minute}", reads=reads,
                                        window_ms=window, active_before=before > 0 or silent))  # fmt: skip
    if cfg.review_backlog:
        for kind in QUEUES:
            waiting = rt.cases.store.find_cases(sdk.CaseQuery(type=kind, open_only=True, limit=10_000))
            if waiting or ("paylater.review_backlog", kind) in alerting:
                oldest = min((c.opened_ts for c in waiting), default=None)
                made.append(Backlog(key=kind, ts=now, id=f"backlog:{kind}:{minute}", open=len(waiting),
                                    oldest_ts=oldest))  # fmt: skip
    return made


def reconciled_before(store: sdk.ReadModel, channel: str, day: str) -> bool:
    """Whether ``channel``'s ``day`` was reconciled (by the dispatcher or by hand)."""
    since = day_bounds(dt.date.fromisoformat(day))[0]  # a day's run is recorded after it starts
    done = store.find_events(["paylater.reconciled"], keys=[f"recon:{channel}"], start=since)
    return any(getattr(e, "day", "") == day for e in done)


def count(store: sdk.ReadModel, name: str, lot: str, start: int, end: int) -> int:
    """A per-partition counter of ``lot`` (keys ``<lot>#p<n>``) summed over ``[start, end)``."""
    total = 0.0
    for key in store.metric_keys(name):
        if key.split("#", 1)[0] == lot:
            total += sum(v for _, v in store.metric_series(name, key, start, end, MINUTE, "sum"))
    return int(total)


def servers(rt: sdk.Runtime[PaylaterSettings, PaylaterWorld]) -> list[Dispatcher]:
    return [Dispatcher(rt)] if rt.settings.dispatcher else []

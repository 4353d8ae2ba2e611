"""``paylater.sessions``: every plate's sessions, bindings, orders and money, in event order.

Everything here is decided from the events and event time alone (an entry is orphaned when the
partition's event time passes ``orphan_after``, not the wall clock), so a replay after a crash
makes the same decisions, and the pipeline commits the state, the ledger postings and the
checkpoint together: a session is settled exactly once however often its events arrive.
See sessions.py for the life of a session and the ledger transactions.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater import rules
from citybrain.scenes.paylater.clinic import CLINIC_ORDER  # orders of clinic bills: not parking's
from citybrain.scenes.paylater.events import (
    Binding,
    GateConfirm,
    GateRead,
    OrderAnswer,
    PaymentNotice,
    Reconciled,
    Review,
)
from citybrain.scenes.paylater.sessions import (
    Caps,
    OpenHeaps,
    Order,
    Plate,
    Session,
    SessionsState,
    exit_decision,
    order_id,
    refund_id,
    session_id,
    session_of_order,
)
from citybrain.scenes.paylater.settings import PaylaterSettings

PaylaterEvent = GateRead | GateConfirm | Binding | OrderAnswer | PaymentNotice | Review | Reconciled
Fee = Callable[[str, int, int, bool], int]  # (lot, entry ms, exit ms, new energy) -> fen
MINUTE = 60_000
COUNTS_KEPT_MS = 2 * 3_600_000  # minutes of exit counts kept in the state (the metrics stay)
SEEN_KEPT = 500  # provider movements remembered per plate (repeats come within minutes)
UNTRUSTED = ("low_confidence", "bad_plate")  # reasons a read is held: it binds nothing
DUPLICATE_ENTRY_MS = 120_000  # a second entry read this soon at the same lot is the same car
PENDING_SHARDS = 32  # the pending orders are published in this many states per partition


def pending_shard(order: str) -> int:
    """The shard of ``paylater.pending`` an order is published in (a commit rewrites the shards
    of the orders it changed, not every pending order)."""
    return (
        zlib.crc32(order.encode()) % PENDING_SHARDS
    )  # a second entry read this soon at the same lot is the same car


class Sessions(sdk.Processor[SessionsState, PaylaterEvent]):
    name = "paylater.sessions"
    kinds = (GateRead, GateConfirm, Binding, OrderAnswer, PaymentNotice, Review, Reconciled)
    state_type = SessionsState
    # every plate seen and every order pending: a commit writes only the entries its batch touched
    keyed = ("plates", "orders", "open_since")
    config: PaylaterSettings

    def __init__(self, partition: int, settings: PaylaterSettings, world: Any) -> None:
        super().__init__(partition, settings)
        self.fee: Fee = world.fee_fen
        self.caps = Caps(settings.max_arrears_count, settings.max_arrears_fen)
        self.channels = frozenset(settings.channels)
        self.orphan_ms = sdk.duration_ms(settings.orphan_after)
        self._plates: set[str] = set()
        self._sessions: set[tuple[str, str]] = set()
        self._orders: set[str] = set()  # orders the batch placed, answered or withdrew
        self._forgotten: set[str] = set()  # orders of erased plates: their shards published again
        self._open = OpenHeaps()
        self._ts = 0  # the batch's latest event time (the time of the states it writes)

    # -- the batch -------------------------------------------------------------------------------
    def process(self, batch: Sequence[tuple[int, PaylaterEvent]], out: sdk.Emitter) -> None:
        self._plates, self._sessions, self._orders = set(), set(), self._forgotten
        self._forgotten = set()
        self._counted: set[str] = set()
        if self.state.opened:  # the first batch after an upgrade from a checkpoint with heaps
            self._open.carry_over(self.state)
        for _, ev in batch:
            self._ts = max(self._ts, ev.ts)
            if isinstance(ev, GateRead | GateConfirm):
                self._lot_time(ev.lot, ev.ts if isinstance(ev, GateRead) else ev.read_ts, out)
            handler = self._handlers[type(ev)]
            handler(self, ev, out)
        self._publish(out)

    def _publish(self, out: sdk.Emitter) -> None:
        counts = self.state.counts
        for ck in self._counted:
            name, key, minute = ck.split("|")
            out.metric(name, key, int(minute), counts[ck])
        if self._counted:
            newest = max(int(ck.rsplit("|", 1)[1]) for ck in counts)
            for ck in [ck for ck in counts if int(ck.rsplit("|", 1)[1]) < newest - COUNTS_KEPT_MS]:
                del counts[ck]
        plates = self.state.plates
        for key in self._plates:
            out.state("paylater", key, self._ts, sdk_builtins(plates[key].view()))
        for key, sid in self._sessions:
            out.state("paylater.session", sid, self._ts, plates[key].sessions[sid].view(key))
        if self._orders:  # the shards of the pending orders that changed, each whole
            touched = {pending_shard(oid) for oid in self._orders}
            shards: dict[int, dict[str, Any]] = {b: {} for b in touched}
            orders = self.state.orders
            for oid in orders:
                if (b := pending_shard(oid)) in touched:
                    key, o = orders[oid]
                    shards[b][oid] = {"plate": key, **sdk_builtins(o)}
            for b, pending in shards.items():
                out.state("paylater.pending", f"p{self.partition}.{b}", self._ts, pending)

    def forget(self, key: str) -> bool:
        """The plate's entry, and its orders and open sessions (kept by order and session id)."""
        found = super().forget(key)
        orders = [oid for oid in self.state.orders if self.state.orders[oid][0] == key]
        opened = [sid for sid in self.state.open_since if self.state.open_since[sid][2] == key]
        for oid in orders:
            del self.state.orders[oid]
        self._forgotten.update(orders)  # the next batch publishes their shards without them
        for sid in opened:
            del self.state.open_since[sid]
        return found or bool(orders or opened)

    def _plate(self, key: str) -> Plate:
        self._plates.add(key)
        return self.state.plates.setdefault(key, Plate())

    def _touch(self, key: str, s: Session) -> None:
        self._plates.add(key)
        self._sessions.add((key, s.id))

    # -- gate reads ------------------------------------------------------------------------------
    def _count(self, ev: GateRead) -> None:
        """A read at the gate; an exit, and whether the car left without stopping (opened at once). Each
        partition counts its own plates (a metric's value is replaced, never added to), so the
        keys carry the partition: ``<lot>#p<n>``, ``all#p<n>``; readers sum them (api.exit_series)."""
        minute = ev.ts - ev.ts % MINUTE
        names = ["paylater.reads"]
        if ev.direction == "exit":
            names += (
                ["paylater.exits", "paylater.exits_open"] if ev.decision == "open" else ["paylater.exits"]
            )
        for name in names:
            for key in (f"{ev.lot}#p{self.partition}", f"all#p{self.partition}"):
                ck = f"{name}|{key}|{minute}"
                self.state.counts[ck] = self.state.counts.get(ck, 0) + 1
                self._counted.add(ck)

    def _gate(self, ev: GateRead, out: sdk.Emitter) -> None:
        self._count(ev)
        if not ev.plate or (ev.decision == "hold" and ev.reason in UNTRUSTED):
            # never binds a charge: an operator confirms the plate from the picture (GateConfirm)
            self._held(ev.id, ev.key, ev.lot, ev.direction, ev.ts, ev.reason, out, gate=ev.gate,
                       plate_read=ev.plate_read, confidence=ev.confidence, image=ev.image)  # fmt: skip
            return
        if ev.direction == "entry":
            self._entry(ev.key, ev.lot, ev.id, ev.ts, ev.new_energy, out)
        else:
            self._exit(ev.key, ev.lot, ev.id, ev.ts, ev.decision, out)

    @staticmethod
    def _held(event: str, key: str, lot: str, direction: str, ts: int, reason: str, out: sdk.Emitter,
              **seen: Any) -> None:  # fmt: skip
        """A read an operator must decide: its alert opens a ``paylater.held`` case carrying what
        the gate saw (the picture as the case's photo)."""
        about = {"key": key, "gate_event": event, "lot": lot, "direction": direction, "read_ts": ts,
                 "reason": reason, **seen}  # fmt: skip
        image = seen.get("image")
        out.signal(rules.HELD, event, ts, True, message=f"{lot}: {seen.get('plate_read', key)} {reason}",
                   data={**about, "case_fields": about, "photos": [image] if image else []})  # fmt: skip

    def _confirm(self, ev: GateConfirm, out: sdk.Emitter) -> None:
        done = f"confirmed as {ev.plate}" if ev.action == "confirm" else "dismissed"
        out.signal(rules.HELD, ev.gate_event, ev.ts, False, message=f"{done} by {ev.by}")
        if ev.action == "dismiss":
            return
        if ev.key != ev.plate:  # held under the misread: on to the confirmed plate's partition
            out.event(msgspec.structs.replace(ev, key=ev.plate, id=f"{ev.id}>{ev.plate}"))
            return
        if ev.direction == "entry":
            self._entry(ev.key, ev.lot, ev.gate_event, ev.read_ts, ev.new_energy, out)
        else:
            self._exit(ev.key, ev.lot, ev.gate_event, ev.read_ts, "", out)

    def _entry(self, key: str, lot: str, event: str, ts: int, nev: bool, out: sdk.Emitter) -> None:
        p = self._plate(key)
        sid = session_id(lot, key, event)
        if sid in p.sessions:
            return  # this entry again
        same = p.open.get(lot)
        if same is not None and 0 <= ts - p.sessions[same].entry_ts < DUPLICATE_ENTRY_MS:
            return  # the same car read twice at the barrier
        for other in list(p.open.values()):
            # the car is entering somewhere: any session still open missed its exit
            self._review(key, p, p.sessions[other], "missed_exit", ts, out)
        p.sessions[sid] = Session(sid, lot, event, ts, nev)
        p.open[lot] = sid
        self._open.push(self.state, lot, ts, key, sid)
        self._touch(key, p.sessions[sid])
        self._prune(p)

    def _exit(self, key: str, lot: str, event: str, ts: int, decision: str, out: sdk.Emitter) -> None:
        p = self._plate(key)
        sid = p.open.get(lot)
        if sid is None:
            # a read again after leaving (paid at the gate, or a second camera) was answered from the
            # session it closed: only an exit the gate held has nothing to go on
            if decision == "hold" and not any(s.exit_event == event for s in p.sessions.values()):
                self._held(event, key, lot, "exit", ts, "no_entry", out, plate_read=key)
            return
        s = p.sessions[sid]
        if decision == "hold":
            # the gate found no entry (it read the state before the entry was processed): the car
            # waits at the barrier, so the booth decides; the session stays open until it confirms
            self._held(event, key, lot, "exit", ts, "no_entry", out, plate_read=key, session=sid)
            return
        if ts < s.entry_ts:
            return  # an exit read before its own entry: a clock or order fault, left to the operator
        del p.open[lot]
        s.exit_event, s.exit_ts = event, ts
        s.fee = self.fee(lot, s.entry_ts, ts, s.new_energy)
        if not decision:  # a confirmed read: decide now as the gate would have
            decision, _ = exit_decision(p.view(), s.fee, self.caps, self.channels)
        self._touch(key, s)
        if s.fee == 0:
            s.status, s.reason = "free", "free"
            return
        bound = bool(p.payer and p.consent and p.channel in self.channels)
        s.payer = f"payer:{p.payer}" if bound else f"plate:{key}"
        s.status, s.reason = ("due", "pay_later") if decision == "open" else ("awaiting", "pay_at_gate")
        out.post(f"accrue:{sid}", ts, "accrual", sid, [(s.payer, s.fee), (f"lot:{lot}", -s.fee)])
        if s.status == "due" and bound:
            self._charge(key, p, s, ts)

    # -- review ----------------------------------------------------------------------------------
    def _lot_time(self, lot: str, ts: int, out: sdk.Emitter) -> None:
        """A read at ``lot`` moves its clock: the sessions opened there more than ``orphan_after``
        before it are orphaned (before the read itself is handled, so an exit weeks later finds
        its session already in review rather than billing the weeks)."""
        now = max(self.state.clocks.get(lot, ts), ts)
        self.state.clocks[lot] = now
        for key, sid in self._open.pop_stale(self.state, lot, now - self.orphan_ms + 1):
            p = self.state.plates.get(key)
            if p is not None and p.open.get(lot) == sid:
                self._review(key, p, p.sessions[sid], "orphaned", now, out)

    def _review(self, key: str, p: Plate, s: Session, why: str, ts: int, out: sdk.Emitter) -> None:
        """An entry without its exit: never billed by itself. Priced at most ``orphan_cap_fen``
        (the time up to now, or to the horizon) and put to an operator."""
        del p.open[s.lot]
        until = min(ts, s.entry_ts + self.orphan_ms)
        s.fee = min(
            self.fee(s.lot, s.entry_ts, max(until, s.entry_ts), s.new_energy), self.config.orphan_cap_fen
        )
        s.status, s.reason = "review", why
        self._touch(key, s)
        about = {"lot": s.lot, "plate": key, "session": s.id, "reason": why, "fee_fen": s.fee,
                 "entry_ts": s.entry_ts}  # fmt: skip
        out.signal(rules.REVIEW, s.id, ts, True, message=f"{s.lot}: {key} {why}",
                   data={**about, "case_fields": about})  # fmt: skip

    def _decide(self, ev: Review, out: sdk.Emitter) -> None:
        p = self._plate(ev.key)
        s = p.sessions.get(ev.session)
        if s is not None and ev.action == "refund":
            self._refund(ev, s, out)
            return
        if s is None or s.status != "review":
            return
        out.signal(rules.REVIEW, s.id, ev.ts, False, message=f"{ev.action} by {ev.by}: {ev.note}")
        self._touch(ev.key, s)
        if ev.action == "waive":
            s.status, s.fee = "waived", 0
            return
        if ev.fee_fen == 0:
            return  # a bill of nothing is no decision (caseflow never sends one)
        bound = bool(p.payer and p.consent and p.channel in self.channels)
        s.fee, s.status = min(ev.fee_fen, self.config.orphan_cap_fen), "due"
        s.payer = f"payer:{p.payer}" if bound else f"plate:{ev.key}"
        out.post(f"accrue:{s.id}", ev.ts, "accrual", s.id, [(s.payer, s.fee), (f"lot:{s.lot}", -s.fee)])
        if bound:
            self._charge(ev.key, p, s, ev.ts)

    def _refund(self, ev: Review, s: Session, out: sdk.Emitter) -> None:
        """A disputed charge refunded by an operator's decision: the lot gives back (part of) what
        the session was paid, at most what is left of it; the provider returns it to the payer."""
        amount = min(ev.fee_fen, s.fee - s.refunded) if s.status == "settled" else 0
        if amount <= 0 or (ev.case or ev.id) in s.disputes:
            return  # nothing left to give back, or this decision was carried out already
        s.refunded += amount
        s.disputes.append(ev.case or ev.id)
        self._touch(ev.key, s)
        ref = ev.case or s.id
        out.post(f"dispute:{ref}", ev.ts, "dispute_refund", s.id, [(f"lot:{s.lot}", amount),
                 ("clearing:refunds", -amount)], f"{s.settled_order}||")  # fmt: skip
        r = Order(refund_id(f"dispute:{ref}"), "refund", s.id, amount, s.settled_channel,
                  refund_of=s.settled_order, ts=ev.ts)  # fmt: skip
        self.state.orders[r.id] = (ev.key, r)
        self._orders.add(r.id)

    # -- accounts --------------------------------------------------------------------------------
    def _binding(self, ev: Binding, out: sdk.Emitter) -> None:
        p = self._plate(ev.key)
        if ev.action == "bind" and p.payer in ("", ev.payer):
            p.payer, p.channel, p.consent = ev.payer, ev.channel, ev.consent
        elif ev.action == "unbind" and p.payer == ev.payer:
            p.payer, p.channel, p.consent = "", "", ""

    # -- money -----------------------------------------------------------------------------------
    def _charge(self, key: str, p: Plate, s: Session, ts: int) -> None:
        """Place a payment order for the session with the bound payer's channel (the dispatcher
        sends it; the provider takes one order id once). ``ts``: the event that caused it (so a
        replay makes the same order)."""
        s.attempts += 1
        o = Order(order_id(s.id, s.attempts), "payment", s.id, s.fee, p.channel, p.payer, ts=ts)
        self.state.orders[o.id] = (key, o)
        s.orders.append(o.id)
        self._orders.add(o.id)

    def _answer(self, ev: OrderAnswer, out: sdk.Emitter) -> None:
        if ev.order.startswith(CLINIC_ORDER):
            return
        held = self.state.orders.get(ev.order)
        if ev.status in ("requested", "accepted"):
            settled = self._settled(ev.key, ev.session)
            if held is None and ev.status == "requested" and ev.movement == "payment" and not settled:
                # the cashier's: recorded before it is placed (requested), so after a crash the
                # dispatcher places it again (the provider takes its id once) and asks after it
                order = Order(ev.order, "payment", ev.session, ev.amount_fen, ev.channel, ev.payer,
                              status=ev.status, ts=ev.ts)  # fmt: skip
                self.state.orders[ev.order] = (ev.key, order)
                plate = self.state.plates.get(ev.key)
                if plate is not None and ev.session in plate.sessions:
                    plate.sessions[ev.session].orders.append(ev.order)
            elif held is not None and ev.status == "accepted":
                held[1].status = "accepted"
        elif held is not None:
            del self.state.orders[ev.order]
            if ev.movement == "refund":
                out.signal(
                    rules.REFUND_FAILED,
                    ev.order,
                    ev.ts,
                    True,
                    message=ev.reason,
                    data={"order": ev.order, "session": held[1].session, "amount_fen": held[1].amount},
                )
        self._orders.add(ev.order)

    def _settled(self, key: str, session: str) -> bool:
        p = self.state.plates.get(key)
        s = p.sessions.get(session) if p is not None else None
        return s is not None and s.status not in ("due", "awaiting")

    def _notice(self, ev: PaymentNotice, out: sdk.Emitter) -> None:
        if ev.order.startswith(CLINIC_ORDER):
            return  # a clinic bill's repayment: paylater.clinic books it
        movement = f"{ev.channel}:{ev.channel_txn or ev.order}"
        p = self._plate(ev.key)
        held = self.state.orders.pop(ev.refund or ev.order, None)
        if held is not None:
            self._orders.add(ev.refund or ev.order)
        if ev.status == "failed" or ev.amount_fen == 0:
            if ev.movement == "refund" and ev.status == "failed":
                out.signal(
                    rules.REFUND_FAILED,
                    ev.refund,
                    ev.ts,
                    True,
                    message=ev.reason,
                    data={"order": ev.order, "refund": ev.refund, "amount_fen": ev.amount_fen},
                )
            return  # a failed payment leaves the session owed (arrears, if the car has left); 0 moved nothing
        if movement in p.seen:
            return
        p.seen.append(movement)
        del p.seen[:-SEEN_KEPT]
        channel = f"channel:{ev.channel}"
        # the provider's ids of the movement: what T+1 reconciliation matches the statement by
        memo = f"{ev.order}|{ev.refund}|{ev.channel_txn}"
        if ev.movement == "refund":
            lines = [("clearing:refunds", ev.amount_fen), (channel, -ev.amount_fen)]
            out.post(f"refund:{ev.refund}", ev.ts, "refund", session_of_order(ev.order), lines, memo)
            return
        sid = session_of_order(ev.order)
        s = p.sessions.get(sid)
        if s is not None and s.status in ("due", "awaiting") and ev.amount_fen == s.fee:
            out.post(f"settle:{sid}", ev.ts, "payment", sid, [(channel, s.fee), (s.payer, -s.fee)], memo)
            s.status, s.settled_by, s.settled_channel = "settled", movement, ev.channel
            s.settled_order = ev.order
            for oid in s.orders:  # the session's own orders: not a scan of every pending one
                held = self.state.orders.get(oid)
                if held is not None and held[1].kind == "payment" and held[1].status == "requested":
                    del self.state.orders[oid]  # not placed yet: never will be (paid another way)
                    self._orders.add(oid)
            self._touch(ev.key, s)
            return
        # a payment of a session already settled (QR at the gate and ETC at the exit), waived, unknown,
        # or of another amount: never kept, refunded at once
        lines = [(channel, ev.amount_fen), ("clearing:refunds", -ev.amount_fen)]
        out.post(f"dup:{movement}", ev.ts, "duplicate", sid, lines, memo)
        r = Order(refund_id(movement), "refund", sid, ev.amount_fen, ev.channel, refund_of=ev.order, ts=ev.ts)
        self.state.orders[r.id] = (ev.key, r)
        self._orders.add(r.id)
        out.signal(
            rules.DUPLICATE,
            movement,
            ev.ts,
            True,
            message=f"{ev.amount_fen} fen paid again for {sid} by {ev.channel}: refunded",
            data={"session": sid, "order": ev.order, "refund": r.id, "amount_fen": ev.amount_fen},
        )

    def _reconciled(self, ev: Reconciled, out: sdk.Emitter) -> None:
        counts = ", ".join(f"{k} {v}" for k, v in ev.counts.items() if v and k != "matched")
        about = {"channel": ev.channel, "day": ev.day, "counts": ev.counts, "run": ev.id}
        data = {**about, "case_fields": about}
        message = f"{ev.channel} {ev.day}: {counts or 'clean'}"
        out.signal(rules.RECONCILIATION, ev.channel, ev.ts, not ev.clean, message=message, data=data)

    def _prune(self, p: Plate) -> None:
        done = [s for s in p.sessions.values() if s.status in ("free", "settled", "waived")]
        for s in sorted(done, key=lambda s: s.exit_ts)[: max(0, len(done) - self.config.sessions_kept)]:
            del p.sessions[s.id]

    _handlers: ClassVar[dict[type, Callable[[Sessions, Any, sdk.Emitter], None]]] = {
        GateRead: _gate,
        GateConfirm: _confirm,
        Binding: _binding,
        OrderAnswer: _answer,
        PaymentNotice: _notice,
        Review: _decide,
        Reconciled: _reconciled,
    }


def sdk_builtins(obj: object) -> dict[str, Any]:
    built = msgspec.to_builtins(obj)
    assert isinstance(built, dict)
    return built

"""Parking sessions and their money, per plate: the state the ``paylater.sessions`` processor keeps,
the gate's exit decision, and every rule that makes a session charged exactly once.

A session is one (lot, plate, entry event). Its life::

    open --exit, fee 0 / pass-------------------------------> free
    open --exit, bound, under the caps (leave first)--------> due -----payment----> settled
    open --exit, otherwise (pay at the gate)----------------> awaiting --payment--> settled
    open --no exit for orphan_after, or a newer entry-------> review --bill-> due | --waive-> waived

Money (fen, integer) goes through the double-entry ledger in the same commit as the change:
``accrue:<session>`` (payer owes the lot) when the fee is known, ``settle:<session>`` (the channel
holds the payer's money) at the first successful payment, whatever its channel; any other payment
of the session is a duplicate, posted to ``clearing:refunds`` and refunded automatically
(``dup:<movement>``, then ``refund:<refund>`` once the provider confirms). The ledger's primary key
on the transaction id is the last guard: no session can be settled twice.
"""

from __future__ import annotations

import hashlib
import heapq

import msgspec

from citybrain.scenes.paylater.events import Decision

Status = str  # open | free | due | awaiting | settled | review | waived


def session_id(lot: str, plate: str, entry_event: str) -> str:
    """The session of one (lot, plate, entry event): stable, short, safe as a provider order id."""
    return hashlib.blake2b(f"{lot}|{plate}|{entry_event}".encode(), digest_size=8).hexdigest()


def refund_id(movement: str) -> str:
    """The refund of a duplicate payment: one per provider movement, whatever repeats its notice."""
    return "R" + hashlib.blake2b(movement.encode(), digest_size=8).hexdigest()


def order_id(session: str, attempt: int) -> str:
    """A payment attempt of a session at a provider (a failed order id is not reusable there)."""
    return f"{session}-{attempt}"


def session_of_order(order: str) -> str:
    return order.rsplit("-", 1)[0]


class Session(msgspec.Struct):
    id: str
    lot: str
    entry_event: str
    entry_ts: int
    new_energy: bool = False
    status: Status = "open"
    exit_event: str = ""
    exit_ts: int = 0
    fee: int = 0  # fen owed (known at the exit, or set by review)
    payer: str = ""  # the ledger account that owes it
    reason: str = ""  # why the status: pay_later, pay_at_gate, orphaned, missed_exit, ...
    attempts: int = 0  # payment orders placed for it
    settled_by: str = ""  # the provider movement that settled it
    settled_channel: str = ""
    settled_order: str = ""  # the provider's order that settled it (a refund returns its money)
    refunded: int = 0  # fen returned after a dispute
    disputes: list[str] = msgspec.field(default_factory=list)  # the cases that refunded some
    orders: list[str] = msgspec.field(default_factory=list)  # its payment orders placed or to place

    def view(self, plate: str) -> dict[str, object]:
        return {"plate": plate, **msgspec.to_builtins(self)}


class Order(msgspec.Struct):
    """A payment or refund placed (or to be placed) with a provider by the dispatcher."""

    id: str
    kind: str  # payment | refund
    session: str
    amount: int
    channel: str
    payer: str = ""
    refund_of: str = ""  # a refund: the order whose movement it returns
    status: str = "requested"  # requested | accepted | success | failed
    ts: int = 0


class Plate(msgspec.Struct):
    payer: str = ""  # the bound payer (empty: none)
    channel: str = ""  # the bound payer's channel
    consent: str = ""  # the signed 免密 agreement
    open: dict[str, str] = msgspec.field(default_factory=dict)  # lot -> open session
    sessions: dict[str, Session] = msgspec.field(default_factory=dict)
    seen: list[str] = msgspec.field(default_factory=list)  # provider movements already applied

    def arrears(self) -> tuple[int, int]:
        """Sessions left unpaid after leaving first, and what they owe (fen)."""
        owed = [s.fee for s in self.sessions.values() if s.status == "due"]
        return len(owed), sum(owed)

    def view(self) -> PlateView:
        count, owed = self.arrears()
        opened = {lot: OpenView(sid, self.sessions[sid].entry_ts, self.sessions[sid].new_energy)
                  for lot, sid in self.open.items()}  # fmt: skip
        closed: dict[str, ClosedView] = {}
        for s in sorted(self.sessions.values(), key=lambda s: s.exit_ts):
            if s.exit_ts:
                closed[s.lot] = ClosedView(s.id, s.status, s.fee, s.exit_ts)
        recent = [s.id for s in sorted(self.sessions.values(), key=lambda s: s.entry_ts, reverse=True)]
        return PlateView(self.payer, self.channel, bool(self.consent), count, owed, opened, closed, recent)


class OpenView(msgspec.Struct, array_like=True):
    session: str
    entry_ts: int
    new_energy: bool


class ClosedView(msgspec.Struct, array_like=True):
    session: str
    status: str
    fee: int
    exit_ts: int


class PlateView(msgspec.Struct):
    """A plate as the gate sees it (its entity state, scene ``paylater``): who pays, what it owes,
    its open sessions, and per lot its last session that passed the exit (so a car that paid at
    the gate is let out when it is read again)."""

    payer: str = ""
    channel: str = ""
    consent: bool = False
    arrears_count: int = 0
    arrears_fen: int = 0
    open: dict[str, OpenView] = msgspec.field(default_factory=dict)
    closed: dict[str, ClosedView] = msgspec.field(default_factory=dict)  # lot -> its last exited session
    sessions: list[str] = msgspec.field(default_factory=list)  # the sessions kept, newest first


class SessionsState(msgspec.Struct):
    plates: dict[str, Plate] = msgspec.field(default_factory=dict)
    orders: dict[str, tuple[str, Order]] = msgspec.field(
        default_factory=dict
    )  # pending: id -> (plate, order)
    # every session opened and not yet looked at by the orphan sweep: session -> (lot, entry ms,
    # plate), written once when it opens and dropped when its horizon passes (a keyed field: a
    # commit writes only these changes); the per-lot heaps over it live in memory (OpenHeaps).
    # Orphans are found by each lot's own clock (the latest read of its gates), so a lot that
    # uploads reads it buffered while offline is judged by its reads, not by other lots' time
    open_since: dict[str, tuple[str, int, str]] = msgspec.field(default_factory=dict)
    # a checkpoint of the version before open_since: per lot, a heap of (entry ms, plate, session);
    # carried into open_since by the first batch after the upgrade (OpenHeaps.carry_over)
    opened: dict[str, list[tuple[int, str, str]]] = msgspec.field(default_factory=dict)
    clocks: dict[str, int] = msgspec.field(default_factory=dict)
    # exits per minute ("<metric>|<lot or all>|<minute ms>" -> count): the big screen's rates
    counts: dict[str, int] = msgspec.field(default_factory=dict)


class OpenHeaps:
    """Per lot, a heap of (entry ms, plate, session) over ``SessionsState.open_since``: which
    sessions to look at as the lot's clock passes their horizon. Derived from the state, never
    checkpointed: rebuilt whenever the state's dict is another object (a restore, a rollback)."""

    def __init__(self) -> None:
        self._of: dict[str, tuple[str, int, str]] | None = None
        self._heaps: dict[str, list[tuple[int, str, str]]] = {}

    def _over(self, state: SessionsState) -> dict[str, list[tuple[int, str, str]]]:
        if self._of is not state.open_since:
            heaps: dict[str, list[tuple[int, str, str]]] = {}
            for sid, (lot, entry_ts, plate) in dict.items(state.open_since):  # a read: nothing to write
                heaps.setdefault(lot, []).append((entry_ts, plate, sid))
            for heap in heaps.values():
                heapq.heapify(heap)
            self._of, self._heaps = state.open_since, heaps
        return self._heaps

    @staticmethod
    def carry_over(state: SessionsState) -> None:
        """The sessions an earlier version's checkpoint kept in its per-lot heaps, into open_since."""
        for lot, heap in state.opened.items():
            for entry_ts, plate, sid in heap:
                state.open_since.setdefault(sid, (lot, entry_ts, plate))
        state.opened.clear()

    def push(self, state: SessionsState, lot: str, entry_ts: int, plate: str, session: str) -> None:
        heaps = self._over(state)
        state.open_since[session] = (lot, entry_ts, plate)
        heapq.heappush(heaps.setdefault(lot, []), (entry_ts, plate, session))

    def pop_stale(self, state: SessionsState, lot: str, before: int) -> list[tuple[str, str]]:
        """(plate, session) of the sessions opened at ``lot`` before ``before``, taken off (the
        caller checks each is still open: closed ones stay until their horizon passes)."""
        heap = self._over(state).get(lot, [])
        out: list[tuple[str, str]] = []
        while heap and heap[0][0] < before:
            _, plate, sid = heapq.heappop(heap)
            if state.open_since.pop(sid, None) is not None:
                out.append((plate, sid))
        return out


class Caps(msgspec.Struct, frozen=True):
    count: int
    fen: int


def exit_decision(
    plate: PlateView | None, fee: int, caps: Caps, channels: frozenset[str]
) -> tuple[Decision, str]:
    """The gate's answer at an exit whose session and fee are known: (decision, reason).

    Free stays open the barrier. A plate bound to a payer with signed consent, on a channel this
    platform has, whose arrears stay under both caps, leaves first (the charge follows); any other
    pays at the gate. The caps hold at every lot: the arrears are the plate's, not the lot's."""
    if fee == 0:
        return "open", "free"
    if plate is None or not plate.payer or not plate.consent or plate.channel not in channels:
        return "pay", "pay_at_gate"
    if plate.arrears_count >= caps.count or plate.arrears_fen + fee > caps.fen:
        return "pay", "arrears_cap"
    return "open", "pay_later"

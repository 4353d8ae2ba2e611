"""Pay-later events. Parking events are keyed by the normalised plate (a read that is not a plate
is keyed ``unread:<lot>``), so one processor partition sees every session, binding and payment of
a plate in order; clinic events are keyed by the patient.

The gate's decision travels inside the gate event: the gate is answered only once the event (and
so the decision) is durable, and the processor settles what the gate was told.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

from citybrain.sdk import Event

Decision = Literal["open", "pay", "hold"]
Fen = Annotated[int, msgspec.Meta(ge=0, le=10**10, description="an amount in fen (分)")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class GateRead(Event, tag="paylater.gate"):
    """A camera at a lot's gate read a plate (entry or exit), and what the gate was told."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    lot: Name
    gate: Name
    direction: Literal["entry", "exit"]
    plate_read: Annotated[str, msgspec.Meta(max_length=32, description="the plate as the camera read it")]
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)]
    colour: Annotated[str, msgspec.Meta(max_length=16)] = ""
    lane: Annotated[str, msgspec.Meta(max_length=32)] = ""
    image: Annotated[str, msgspec.Meta(max_length=512, description="a reference to the picture")] = ""
    plate: Annotated[str, msgspec.Meta(max_length=16, description="normalised; empty: not a plate")] = ""
    new_energy: bool = False
    decision: Decision = "hold"
    reason: str = ""  # why: free, pay_later, pay_at_gate, paid, low_confidence, bad_plate, no_entry ...
    session: str = ""  # the session the read belongs to (an entry opens it)
    fee_fen: Fen = 0  # the fee quoted at the gate (an exit)


class GateConfirm(Event, tag="paylater.confirm"):
    """An operator confirmed the plate of a held read from its picture (or dismissed the read: no
    car, a false read); a confirmed read is then treated as a trusted read of that plate.

    Keyed as the held read was (its alert is in that partition); the processor resolves the alert
    there and passes the confirmation on, keyed by the confirmed ``plate``."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    gate_event: Name  # the id of the held GateRead
    plate: Annotated[str, msgspec.Meta(max_length=16)]  # empty when dismissed
    lot: Name
    direction: Literal["entry", "exit"]
    read_ts: int  # when the car passed the gate (the held read's time)
    action: Literal["confirm", "dismiss"] = "confirm"
    new_energy: bool = False
    by: str = ""


class Binding(Event, tag="paylater.binding"):
    """A payer bound a plate (with signed consent to charge without a password, 免密) or unbound it."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    action: Literal["bind", "unbind"]
    payer: Name
    channel: Name = "wechat"
    consent: Annotated[str, msgspec.Meta(max_length=128, description="the signed 免密 agreement's id")] = ""


class OrderAnswer(Event, tag="paylater.answer"):
    """What a provider answered when an order (payment or refund) was placed with it; or, with
    ``requested``, an order the cashier is about to place (recorded first, so it is followed even
    if the platform dies before the provider answers)."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    order: Name
    movement: Literal["payment", "refund"]
    channel: Name
    status: Literal["requested", "accepted", "failed"]
    session: str = ""
    amount_fen: Fen = 0
    payer: str = ""
    reason: str = ""


class PaymentNotice(Event, tag="paylater.notice"):
    """A provider's verified notice (or the answer to a query) of a payment or refund's outcome.
    Its id is the provider's movement id with the outcome, so repeats are stored once."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    channel: Name
    movement: Literal["payment", "refund"]
    order: Name
    amount_fen: Fen
    status: Literal["success", "failed"]
    refund: str = ""
    channel_txn: str = ""
    reason: str = ""
    via: Literal["notify", "query", "statement"] = "notify"  # statement: found only at reconciliation


class Review(Event, tag="paylater.review"):
    """An operator's decision on a session (a case's action, passed on by ``paylater.cases``):
    bill or waive one in review; refund (part of) a disputed one that was paid."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    session: Name
    action: Literal["bill", "waive", "refund"]
    fee_fen: Fen = 0  # bill: the fee; refund: the amount returned
    case: str = ""  # the case that decided it
    by: str = ""
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class Reconciled(Event, tag="paylater.reconciled"):
    """A T+1 reconciliation of one channel's day: the platform's movements on the ledger against
    the provider's statement, in three buckets (matched, platform only, channel only) plus amount
    mismatches and duplicates; ``report`` lists the mismatches (at most 200 of each). Keyed
    ``recon:<channel>``; its id is the channel and day, so a day is recorded once per run kind."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    channel: Name
    day: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    clean: bool
    counts: dict[str, int]
    totals_fen: dict[str, int]
    report: dict[str, Any]


class LotActivity(Event, tag="paylater.lot_activity"):
    """How many plate reads a lot's gates sent in the last ``window_ms`` (every partition's count
    summed by the payment gateway each minute), and whether it sent any in the day before: a lot
    that was busy and falls silent has lost its cameras or its line. Keyed by the lot."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    reads: Annotated[int, msgspec.Meta(ge=0)]
    window_ms: Annotated[int, msgspec.Meta(gt=0)]
    active_before: bool


class Backlog(Event, tag="paylater.backlog"):
    """How many cases of a kind wait for an operator (open), counted by the payment gateway each
    minute. Keyed by the case type."""

    scene: ClassVar[str] = "paylater"
    internal: ClassVar[bool] = True  # only the scene's routes, gateway and processors make it
    open: Annotated[int, msgspec.Meta(ge=0)]
    oldest_ts: int | None = None

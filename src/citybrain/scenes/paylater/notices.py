"""A provider's notice as the event the processor reads, and the partition it goes to (the
plate of the session it pays), whether it came by the notify route, a query or a statement."""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.paylater.channels import Notice
from citybrain.scenes.paylater.clinic import CLINIC_ORDER, patient_of_order
from citybrain.scenes.paylater.events import PaymentNotice
from citybrain.scenes.paylater.sessions import session_of_order

NOTIFY = "/api/v1/scenes/paylater/notify/"  # + the channel: where providers post their notices


def notice_event(n: Notice, key: str, via: str) -> PaymentNotice:
    """A provider's verified notice (or a query's answer) as the event the processor reads; its id
    is the provider's movement and outcome, so a repeat, or a query answering a notice that also
    came, is stored once."""
    movement = n.channel_txn or (n.refund_id if n.kind == "refund" else n.order_id)
    now = sdk.now_ms()
    ts = min(n.ts, now) if n.ts else now  # a provider's clock ahead of ours: never in the future
    return PaymentNotice(
        key=key, ts=ts, id=f"{n.channel}:{n.kind}:{movement}:{n.status}", channel=n.channel,
        movement=n.kind, order=n.order_id, refund=n.refund_id, channel_txn=n.channel_txn,
        amount_fen=max(0, n.amount_fen), status=n.status, reason=n.reason[:200], via=via,  # type: ignore[arg-type]
    )  # fmt: skip


def plate_of_session(store: sdk.ReadModel, session: str) -> str:
    """The plate (the partition key) of a session, or ``unknown`` for an order the platform never
    made: the processor refunds what it cannot match."""
    rows = store.states("paylater.session", session)
    return str(rows[0]["data"]["plate"]) if rows else "unknown"


def session_key(store: sdk.ReadModel, n: Notice) -> str:
    """The partition key of a notice: the patient of a clinic bill's order (``CB-``), else the plate
    of the parking session it pays."""
    if n.order_id.startswith(CLINIC_ORDER):
        return patient_of_order(store, n.order_id)
    return plate_of_session(store, session_of_order(n.order_id))

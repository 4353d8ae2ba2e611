"""Pay-later alert rules: what an operator must look at. A held plate read needs a person at the
gate now; a session in review must never be billed without one; a payment taken twice was
refunded (and is shown); a refund the provider refused needs the money returned another way."""

from __future__ import annotations

from citybrain import sdk

OPS = "nc-data"  # the department the cases go to (casetypes.DEPARTMENT: the operations centre)
HELD = sdk.rule(
    "paylater", "held_read", "车牌待人工确认 / plate read held", clear="0s", case_type="paylater.held",
    case_department=OPS,
    doc="A gate read below min_confidence, not a valid plate, or an exit without an entry: the "
    "barrier stays down and nothing is charged until an operator confirms the plate from the "
    "picture. Opens a paylater.held case; resolves when the case confirms the plate or dismisses "
    "the read.",
)  # fmt: skip
REVIEW = sdk.rule(
    "paylater", "review", "停车记录待复核 / session in review", clear="0s", case_type="paylater.review",
    case_department=OPS,
    doc="An entry without an exit: orphaned after orphan_after, or closed by a newer entry of the "
    "same plate (a missed exit). Priced at most orphan_cap_fen and never billed until an operator "
    "bills or waives it: it opens a paylater.review case and resolves with its decision.",
)  # fmt: skip
DUPLICATE = sdk.rule(
    "paylater", "duplicate_payment", "重复扣费已退款 / duplicate payment refunded", severity="info",
    doc="A session already settled (or waived, or unknown) was paid again, e.g. by QR code at the gate "
    "and by ETC at the exit: the second payment was booked to clearing:refunds and refunded.",
)  # fmt: skip
REFUND_FAILED = sdk.rule(
    "paylater", "refund_failed", "退款失败 / refund failed", severity="major",
    doc="A provider refused or failed a refund (of a duplicate parking payment, a disputed charge or a "
    "clinic overpayment): the money is still held in clearing:refunds and must be returned by hand.",
)  # fmt: skip
RECONCILIATION = sdk.rule(
    "paylater", "reconciliation", "对账不平 / reconciliation mismatch", severity="major", clear="0s",
    case_type="paylater.reconciliation", case_department=OPS,
    doc="The last T+1 reconciliation of a channel found movements only the platform booked (a charge "
    "missing at the provider), only the provider has (handed to the processor: settled or refunded), "
    "amounts that differ, or duplicates. Opens a paylater.reconciliation case; resolves when a later "
    "run of the channel is clean.",
)  # fmt: skip
GATE_SILENT = sdk.rule(
    "paylater", "gate_silent", "出入口无过车数据 / a lot's gates are silent", severity="major", clear="0s",
    update_every="10m",
    doc="A lot whose gates sent reads in the day before sent none for gate_silent_after: its cameras, "
    "its controller or its line are down (cars may be leaving unread: missed exits). Resolves with "
    "the next read. A lot closed at night is silent too: set gate_silent_after longer than its "
    "closing, or empty to turn the rule off.",
)  # fmt: skip
BACKLOG = sdk.rule(
    "paylater", "review_backlog", "待人工处理积压 / operator backlog", clear="0s", update_every="10m",
    doc="More than review_backlog cases of a kind (held reads, sessions in review, disputes) wait for "
    "an operator: call in another operator. Resolves when the queue is back under the limit.",
)  # fmt: skip

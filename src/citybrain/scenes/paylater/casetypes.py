"""The pay-later case types: what an operator of the city's operations centre does about a car
park's money, as work orders with deadlines.

* ``paylater.held`` — 车牌待人工确认: a gate read that cannot bind a charge (below the confidence
  threshold, not a plate, an exit without an entry), opened by its alert; **confirm** the plate
  from the picture (the processor then decides the read as the gate would have) or **dismiss** it
  (no car, a false read). Minutes count: a driver is waiting.
* ``paylater.review`` — 停车记录复核: a session without its exit (orphaned, or closed by a newer
  entry), opened by its alert; **bill** it (at most ``orphan_cap_fen``) or **waive** it. Never
  billed without one of these.
* ``paylater.reconciliation`` — 对账差异: a channel's day that does not reconcile, opened by its
  alert; **resolve** with the finding.
* ``paylater.dispute`` — 收费争议: a driver disputes a charge (``POST /disputes``); answered with the
  session's evidence (every gate read with its picture, the fee's lines, the ledger): **uphold**
  with a reply, or **refund** (part of) what was paid, which the processor books and the
  provider returns.

Roles: 运营值班员 ``operator`` (the operations centre) takes every action; 值班长 ``supervisor``
refunds disputed charges too; a lot's remote booth system (an ``operate`` token) confirms held
reads and decides reviews through ``POST /confirm`` and ``POST /review``.
"""

from __future__ import annotations

from citybrain import sdk

OPERATOR, SUPERVISOR = "operator", "supervisor"
BOOTH = "scope:operate"  # an integration with an operate token: the lot's remote booth system
DEPARTMENT = "nc-data"  # the City Brain operations centre (the demo organisation's 市数据管理局)
PUBLIC = ("lot", "reason")  # never a plate, a payer or a contact
Limit = sdk.Limit


def _final(name: str, title: str) -> sdk.State:
    return sdk.State(name, title, public="closed", final=True)


HELD = sdk.CaseType(
    name="paylater.held",
    title="车牌待人工确认 / plate read to confirm",
    initial="held",
    states=(
        sdk.State("held", "待确认 / to confirm", limit=Limit(0.25, "hours")),
        _final("confirmed", "已确认 / confirmed"),
        _final("dismissed", "无车或误识别 / dismissed"),
    ),
    actions=(
        sdk.Action(
            "confirm", "确认车牌 / confirm the plate", ("held",), "confirmed", (OPERATOR, BOOTH), ("plate",)
        ),
        sdk.Action(
            "dismiss", "无车或误识别 / dismiss", ("held",), "dismissed", (OPERATOR, BOOTH), ("reason_note",)
        ),
    ),
    limit=Limit(0.25, "hours"),
    public_fields=PUBLIC,
)
REVIEW = sdk.CaseType(
    name="paylater.review",
    title="停车记录复核 / session review",
    initial="review",
    states=(
        sdk.State("review", "待复核 / to review", limit=Limit(1, "working_days")),
        _final("billed", "已计费 / billed"),
        _final("waived", "已免收 / waived"),
    ),
    actions=(
        sdk.Action("bill", "计费 / bill", ("review",), "billed", (OPERATOR, BOOTH), ("fee_fen",)),
        sdk.Action("waive", "免收 / waive", ("review",), "waived", (OPERATOR, BOOTH), ("reason_note",)),
    ),
    limit=Limit(1, "working_days"),
    public_fields=PUBLIC,
)
RECONCILIATION = sdk.CaseType(
    name="paylater.reconciliation",
    title="对账差异 / reconciliation mismatch",
    initial="open",
    states=(
        sdk.State("open", "待核实 / to check", limit=Limit(1, "working_days")),
        _final("resolved", "已核实处理 / resolved"),
    ),
    actions=(sdk.Action("resolve", "核实处理 / resolve", ("open",), "resolved", (OPERATOR,), ("finding",)),),
    limit=Limit(1, "working_days"),
    public_fields=("channel", "day"),
)
DISPUTE = sdk.CaseType(
    name="paylater.dispute",
    title="收费争议 / disputed charge",
    initial="received",
    states=(
        sdk.State("received", "已受理 / received", limit=Limit(3, "working_days")),
        _final("upheld", "维持收费 / upheld"),
        _final("refunded", "已退费 / refunded"),
    ),
    actions=(
        sdk.Action(
            "uphold", "维持收费 / uphold", ("received",), "upheld", (OPERATOR, SUPERVISOR), ("reply",)
        ),
        sdk.Action(
            "refund",
            "退费 / refund",
            ("received",),
            "refunded",
            (OPERATOR, SUPERVISOR),
            ("amount_fen", "reply"),
        ),
    ),
    limit=Limit(3, "working_days"),
    public_fields=("lot", "reason", "reply"),
    opens=(OPERATOR,),  # and the scene's POST /disputes, for the driver's app
)
case_types = (HELD, REVIEW, RECONCILIATION, DISPUTE)

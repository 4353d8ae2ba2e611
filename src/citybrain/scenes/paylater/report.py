"""The pay-later section of the monthly report: the period's money from the ledger (fees charged,
payments, refunds of double payments, disputes refunded, clinic credit lent and repaid), the
period's exits and the share let out without stopping, and what stands now (owed, waiting for
an operator, whether the ledger balances). The figures are the ledger's own sums
(``ReadModel.ledger_summary``), so they reconcile with the API and the big screen."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.scenes.paylater.api import exit_series, overview
from citybrain.scenes.paylater.settings import PaylaterSettings

# (transaction kind, account type) -> the report's line: what the money did in the period
LINES: dict[str, tuple[str, str, int, str]] = {
    "fees_fen": ("accrual", "lot", -1, "停车应收 / parking fees charged"),
    "paid_fen": ("payment", "channel", 1, "停车实收 / parking fees paid"),
    "duplicates_fen": ("duplicate", "channel", 1, "重复支付 (已退) / paid twice (refunded)"),
    "refunded_fen": ("refund", "channel", -1, "退款 / refunds returned"),
    "disputes_fen": ("dispute_refund", "lot", 1, "争议退费 / disputed charges refunded"),
    "clinic_lent_fen": ("clinic_bill", "patient", 1, "医疗先付后还 / clinic credit lent"),
    "clinic_repaid_fen": ("clinic_repayment", "channel", 1, "医疗还款 / clinic credit repaid"),
}


def report(rt: sdk.Runtime[PaylaterSettings], start: int, end: int) -> dict[str, Any]:
    summed = {
        (kind, account): fen for kind, account, fen, _ in rt.store.ledger_summary(start, end, "paylater")
    }
    money = {name: sign * summed.get((kind, account), 0) for name, (kind, account, sign, _) in LINES.items()}
    exits = exit_series(rt.store, start, end)
    seen, opened = sum(e for e, _ in exits.values()), sum(o for _, o in exits.values())
    now = overview(rt.store)
    return {
        "title": {"zh-CN": "先离场后付费 · 资金与复核", "en": "Pay later: money and review"},
        "period": {"start": start, "end": end},
        "money": money,
        "money_titles": {name: title for name, (_, _, _, title) in LINES.items()},
        "titles": {
            "exits": "离场车次 / exits",
            "left_first_share": "先离场占比 / share let out first",
            "outstanding_fen": "待缴 / owed now",
            "refunds_pending_fen": "待退款 / refunds pending",
            "in_review": "待复核 / in review",
            "held_reads": "暂扣识别 / held plate reads",
            "balanced": "账目平衡 / ledger balanced",
            "money": "资金 / money",
            "now": "当前 / now",
        },
        "exits": seen,
        "left_first_share": round(opened / seen, 4) if seen else None,
        "now": {
            "outstanding_fen": now.outstanding_fen,
            "refunds_pending_fen": now.refunds_pending_fen,
            "in_review": now.in_review,
            "held_reads": now.held_reads,
            "balanced": now.balanced,
        },
    }

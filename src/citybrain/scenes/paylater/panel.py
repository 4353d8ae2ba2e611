"""The big-screen panel: what is owed and settled, and what waits for an operator. Every figure
comes from /overview, which reads the ledger (the same numbers as the report)."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/paylater"

PANEL = sdk.Panel(
    id="paylater",
    title={"zh-CN": "先离场后付费", "en": "Pay later"},
    headline=[
        sdk.Figure(label={"zh-CN": "待复核", "en": "In review"}, api=f"{BASE}/overview", field="in_review"),
    ],
    widgets=[
        sdk.Figures(
            label={"zh-CN": "资金 (分)", "en": "Money (fen)"},
            api=f"{BASE}/overview",
            fields={
                "accrued_fen": {"zh-CN": "应收", "en": "accrued"},
                "settled_fen": {"zh-CN": "已结算", "en": "settled"},
                "outstanding_fen": {"zh-CN": "欠费", "en": "outstanding"},
                "refunds_pending_fen": {"zh-CN": "待退款", "en": "refunds pending"},
            },
        ),
        sdk.Figures(
            label={"zh-CN": "待人工处理", "en": "Waiting for an operator"},
            api=f"{BASE}/overview",
            fields={
                "held_reads": {"zh-CN": "车牌待确认", "en": "held reads"},
                "in_review": {"zh-CN": "记录待复核", "en": "sessions in review"},
            },
        ),
        sdk.Alerts(label={"zh-CN": "告警", "en": "Alerts"}, scene="paylater"),
    ],
)

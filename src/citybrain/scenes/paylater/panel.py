"""The big-screen panel: the gates (exits per minute, the share let out without stopping, how
fast the gate is answered), the money (accrued, settled, owed, refunds pending) and what waits
for an operator. The figures come from /overview, which reads the exit counts and the ledger
(the same numbers as the report); the bars are the last half hour's exits per minute."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/paylater"
EXITS = "metric.paylater.exits"  # every committed count of exits refreshes what depends on them

PANEL = sdk.Panel(
    id="paylater",
    title={"zh-CN": "先离场后付费", "en": "Pay later"},
    headline=[
        sdk.Figure(
            label={"zh-CN": "无感离场率", "en": "Left without stopping"}, api=f"{BASE}/overview",
            field="left_first_share", format="percent", digits=0, live=EXITS,
        ),
    ],
    widgets=[
        sdk.Figures(
            label={"zh-CN": "出口（近15分钟）", "en": "Exits (last 15 min)"},
            api=f"{BASE}/overview", live=EXITS,
            fields={
                "exits_per_min": {"zh-CN": "每分钟出场", "en": "exits / min"},
                "decision_ms_p50": {"zh-CN": "抬杆决策中位（毫秒）", "en": "decision p50 (ms)"},
                "decision_ms_p99": {"zh-CN": "抬杆决策P99（毫秒）", "en": "decision p99 (ms)"},
            },
        ),
        sdk.Bar(
            label={"zh-CN": "每分钟出场车辆", "en": "Exits per minute"},
            api=f"{BASE}/exits?minutes=30", x="minute", y=["exits", "left_first"], live=EXITS,
        ),
        sdk.Figures(
            label={"zh-CN": "资金（分）", "en": "Money (fen)"},
            api=f"{BASE}/overview", live="state.paylater",
            fields={
                "accrued_fen": {"zh-CN": "应收", "en": "accrued"},
                "settled_fen": {"zh-CN": "已结算", "en": "settled"},
                "outstanding_fen": {"zh-CN": "欠费", "en": "outstanding"},
                "refunds_pending_fen": {"zh-CN": "待退款", "en": "refunds pending"},
            },
        ),
        sdk.Figures(
            label={"zh-CN": "待人工处理", "en": "Waiting for an operator"},
            api=f"{BASE}/overview", live="alert.paylater",
            fields={
                "held_reads": {"zh-CN": "车牌待确认", "en": "held reads"},
                "in_review": {"zh-CN": "记录待复核", "en": "sessions in review"},
            },
        ),
        sdk.Alerts(label={"zh-CN": "告警", "en": "Alerts"}, scene="paylater", live="alert.paylater"),
    ],
)  # fmt: skip

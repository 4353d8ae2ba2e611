"""The welfare case types, built from the scene's settings (their limits are configuration).

* ``welfare.relapse`` — 防止返贫监测对象认定 (the 15-day chain): a risk clue (a screening's alert,
  a household's own declaration, a cadre's visit) -> 入户核查 and the household's 授权承诺 ->
  信息比对 -> 民主评议 and 村内公示 (at least 5 days; an objection sends it back to the comparison)
  -> 乡镇初审 -> 县级审定 -> 纳入监测 (enrolled: assistance follows, 一户一策), or 不予认定 at any
  review. Its deadline is the whole identification's (15 working days from the clue).
* ``welfare.elimination`` — 风险消除: proposed by the caseworker once income is stable above the line
  and rigid spending is solved -> 村内公示 -> 乡镇审核 -> 县级审定 -> 已消除; a 回退 (rollback) brings an
  eliminated household back under monitoring.
* ``welfare.grant`` — 免申即享: one grant of a policy to a household for a month, opened and closed
  in one batch by the policy's officer; its command id makes it once only.

Roles: 村干部 ``village_cadre`` (their village), 民政社工 ``caseworker`` (their district), 乡镇审核
``township_officer``, 县级审定 ``county_officer``.
"""

from __future__ import annotations

from citybrain import sdk
from citybrain.scenes.welfare.settings import WelfareSettings

VILLAGE, CASEWORKER = "village_cadre", "caseworker"
TOWNSHIP, COUNTY = "township_officer", "county_officer"
SYSTEM = ("scope:operate",)  # integrations (the national monitoring system's push, a 12345 referral)
GROUPS = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")
PUBLIC = ("village", "risk_types", "level", "group")  # never a name, an ID, a phone or a diagnosis
WHERE = "scenes.welfare"

Limit = sdk.Limit.parse


def _limit(cfg: WelfareSettings, name: str) -> sdk.Limit:
    return Limit(getattr(cfg, name), f"{WHERE}.{name}")


def _reviews(cfg: WelfareSettings, township: str) -> tuple[list[sdk.State], list[sdk.Action]]:
    """What every decision of the chain goes through: 村内公示 for at least ``publicity``, then the
    township's review and the county's decision, each within ``review_within``."""
    states = [
        sdk.State("publicity", "村内公示 / village publicity", min_stay=_limit(cfg, "publicity")),
        sdk.State("township", f"{township} / township review", limit=_limit(cfg, "review_within")),
        sdk.State("county", "县级审定 / county decision", limit=_limit(cfg, "review_within")),
    ]
    actions = [
        sdk.Action(
            "publicity_done",
            "公示期满 / publicity over",
            ("publicity",),
            "township",
            (VILLAGE,),
            ("review_note",),
            after_stay=True,
        ),
        sdk.Action(
            "township_approve", f"{township}通过 / township approves", ("township",), "county", (TOWNSHIP,)
        ),
        sdk.Action(
            "note", "备注 / note", (sdk.ANY,), None, (VILLAGE, CASEWORKER, TOWNSHIP, COUNTY), ("text",)
        ),
    ]
    return states, actions


def relapse(cfg: WelfareSettings) -> sdk.CaseType:
    review_states, review_actions = _reviews(cfg, "乡镇初审")
    states = (
        sdk.State("clue", "风险线索待核查 / clue to verify", limit=_limit(cfg, "visit_within")),
        sdk.State("comparing", "信息比对 / data comparison", limit=_limit(cfg, "compare_within")),
        *review_states,
        sdk.State("enrolled", "已纳入监测 / enrolled", public="closed", final=True),
        sdk.State("rejected", "不予认定 / not enrolled", public="closed", final=True),
    )
    actions = (
        sdk.Action(
            "visit",
            "入户核查 / home visit and consent",
            ("clue",),
            "comparing",
            (VILLAGE, CASEWORKER),
            ("visit_note", "consent"),
            choices={"consent": ("已签署授权承诺",)},
        ),
        sdk.Action(
            "dismiss", "核实无风险 / no risk found", ("clue",), "rejected", (VILLAGE, CASEWORKER), ("reason",)
        ),
        sdk.Action(
            "compare",
            "比对完成 / comparison done",
            ("comparing",),
            "publicity",
            (CASEWORKER,),
            ("comparison",),
        ),
        sdk.Action(
            "objection",
            "公示有异议 / objection raised",
            ("publicity",),
            "comparing",
            (VILLAGE, CASEWORKER),
            ("reason",),
        ),
        *review_actions,
        sdk.Action(
            "county_enrol",
            "县级审定纳入 / county enrols",
            ("county",),
            "enrolled",
            (COUNTY,),
            ("group", "measures"),
            choices={"group": GROUPS},
        ),
        sdk.Action(
            "reject",
            "不予认定 / not enrolled",
            ("township", "county"),
            "rejected",
            (TOWNSHIP, COUNTY),
            ("reason",),
        ),
    )
    return sdk.CaseType(
        name="welfare.relapse",
        title="防返贫监测对象认定 / poverty-relapse identification",
        initial="clue",
        states=states,
        actions=actions,
        limit=_limit(cfg, "whole"),
        public_fields=PUBLIC,
        opens=(VILLAGE, CASEWORKER, *SYSTEM),
    )


def elimination(cfg: WelfareSettings) -> sdk.CaseType:
    review_states, review_actions = _reviews(cfg, "乡镇审核")
    states = (
        sdk.State("proposed", "风险消除待公示 / proposed", limit=_limit(cfg, "compare_within")),
        *review_states,
        sdk.State("eliminated", "风险已消除 / risk eliminated", public="closed", final=True),
        sdk.State("kept", "继续监测 / kept under monitoring", public="closed", final=True),
        sdk.State("rolled_back", "风险消除回退 / rolled back", public="closed", final=True),
    )
    actions = (
        sdk.Action("publicise", "开始公示 / publicise", ("proposed",), "publicity", (VILLAGE, CASEWORKER)),
        *review_actions,
        sdk.Action(
            "county_eliminate", "县级审定消除 / county eliminates", ("county",), "eliminated", (COUNTY,)
        ),
        sdk.Action(
            "keep",
            "继续监测 / keep monitoring",
            ("proposed", "publicity", "township", "county"),
            "kept",
            (CASEWORKER, TOWNSHIP, COUNTY),
            ("reason",),
        ),
        sdk.Action(
            "rollback", "风险消除回退 / roll back", ("eliminated",), "rolled_back", (COUNTY,), ("reason",)
        ),
    )
    return sdk.CaseType(
        name="welfare.elimination",
        title="风险消除 / risk elimination",
        initial="proposed",
        states=states,
        actions=actions,
        limit=_limit(cfg, "whole"),
        public_fields=PUBLIC,
        opens=(CASEWORKER,),
    )


def grant(cfg: WelfareSettings) -> sdk.CaseType:
    states = (
        sdk.State("granted", "已发放 / granted", public="closed", final=True),
        sdk.State("revoked", "已撤销 / revoked", public="closed", final=True),
    )
    actions = (sdk.Action("revoke", "撤销 / revoke", ("granted",), "revoked", (COUNTY,), ("reason",)),)
    return sdk.CaseType(
        name="welfare.grant",
        title="免申即享发放 / granted without application",
        initial="granted",
        states=states,
        actions=actions,
        public_fields=("policy", "month"),
        opens=(CASEWORKER, COUNTY),
    )


def case_types(cfg: WelfareSettings) -> list[sdk.CaseType]:
    return [relapse(cfg), elimination(cfg), grant(cfg)]

"""``[scenes.welfare]``: where the scene's data model and rules are, which rule sets are risk
screens and which are granted without application, and the time limits of the 15-day chain.

The chain's limits follow the published procedure (../docs/scenes/welfare.md cites it): 入户核查
within 3 days of the clue, 信息比对 within 5, 村内公示 at least 5 days, the whole identification
within 15 days of the first risk clue. The issue asks for working days; a county that counts
calendar days sets ``"15 days"``.
"""

from __future__ import annotations

import msgspec

from citybrain import sdk


class RiskType(msgspec.Struct, forbid_unknown_fields=True):
    """What a risk screen (a rule set) means when a household meets it."""

    type: str  # ILLNESS, INCOME_DROP ... (the national monitoring system's 风险类型)
    title: str  # 因病 ...
    level: str = "medium"  # medium | high: how urgent a household meeting only this screen is


def _risks() -> dict[str, RiskType]:
    return {
        "risk_illness": RiskType("ILLNESS", "因病", "high"),
        "risk_income_drop": RiskType("INCOME_DROP", "因收入骤减", "medium"),
        "risk_unemployment": RiskType("UNSTABLE_EMPLOYMENT", "因务工就业不稳", "medium"),
        "risk_disaster": RiskType("NATURAL_DISASTER", "因自然灾害", "high"),
        "risk_disability": RiskType("DISABILITY", "因残", "medium"),
    }


def _delivery() -> list[str]:
    return ["dibao", "disability_subsidy"]


def _departments() -> dict[str, str]:
    return {"3601": "nc-civil", "360102": "donghu-civil", "360103": "xihu-civil"}


class WelfareSettings(sdk.SceneSettings, forbid_unknown_fields=True):
    datasets_file: str = ""  # the departments' datasets (TOML); empty: citybrain/data/welfare/datasets.toml
    features_file: str = ""  # the subjects and features (TOML); empty: the shipped features.toml
    rules_file: str = ""  # the rule sets (TOML); empty: the shipped rules.toml
    risks: dict[str, RiskType] = msgspec.field(default_factory=_risks)  # risk screen -> its meaning
    eligibility: str = "dibao"  # the rule set a household page explains first (低保)
    monitor_range: str = "monitor_range"  # the rule set: income within the monitoring line
    # rule sets granted without application (免申即享)
    delivery: list[str] = msgspec.field(default_factory=_delivery)  # granted without application
    departments: dict[str, str] = msgspec.field(default_factory=_departments)  # area -> civil affairs
    screen_every_h: float = 24.0  # a full screening of everyone this often (0: only on new facts)
    settle_ms: int = 50  # new facts are gathered this long before their households are screened
    full_above: int = 50_000  # more households waiting than this: screen everyone at once
    # the 15-day chain (防止返贫监测 认定程序)
    whole: str = "15 working_days"  # the whole identification, from the risk clue
    visit_within: str = "3 working_days"  # 入户核查 and the household's 授权承诺, after the clue
    compare_within: str = "5 working_days"  # 信息比对 (and a risk elimination's proposal)
    publicity: str = "5 days"  # the least time in 村内公示 before the township's review
    review_within: str = "2 working_days"  # 乡镇初审 and 县级审定, each

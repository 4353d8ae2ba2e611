"""Welfare alert rules: a household at risk of falling (back) into poverty opens a case."""

from __future__ import annotations

from citybrain import sdk

RISK = sdk.rule(
    "welfare",
    "relapse_risk",
    "返贫致贫风险 / poverty-relapse risk",
    severity="major",
    clear="0s",
    update_every="1h",
    case_type="welfare.relapse",
    doc="A household meets a risk screen (因病, 因收入骤减, 因务工就业不稳, 因自然灾害, 因残: the rule "
    "sets of [scenes.welfare] risks). The alert opens a welfare.relapse case at the household's "
    "village, which follows the 15-day chain; the alert resolves when a screening no longer finds "
    "the risk (the case goes on: risk elimination is decided by the county, not by data alone).",
)

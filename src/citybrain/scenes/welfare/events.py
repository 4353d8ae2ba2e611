"""Welfare events: what a screening found of a household, and that a screening of everyone ended.

A household's personal data never travels in these: only its key (户编号), village, risk and the
outcomes; a caseworker reads the rest, audited, from the household page."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from citybrain.sdk import Event


class Assessed(Event, tag="welfare.assessed"):
    """One household screened (``key``: 户编号): its risk level (none, medium, high), the risk
    types it meets, its monitored group, and the outcome of each rule set, with their versions."""

    scene: ClassVar[str] = "welfare"
    run: str  # the screening: "full:<ms>" for everyone, "facts:<ms>" after new facts
    area: str  # the village or community code
    level: str = "none"
    types: list[str] = msgspec.field(default_factory=list)  # ILLNESS ...
    group: str = ""  # 脱贫不稳定户 | 边缘易致贫户 | 突发严重困难户 ("" when not at risk)
    outcomes: dict[str, str] = msgspec.field(default_factory=dict)  # rule set -> outcome
    versions: dict[str, str] = msgspec.field(default_factory=dict)  # rule set -> version


class ScreeningDone(Event, tag="welfare.screened"):
    """A screening of everyone ended (``key``: the run): households at risk before and not met
    again by it are no longer at risk."""

    scene: ClassVar[str] = "welfare"
    households: int
    at_risk: int
    seconds: float
    day: str  # the screening day (YYYY-MM-DD)

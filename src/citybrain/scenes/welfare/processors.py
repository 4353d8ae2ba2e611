"""Welfare processors: a household found at risk opens an alert (dispatched as a ``welfare.relapse``
case at its village); its risk as it stands is the household's entity state.

``welfare.risks`` keeps, per household at risk, its level, types and group as the last screening
left them. A household newly at risk (or at a higher level, or of a new type) signals
``welfare.relapse_risk``; the alert carries its village (the case's area), the civil-affairs
department of that area (``departments``: the longest code that prefixes it), the first risk type
(the case's category) and nothing personal. A household no longer at risk resolves its alert.
Every change is written as the household's state (scene ``welfare``), which the API lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain import sdk
from citybrain.scenes.welfare.events import Assessed
from citybrain.scenes.welfare.rules import RISK
from citybrain.scenes.welfare.settings import WelfareSettings

TITLES = {"high": "高风险", "medium": "中风险"}


class Watch(msgspec.Struct, array_like=True):
    """A household at risk as the last screening found it."""

    area: str
    level: str
    types: list[str]
    group: str
    since: int  # when it was first found at risk (this time)
    ts: int  # when it was last screened


class RiskState(msgspec.Struct):
    households: dict[str, Watch] = msgspec.field(default_factory=dict)


def department_of(departments: dict[str, str], area: str) -> str:
    """The civil-affairs department of ``area``: the longest configured code prefixing it."""
    best = max((code for code in departments if area.startswith(code)), key=len, default="")
    return departments.get(best, "")


class Risks(sdk.Processor[RiskState, Assessed]):
    name = "welfare.risks"
    kinds = (Assessed,)
    state_type = RiskState
    config: WelfareSettings

    def __init__(self, partition: int, settings: WelfareSettings, _world: object = None) -> None:
        super().__init__(partition, settings)
        self.titles = {r.type: r.title for r in settings.risks.values()}

    def process(self, batch: Sequence[tuple[int, Assessed]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            seen = self.state.households.get(ev.key)
            if seen is not None and ev.ts < seen.ts:
                continue  # an older screening than the one known
            if ev.level == "none":
                if seen is not None:
                    del self.state.households[ev.key]
                    out.signal(RISK, ev.key, ev.ts, False, message="复核未再发现风险 · no longer at risk")
                    out.state(
                        "welfare",
                        ev.key,
                        ev.ts,
                        {
                            "level": "none",
                            "area": ev.area,
                            "types": [],
                            "group": "",
                            "since": None,
                            "outcomes": ev.outcomes,
                        },
                    )
                continue
            since = seen.since if seen is not None else ev.ts
            changed = seen is None or (seen.level, seen.types, seen.group) != (ev.level, ev.types, ev.group)
            moved = seen is not None and seen.area != ev.area
            self.state.households[ev.key] = Watch(ev.area, ev.level, list(ev.types), ev.group, since, ev.ts)
            state = {"level": ev.level, "area": ev.area, "types": ev.types, "group": ev.group, "since": since,
                     "outcomes": ev.outcomes, "versions": ev.versions}  # fmt: skip
            if not changed:
                if moved:  # the same risk, another village: its state follows (the API lists by it)
                    out.state("welfare", ev.key, ev.ts, state)
                continue
            kinds = "、".join(self.titles.get(t, t) for t in ev.types)
            out.signal(
                RISK,
                ev.key,
                ev.ts,
                True,
                severity="critical" if ev.level == "high" else "major",
                message=f"家庭 {ev.key} {kinds}返贫致贫{TITLES.get(ev.level, '')} · household {ev.key} at "
                f"{ev.level} risk ({', '.join(ev.types)})",
                data={
                    "household": ev.key,
                    "area": ev.area,
                    "village": ev.area,
                    "level": ev.level,
                    "risk_types": ev.types,
                    "group": ev.group,
                    "category": ev.types[0] if ev.types else "",
                    "department": department_of(self.config.departments, ev.area),
                    "case_fields": {
                        "household": ev.key,
                        "village": ev.area,
                        "level": ev.level,
                        "risk_types": ev.types,
                        "group": ev.group,
                    },
                },
            )
            out.state("welfare", ev.key, ev.ts, state)

"""Routing: which department a case should go to, by its category and area (数字城管 rules).

A 部件 (a component: a manhole cover, a street light) goes to its owner first and to the area's
department only when it has none (先属主后属地); an 事件 (an event: exposed garbage, street vending)
goes to the department of the area first and to the line's owner where no area department covers
it (先属地后属主). A scene declares the rules as configuration (``CaseType.routes``); the API shows
the suggestion and its reason with each open case, and the dispatcher decides (派单 still names the
department: a rule never moves a case by itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["部件", "事件"]
KINDS: tuple[Kind, ...] = ("部件", "事件")
ANY_CATEGORY = "*"


@dataclass(frozen=True)
class Route:
    """The rule of some categories: their kind, their owner (属主) and the departments by area (属地:
    an area code -> the department there; the longest code that prefixes the case's area wins)."""

    categories: tuple[str, ...]  # the 小类 it covers; "*" every category no other rule names
    kind: Kind
    owner: str = ""
    local: Mapping[str, str] = field(default_factory=dict)

    def problem(self) -> str | None:
        if self.kind not in KINDS:
            return f"kind {self.kind!r} is not one of {list(KINDS)}"
        if not self.categories:
            return "it names no category"
        if not self.owner and not self.local:
            return "it names neither an owner nor a department by area"
        bad = [code for code in self.local if not code.isdigit()]
        return f"area {bad[0]!r} is not an administrative or grid code" if bad else None


@dataclass(frozen=True)
class Suggestion:
    department: str
    why: str  # "部件 先属主后属地: 属主 nc-water"


def _local(route: Route, area: str) -> str:
    codes = [code for code in route.local if area.startswith(code)]
    return route.local[max(codes, key=len)] if codes else ""


def route_for(routes: Sequence[Route], category: str, area: str) -> Suggestion | None:
    """The department the rules send a case of ``category`` in ``area`` to, with the reason."""
    rule = next((r for r in routes if category in r.categories), None)
    rule = rule or next((r for r in routes if ANY_CATEGORY in r.categories), None)
    if rule is None:
        return None
    owner, local = ("属主", rule.owner), ("属地", _local(rule, area))
    order, text = (
        ((owner, local), "先属主后属地") if rule.kind == "部件" else ((local, owner), "先属地后属主")
    )
    for which, department in order:
        if department:
            return Suggestion(department, f"{rule.kind} {text}: {which} {department}")
    return None

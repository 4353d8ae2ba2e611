"""Case types as data: states, actions (transitions), limits, pauses, escalation, public fields.

A scene declares its case types with these values (``sdk.CaseType``); the engine
(``core.cases.engine``) checks every command against them and the store keeps each case's current
row and its log. Nothing here runs: a case type is checked once (``CaseType.check``) when built.

Words: a **state** is where a case stands (已受理, 已派遣 ...); an **action** moves it (签收, 退单,
办结 ...) and names who may take it and which fields it needs; a **limit** is a time allowance in
working days, working hours, days or hours (``workcal``); a state's limit is its step deadline
(签收 within 1 working day), the type's limit the whole case's (办结 within 15 working days), and
time in a **pause** state (延期 approved, waiting for the citizen) does not count against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from citybrain.core.cases.routing import Route
from citybrain.core.cases.workcal import Unit
from citybrain.core.errors import ConfigError

PublicStatus = Literal["open", "closed"]  # what Open311 clients see
ANY = "*"  # an action's source: any state that is not final


@dataclass(frozen=True)
class Limit:
    """A time allowance: ``amount`` of ``unit`` (working units on the city's calendar)."""

    amount: float
    unit: Unit = "working_days"

    def __str__(self) -> str:
        words = {"working_days": "工作日", "working_hours": "工作时", "days": "天", "hours": "小时"}
        return f"{self.amount:g} {words[self.unit]}"

    @classmethod
    def parse(cls, text: str, where: str = "a limit") -> Limit:
        """ "15 working_days", "4 working_hours", "1 hours" -> a Limit; ConfigError naming ``where``."""
        amount, _, unit = text.strip().partition(" ")
        units = get_args(Unit)
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not (value >= 0 and value < 10_000) or unit.strip() not in units:
            raise ConfigError(f"{where}: {text!r} is not '<amount> <unit>' with a unit of {', '.join(units)}")
        limit = cls(value, unit.strip())  # type: ignore[arg-type]
        if problem := limit.problem():
            raise ConfigError(f"{where}: {text!r}: {problem}")
        return limit

    def problem(self) -> str:
        """What is wrong with the limit ("" when it is sound): days are whole, none is negative."""
        if not (0 <= self.amount < 10_000):
            return f"{self.amount:g} is not between 0 and 10000"
        if self.unit in ("working_days", "days") and self.amount != int(self.amount):
            return f"{self.unit} are counted whole ({self.amount:g} is not; use working_hours or hours)"
        return ""


@dataclass(frozen=True)
class State:
    name: str
    title: str  # Chinese first: "已派遣 / dispatched"
    public: PublicStatus = "open"
    limit: Limit | None = None  # how long a case may stay here (the step deadline)
    pause: bool = False  # the case's clock stops here
    final: bool = False  # closed: no action leaves it but those naming it as a source
    min_stay: Limit | None = None  # how long a case must stay (公示 ≥ 5 days): see Action.after_stay


@dataclass(frozen=True)
class Action:
    """A transition: from ``sources`` to ``target`` (None: stays, e.g. a note or a callback)."""

    name: str
    title: str
    sources: tuple[str, ...]
    target: str | None
    roles: tuple[str, ...]  # roles that may take it
    needs: tuple[str, ...] = ()  # fields the command must carry (non-empty)
    before_due: bool = False  # only while the case's deadline has not passed (延期申请)
    extends: Limit | None = None  # moves the case's deadline by this much (an approved 延期)
    restarts: bool = False  # the case's deadline starts over from now (返工: reopened)
    own_department: bool = False  # only people of the case's department (签收, 办结 by the 承办单位)
    choices: Mapping[str, tuple[object, ...]] = field(default_factory=dict)  # allowed values of fields
    after_stay: bool = False  # only once the source state's min_stay is over (公示期满 -> 乡镇审核)


@dataclass(frozen=True)
class Escalation:
    """Warn when ``warn_at`` of a deadline's allowance has elapsed (0.8 = with a fifth left);
    escalate to ``to_department`` (or the same department's supervisors) once overdue."""

    warn_at: float = 0.8
    to_department: str = ""


@dataclass(frozen=True)
class CaseType:
    """One kind of work order of a scene (``name`` prefixed with the scene: "civic.complaint")."""

    name: str
    title: str
    states: tuple[State, ...]
    actions: tuple[Action, ...]
    initial: str
    limit: Limit | None = None  # the whole case, from opening to a final state, pauses excluded
    limits_by_category: Mapping[str, Limit] = field(default_factory=dict)  # a category's own limit
    public_fields: tuple[str, ...] = ()  # shown to the public (Open311) and to every role
    opens: tuple[str, ...] = ()  # roles that may open one (empty: whoever may operate on cases)
    escalation: Escalation = field(default_factory=Escalation)
    routes: tuple[Route, ...] = ()  # which department a case should go to (core/cases/routing.py)

    @property
    def scene(self) -> str:
        return self.name.split(".", 1)[0]

    def limit_for(self, category: str) -> Limit | None:
        """The whole case's limit for a case of ``category`` (its own, else the type's)."""
        return self.limits_by_category.get(category, self.limit)

    def state(self, name: str) -> State:
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(name)

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def actions_from(self, state: str) -> list[Action]:
        """The actions a case in ``state`` may take (roles aside)."""
        final = self.state(state).final
        return [a for a in self.actions if state in a.sources or (ANY in a.sources and not final)]

    def check(self) -> None:
        """ConfigError naming the first inconsistency: unknown states, duplicate names, a final
        state without a closed public status, an unreachable state."""
        where = f"case type {self.name!r}"
        if "." not in self.name:
            raise ConfigError(f"{where}: its name must start with its scene ('civic.complaint')")
        names = [s.name for s in self.states]
        for kind, seq in (("state", names), ("action", [a.name for a in self.actions])):
            dup = {n for n in seq if seq.count(n) > 1}
            if dup:
                raise ConfigError(f"{where}: {kind} {sorted(dup)[0]!r} is declared twice")
        if self.initial not in names:
            raise ConfigError(f"{where}: the initial state {self.initial!r} is not one of {names}")
        for s in self.states:
            if s.final and s.public != "closed":
                raise ConfigError(f"{where}: final state {s.name!r} must be public 'closed'")
        limits = [("limit", self.limit),
                  *((f"the limit of {c!r}", v) for c, v in self.limits_by_category.items()),
                  *((f"the limit of state {s.name!r}", s.limit) for s in self.states),
                  *((f"the minimum stay of state {s.name!r}", s.min_stay) for s in self.states),
                  *((f"what action {a.name!r} extends", a.extends) for a in self.actions)]  # fmt: skip
        for what, limit in limits:
            if limit is not None and (problem := limit.problem()):
                raise ConfigError(f"{where}: {what}: {problem}")
        for i, route in enumerate(self.routes):
            if trouble := route.problem():
                raise ConfigError(f"{where}: routing rule {i + 1} ({', '.join(route.categories)}): {trouble}")
        for a in self.actions:
            for src in a.sources:
                if src != ANY and src not in names:
                    raise ConfigError(f"{where}: action {a.name!r} leaves unknown state {src!r}")
            if a.target is not None and a.target not in names:
                raise ConfigError(f"{where}: action {a.name!r} goes to unknown state {a.target!r}")
            if not a.roles:
                raise ConfigError(f"{where}: action {a.name!r} names no role that may take it")
            if a.after_stay and not any(self.state(x).min_stay for x in a.sources if x != ANY):
                raise ConfigError(f"{where}: action {a.name!r} waits for a stay none of its sources has")
        reached = {self.initial}
        while True:
            more = {a.target for s in reached for a in self.actions_from(s) if a.target} - reached
            if not more:
                break
            reached |= more
        if missing := [n for n in names if n not in reached]:
            raise ConfigError(f"{where}: state {missing[0]!r} cannot be reached from {self.initial!r}")

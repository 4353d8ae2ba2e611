"""The case engine: commands checked against their case type, applied once, under optimistic
concurrency, each change logged, audited and published.

``run`` (and ``open``, ``act`` for one command) computes each new case from the stored one
(``advance``: pure); the group commit then writes the changes of every caller at that moment in one
transaction, each only if nobody changed its case meanwhile (``Cases.save_cases``: same version,
unseen command id), and publishes them together. A command id seen before answers the case as it
is now, marked ``replayed``, without applying anything again; a stale version is a
``ConflictError`` that says so. The change is published on the bus as a ``CaseChanged`` event
whose id is "<case>:v<version>"; ``republish`` puts the log of the last minutes on the bus again
at start (the bus drops ids it has), so a crash between the write and the publish loses no event.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from citybrain.core.cases.events import CaseChanged
from citybrain.core.cases.model import ANY, Action, CaseType, Limit
from citybrain.core.cases.records import Case, CaseChange, CaseEntry
from citybrain.core.cases.workcal import Unit, WorkCalendar
from citybrain.core.clock import now_ms
from citybrain.core.errors import (
    CitybrainError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Problem,
    StoreError,
    ValidationError,
)
from citybrain.core.events import Event
from citybrain.core.groupcommit import GroupCommit
from citybrain.core.store.base import Store

BJT = timezone(timedelta(hours=8))
WORKING: frozenset[Unit] = frozenset({"working_days", "working_hours"})
REPUBLISH_MS = 10 * 60_000  # at start, the log of this long before the last published change


@dataclass(frozen=True)
class Actor:
    """Who acts: the audit's name for them, their roles and department (``identity``)."""

    name: str
    roles: tuple[str, ...]
    department: str = ""


@dataclass(frozen=True)
class Outcome:
    case: Case
    replayed: bool = False  # the command id was applied before: nothing was applied now


@dataclass(frozen=True)
class Open:
    """Open a case of ``type`` in its initial state, its deadlines counted from now."""

    type: str
    command_id: str  # the client's: a retry is answered, never applied twice
    fields: Mapping[str, Any] = field(default_factory=dict)
    department: str = ""
    area: str = ""
    category: str = ""
    title: str = ""
    lon: float | None = None
    lat: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Act:
    """Take ``action`` on a case that is at ``version`` (as the actor last saw it)."""

    case_id: str
    action: str
    command_id: str
    version: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


Command = Open | Act
Answer = Outcome | CitybrainError
Check = Callable[[Case], None]  # raises when the actor may not touch this case


# columns an action sets when it needs the field (改派 needs a department, 核实 a category ...)
ROW_FIELDS = ("department", "area", "category", "title")


def case_id_for(command_id: str, now: int) -> str:
    """A case number that reads as a date and is the same for a retried open: "20261206-K3M9QX2AB7Q4Y"."""
    digest = hashlib.blake2b(command_id.encode(), digest_size=8).digest()  # 64 bits: none collide
    day = datetime.fromtimestamp(now / 1000, BJT).strftime("%Y%m%d")
    return f"{day}-{base64.b32encode(digest).decode().rstrip('=')}"


def may(actor: Actor, action: Action, case: Case | None = None) -> bool:
    """Whether ``actor`` may take ``action`` (on ``case``: its department, for own-department ones)."""
    if "admin" in actor.roles:
        return True
    if not any(r in action.roles for r in actor.roles):
        return False
    return not (action.own_department and case is not None and case.department != actor.department)


def available(ct: CaseType, case: Case, actor: Actor) -> list[Action]:
    """The actions ``actor`` may take on ``case`` now."""
    return [a for a in ct.actions_from(case.state) if may(actor, a, case)]


def _missing(action: Action, fields: Mapping[str, Any]) -> list[str]:
    return [n for n in action.needs if fields.get(n) in (None, "", [], {})]


class CaseEngine:
    def __init__(
        self,
        store: Store,
        types: Mapping[str, CaseType],
        calendar: WorkCalendar,
        publish: Callable[[Sequence[Event]], Any] | None = None,
        audit: bool = True,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store, self.types, self.calendar = store, dict(types), calendar
        self.publish, self.audit, self.clock = publish, audit, clock
        for ct in self.types.values():
            ct.check()
        self._group: GroupCommit[tuple[CaseType, CaseChange], CitybrainError | None] = GroupCommit(
            self._commit
        )

    def case_type(self, name: str) -> CaseType:
        ct = self.types.get(name)
        if ct is None:
            raise NotFoundError(f"case type {name!r} is not declared; declared: {sorted(self.types)}")
        return ct

    # -- commands --------------------------------------------------------------------------------
    def open(
        self,
        type_name: str,
        actor: Actor,
        command_id: str,
        *,
        fields: Mapping[str, Any] | None = None,
        department: str = "",
        area: str = "",
        category: str = "",
        title: str = "",
        lon: float | None = None,
        lat: float | None = None,
        note: str = "",
    ) -> Outcome:
        """Open a case of ``type_name`` in its initial state, its deadlines counted from now."""
        return self.one(Open(type_name, command_id, dict(fields or {}), department, area, category, title,
                             lon, lat, note), actor)  # fmt: skip

    def act(
        self,
        case_id: str,
        action_name: str,
        actor: Actor,
        command_id: str,
        version: int,
        *,
        fields: Mapping[str, Any] | None = None,
        note: str = "",
    ) -> Outcome:
        """Take ``action_name`` on a case that is at ``version`` (as the actor last saw it)."""
        return self.one(Act(case_id, action_name, command_id, version, dict(fields or {}), note), actor)

    def one(self, command: Command, actor: Actor, check: Check | None = None) -> Outcome:
        """One command: its outcome, or the error that refused it, raised."""
        answer = self.run([command], actor, check)[0]
        if isinstance(answer, Outcome):
            return answer
        raise answer

    def run(self, commands: Sequence[Command], actor: Actor, check: Check | None = None) -> list[Answer]:
        """Commands of one actor, in order, each answered on its own: its outcome, or the error
        that refused it (the others go on). Several commands may move one case: each is checked
        against the version the one before made. ``check`` sees each case before it is changed
        (or opened, or answered again) and raises when the actor may not touch it (the API's areas).

        Every change is computed here, then written by the group commit with those of every other
        caller at the moment (one transaction, one publish); nothing is answered before it is
        written and on the bus."""
        now = self.clock()
        answers: list[Answer] = []
        latest = self.store.cases_of([c.case_id for c in commands if isinstance(c, Act)])
        made: list[tuple[int, CaseType, CaseChange]] = []
        for i, command in enumerate(commands):
            try:
                ct, change = self._change(command, actor, latest, now, check)
            except CitybrainError as err:
                answers.append(err)
                continue
            latest[change.case.id] = change.case
            made.append((i, ct, change))
            answers.append(Outcome(change.case))
        refused = self._group.submit([(ct, change) for _, ct, change in made]) if made else []
        for (i, _, _), why in zip(made, refused, strict=True):
            if why is not None:
                answers[i] = why
        for i, command in enumerate(commands):
            # refused as stale or seen: perhaps a retry of a command applied before (or in flight)
            if isinstance(answers[i], ConflictError | StoreError):
                try:
                    answers[i] = self._replay(command, check) or answers[i]
                except CitybrainError as err:
                    answers[i] = err
        return answers

    def _change(
        self, command: Command, actor: Actor, latest: dict[str, Case], now: int, check: Check | None
    ) -> tuple[CaseType, CaseChange]:
        if isinstance(command, Open):
            return self._opening(command, actor, now, check)
        current = latest.get(command.case_id)
        if current is None:
            raise NotFoundError(f"case {command.case_id!r} does not exist")
        if check is not None:
            check(current)
        ct = self.case_type(current.type)
        if current.version != command.version:
            raise ConflictError(
                f"case {current.id!r} is at version {current.version}, not {command.version}: someone "
                "changed it meanwhile; reload it and decide again"
            )
        given = dict(command.fields)
        try:
            case = advance(ct, current, command.action, actor, given, now, self.calendar)
        except ValueError as err:  # the calendar: a deadline outside the years it holds (2000-2099)
            raise ValidationError([Problem(0, "deadline", str(err))]) from err
        entry = CaseEntry(case.id, case.version, now, actor.name, command.action, current.state, case.state,
                          command.command_id, given, command.note, case.department, case.due_ts,
                          case.step_due_ts)  # fmt: skip
        return ct, CaseChange(case, command.version, entry)

    def _opening(self, o: Open, actor: Actor, now: int, check: Check | None) -> tuple[CaseType, CaseChange]:
        ct = self.case_type(o.type)
        if ct.opens and not {"admin", "system", *ct.opens} & set(actor.roles):
            raise ForbiddenError(f"{actor.name} may not open a {ct.title} (roles that may: {list(ct.opens)})")
        case = Case(
            id=case_id_for(o.command_id, now), type=ct.name, state=ct.initial, version=1, opened_ts=now,
            updated_ts=now, department=o.department, area=o.area, category=o.category, title=o.title,
            lon=o.lon, lat=o.lat, fields=dict(o.fields),
        )  # fmt: skip
        if check is not None:
            check(case)
        limit = ct.limit_for(o.category)
        try:
            if limit is not None:
                self._set_due(case, now, limit)
            _enter_state(ct, case, now, self.calendar)
        except ValueError as err:  # the calendar: a deadline outside the years it holds (2000-2099)
            raise ValidationError([Problem(0, "deadline", str(err))]) from err
        entry = CaseEntry(case.id, 1, now, actor.name, "open", "", case.state, o.command_id, dict(o.fields),
                          o.note, case.department, case.due_ts, case.step_due_ts)  # fmt: skip
        return ct, CaseChange(case, 0, entry)

    def _commit(self, batch: Sequence[tuple[CaseType, CaseChange]]) -> list[CitybrainError | None]:
        """The group commit's one transaction, then one publish of every change it wrote."""
        refused = self.store.save_cases([change for _, change in batch], audit=self.audit)
        if self.publish is not None:
            written = [b for b, why in zip(batch, refused, strict=True) if why is None]
            events = [changed(ct, ch.case, ch.entry) for ct, ch in written]
            if events:
                self.publish(events)
        return refused

    def _replay(self, command: Command, check: Check | None) -> Outcome | None:
        """The answer to a command id applied before: the case as it is now, marked replayed, and
        the change that command made published again (the bus drops the id if it has it: a crash
        between the write and the publish loses nothing). A command id is the answer of one case:
        used for another case, or to open a case of another type, it is a ConflictError, never
        someone else's case."""
        seen = self.store.case_by_command(command.command_id)
        if seen is None:
            return None
        case = self.store.case(seen[0])
        other = case.id != command.case_id if isinstance(command, Act) else case.type != command.type
        if other:
            raise ConflictError(
                f"command id {command.command_id!r} was used for another case; send a new one"
            )
        if check is not None:
            check(case)
        ct = self.types.get(case.type)
        if self.publish is not None and ct is not None:
            made = [e for e in self.store.case_entries(case.id) if e.version == seen[1]]
            self.publish([changed(ct, _as_of(case, e), e) for e in made])
        return Outcome(case, replayed=True)

    def _set_due(self, case: Case, start: int, limit: Limit) -> None:
        d = self.calendar.deadline(start, limit.amount, limit.unit, case.department or None)
        case.due_ts, case.assumed = d.at_ms, case.assumed or d.assumed

    # -- the bus ---------------------------------------------------------------------------------
    def republish(self, since_ms: int) -> int:
        """Publish the log from ``since_ms`` on again (the bus drops the ids it has); returns how many."""
        if self.publish is None:
            return 0
        sent, page = 0, 2_000
        while True:  # every entry of the window, page by page (a busy window holds many)
            entries = self.store.case_entries_since(since_ms, page)
            events: list[Event] = []
            for e in entries:
                case = self.store.case(e.case_id)
                ct = self.types.get(case.type)
                if ct is not None:
                    events.append(changed(ct, _as_of(case, e), e))
            if events:
                self.publish(events)
            sent += len(events)
            if len(entries) < page:
                return sent
            since_ms = entries[-1].ts  # entries of that instant again: the bus drops what it has
            if entries[0].ts == since_ms:  # a page of one instant: step past it
                since_ms += 1


def _as_of(case: Case, e: CaseEntry) -> Case:
    """The case as the entry left it, as far as an event needs (the row holds only the latest)."""
    return case if case.version == e.version else replace(case, state=e.to_state, version=e.version)


def changed(ct: CaseType, case: Case, e: CaseEntry) -> CaseChanged:
    state = ct.state(case.state)
    return CaseChanged(
        key=case.id, ts=e.ts, id=f"{case.id}:v{e.version}", source="cases", type=case.type, action=e.action,
        from_state=e.from_state, to_state=e.to_state, version=e.version, actor=e.actor,
        department=e.department or case.department, area=case.area, category=case.category,
        opened_ts=case.opened_ts, due_ts=e.due_ts, step_due_ts=e.step_due_ts, closed_ts=case.closed_ts,
        public=state.public, paused=state.pause, final=state.final, assumed=case.assumed,
        fields=dict(e.fields),
    )  # fmt: skip


def advance(
    ct: CaseType,
    current: Case,
    action_name: str,
    actor: Actor,
    fields: dict[str, Any],
    now: int,
    cal: WorkCalendar,
) -> Case:
    """The case after ``action_name`` (pure): ValidationError, ForbiddenError or ConflictError
    name what stops it."""
    action = ct.action(action_name)
    if action is None:
        raise ValidationError([Problem(0, "action", f"{ct.name} has no action {action_name!r}; it has "
                                                    f"{[a.name for a in ct.actions]}")])  # fmt: skip
    here = ct.state(current.state)
    allowed = current.state in action.sources or (ANY in action.sources and not here.final)
    if not allowed:
        can = [a.name for a in ct.actions_from(current.state)]
        raise ConflictError(f"case {current.id} is {here.title}: {action.title} is not possible now "
                            f"(possible: {can})")  # fmt: skip
    if not may(actor, action):
        raise ForbiddenError(
            f"{actor.name} may not {action.title} (needs one of the roles {list(action.roles)})"
        )
    if not may(actor, action, current):
        raise ForbiddenError(f"only the handling department {current.department!r} may {action.title}")
    if missing := _missing(action, fields):
        raise ValidationError([Problem(0, n, f"{action.title} needs {n!r}") for n in missing])
    wrong = [(n, fields[n], ok) for n, ok in action.choices.items() if n in fields and fields[n] not in ok]
    if wrong:
        raise ValidationError([Problem(0, n, f"{v!r} is not one of {list(ok)}") for n, v, ok in wrong])
    if action.before_due and current.due_ts is not None and now > current.due_ts:
        raise ConflictError(f"{action.title} must come before the deadline; case {current.id} is overdue")
    if action.after_stay and here.min_stay is not None and current.entered_ts:
        stay = here.min_stay
        ready = cal.deadline(current.entered_ts, stay.amount, stay.unit, current.department or None).at_ms
        if now < ready:
            until = datetime.fromtimestamp(ready / 1000, BJT).strftime("%Y-%m-%d %H:%M")
            raise ConflictError(f"case {current.id}: {here.title} lasts at least {stay}, until {until}; "
                                f"{action.title} is possible then")  # fmt: skip
    # an action changes what it needs (派单: the department, 答复: the reply) and adds what is new;
    # it never rewrites another field (a note cannot move a case or change the caller's phone)
    kept = {k: v for k, v in fields.items() if k in action.needs or k not in current.fields}
    case = replace(current, fields={**current.fields, **kept}, version=current.version + 1, updated_ts=now)
    for name in ROW_FIELDS:
        value = fields.get(name)
        if name in action.needs and isinstance(value, str) and value:
            setattr(case, name, value)
    limit = ct.limit_for(case.category)
    reclassified = case.category != current.category and limit != ct.limit_for(current.category)
    if reclassified and limit is not None and case.due_ts is not None:
        # 咨询 found to be a 投诉: the new category's limit, counted from the opening (an extension
        # granted before is not carried over); a paused case keeps what was left
        d = cal.deadline(case.opened_ts, limit.amount, limit.unit, case.department or None)
        case.due_ts, case.assumed = d.at_ms, case.assumed or d.assumed
    if action.restarts and limit is not None:
        d = cal.deadline(now, limit.amount, limit.unit, case.department or None)
        case.due_ts, case.assumed, case.closed_ts = d.at_ms, case.assumed or d.assumed, None
    if action.extends is not None and case.due_ts is not None:
        d = cal.deadline(case.due_ts, action.extends.amount, action.extends.unit, case.department or None)
        case.due_ts, case.assumed = d.at_ms, case.assumed or d.assumed
    elif action.extends is not None and case.left_ms is not None:  # paused: more time left on resume
        ext = action.extends
        day = cal.hours_for(case.department or None).day_ms if ext.unit == "working_days" else 86_400_000
        case.left_ms += int(ext.amount * (day if ext.unit in ("working_days", "days") else 3_600_000))
    if action.target is not None and action.target != current.state:
        if action.restarts:  # the allowance starts over: nothing of a pause carries on
            case.paused_since = case.left_ms = None
        else:
            _leave_state(ct, case, now, cal)
        if ct.state(current.state).final:
            case.closed_ts = None  # reopened
        case.state = action.target
        _enter_state(ct, case, now, cal)
    return case


def _leave_state(ct: CaseType, case: Case, now: int, cal: WorkCalendar) -> None:
    """Leaving a pause: the deadline is the allowance that was left, counted from now."""
    limit = ct.limit_for(case.category)
    if not ct.state(case.state).pause or case.left_ms is None or limit is None:
        case.paused_since = case.left_ms = None
        return
    working = limit.unit in WORKING
    d = cal.deadline(
        now, case.left_ms / 3_600_000, "working_hours" if working else "hours", case.department or None
    )
    case.due_ts, case.assumed = d.at_ms, case.assumed or d.assumed
    case.paused_since = case.left_ms = None


def _enter_state(ct: CaseType, case: Case, now: int, cal: WorkCalendar) -> None:
    state = ct.state(case.state)
    case.step_due_ts, case.entered_ts = None, now
    if state.limit is not None:
        d = cal.deadline(now, state.limit.amount, state.limit.unit, case.department or None)
        case.step_due_ts, case.assumed = d.at_ms, case.assumed or d.assumed
    limit = ct.limit_for(case.category)
    if state.pause and case.due_ts is not None and limit is not None:
        if now >= case.due_ts:
            left = 0  # overdue already: resuming, it is due at once
        elif limit.unit in WORKING:
            span = cal.working_time_between(now, case.due_ts, case.department or None)
            left, case.assumed = span.ms, case.assumed or span.assumed
        else:
            left = case.due_ts - now
        case.paused_since, case.left_ms, case.due_ts = now, left, None
    if state.final:
        case.closed_ts, case.step_due_ts = now, None

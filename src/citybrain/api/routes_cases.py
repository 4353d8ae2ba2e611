"""Cases (work orders) over the case engine: open, find, read with the timeline, act (issue 14).

Permissions: the pseudo-scene ``cases`` (read, operate, by area: a case is in its ``area``) says
who may see and change cases at all; each action of a case type then names the roles that may take
it (``core.cases.model.Action``). A case's fields outside its type's ``public_fields`` are shown
only to those who may operate on cases in its area. Commands carry the version the client saw and
a command id of its own: a stale version answers 409 naming both versions, a command id already
applied answers the case as it is with ``replayed: true`` (nothing applied twice).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from citybrain.api.auth import Who, require
from citybrain.api.errors import body_of, status_of
from citybrain.core.cases.duplicates import RADIUS_M, WINDOW_MS, suggest
from citybrain.core.cases.engine import Act, Actor, CaseEngine, Check, Command, Open, Outcome, available
from citybrain.core.cases.model import CaseType, Limit
from citybrain.core.cases.records import Case, CaseEntry, CaseQuery
from citybrain.core.cases.routing import route_for
from citybrain.core.errors import ForbiddenError, NotFoundError
from citybrain.core.store.sql_cases import CASE_MAX
from citybrain.identity.policy import Policy, Principal

router = APIRouter(tags=["cases"])
CASES = "cases"  # the pseudo-scene of the case engine's permissions

_TEXT = r"^[^\x00-\x1f\x7f]*$"
COMMANDS_MAX = 1_000  # commands in one batch
_ONCE = "the client's id of this command: a retry is applied once"
_ID = r"^[A-Za-z0-9._:-]+$"
CommandId = Annotated[str, Field(min_length=1, max_length=100, pattern=_ID, description=_ONCE)]
Fields = Annotated[dict[str, Any], Field(max_length=100, description="what the command carries")]
Note = Annotated[str, Field(max_length=2000, pattern=_TEXT)]


class CaseOpened(BaseModel):
    type: str = Field(min_length=3, max_length=100, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    command_id: CommandId
    fields: Fields = {}
    department: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    area: str = Field("", max_length=15, pattern=r"^[0-9]*$", description="administrative or unit-grid code")
    category: str = Field("", max_length=64, pattern=_TEXT)
    title: str = Field("", max_length=200, pattern=_TEXT)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    note: Note = ""


class CaseCommand(BaseModel):
    version: int = Field(ge=1, le=1_000_000, description="the case's version the decision was made on")
    command_id: CommandId
    fields: Fields = {}
    note: Note = ""


class OpenCommand(CaseOpened):
    op: Literal["open"]


class ActCommand(CaseCommand):
    op: Literal["act"]
    case_id: str = Field(min_length=1, max_length=64, pattern=_ID)
    action: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")


class CaseCommands(BaseModel):
    commands: list[Annotated[OpenCommand | ActCommand, Field(discriminator="op")]] = Field(
        min_length=1, max_length=COMMANDS_MAX
    )


def _opening(body: CaseOpened) -> Open:
    return Open(body.type, body.command_id, body.fields, body.department, body.area, body.category,
                body.title, body.lon, body.lat, body.note)  # fmt: skip


def _area_check(request: Request, who: Who) -> Check:
    """The engine's check of each case a command touches: the caller may operate in its area."""
    policy = _policy(request)

    def check(case: Case) -> None:
        if not may(policy, who.principal, "operate", case.area):
            raise ForbiddenError(f"{who.name} may not operate on cases in area {case.area or '-'}")

    return check


def _answer(engine: CaseEngine, out: Outcome) -> dict[str, Any]:
    ct = engine.case_type(out.case.type)
    return {**case_view(ct, out.case, True, engine.clock()), "replayed": out.replayed}


def actor_of(who: Who) -> Actor:
    """The engine's actor: an admin token acts as an administrator."""
    p = who.principal
    return Actor(who.actor, p.roles + (("admin",) if "scope:admin" in p.roles else ()), p.department)


def _engine(request: Request) -> CaseEngine:
    engine: CaseEngine = request.app.state.platform.cases
    return engine


def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


def _limit(limit: Limit | None) -> dict[str, Any] | None:
    return None if limit is None else {"amount": limit.amount, "unit": limit.unit, "text": str(limit)}


def case_view(ct: CaseType, case: Case, private: bool, now: int) -> dict[str, Any]:
    """A case as the API shows it: private fields only when ``private``."""
    state = ct.state(case.state)
    due = [t for t in (case.due_ts, case.step_due_ts) if t is not None]
    return {
        "id": case.id, "type": case.type, "type_title": ct.title, "state": case.state,
        "state_title": state.title, "status": state.public, "version": case.version,
        "opened_ts": case.opened_ts, "updated_ts": case.updated_ts, "department": case.department,
        "area": case.area, "category": case.category, "title": case.title, "due_ts": case.due_ts,
        "step_due_ts": case.step_due_ts, "closed_ts": case.closed_ts, "paused": state.pause,
        "overdue": case.closed_ts is None and any(now > t for t in due),
        "on_time": None if case.closed_ts is None or case.due_ts is None else case.closed_ts <= case.due_ts,
        "assumed_calendar": case.assumed, "lon": case.lon, "lat": case.lat,
        "fields": fields_view(ct, case.fields, private), "suggested": _suggested(ct, case),
    }  # fmt: skip


def _suggested(ct: CaseType, case: Case) -> dict[str, str] | None:
    """Where the routing rules send an open case (the dispatcher's default), and why."""
    s = route_for(ct.routes, case.category, case.area) if case.closed_ts is None else None
    return None if s is None else {"department": s.department, "why": s.why}


def fields_view(ct: CaseType, fields: dict[str, Any], private: bool) -> dict[str, Any]:
    return dict(fields) if private else {k: v for k, v in fields.items() if k in ct.public_fields}


def entry_view(ct: CaseType, e: CaseEntry, private: bool) -> dict[str, Any]:
    action = ct.action(e.action)
    titles = {s.name: s.title for s in ct.states}
    return {
        "version": e.version, "ts": e.ts, "actor": e.actor, "action": e.action,
        "action_title": action.title if action else "受理 / opened", "from_state": e.from_state,
        "from_title": titles.get(e.from_state, ""), "to_state": e.to_state,
        "to_title": titles.get(e.to_state, ""), "fields": fields_view(ct, e.fields, private),
        "note": e.note if private else "",  # notes are the workers' own words: not for every reader
    }  # fmt: skip


def type_view(ct: CaseType) -> dict[str, Any]:
    return {
        "name": ct.name, "title": ct.title, "initial": ct.initial, "limit": _limit(ct.limit),
        "public_fields": list(ct.public_fields),
        "limits_by_category": {k: _limit(v) for k, v in ct.limits_by_category.items()},
        "states": [{"name": s.name, "title": s.title, "status": s.public, "limit": _limit(s.limit),
                    "pause": s.pause, "final": s.final} for s in ct.states],
        "actions": [{"name": a.name, "title": a.title, "from": list(a.sources), "to": a.target,
                     "roles": list(a.roles), "needs": list(a.needs), "own_department": a.own_department}
                    for a in ct.actions],
    }  # fmt: skip


def may(policy: Policy, p: Principal, action: str, area: str) -> bool:
    """May ``p`` take ``action`` on cases in ``area``? A case without an area is everyone's
    business only for those whose grant covers every area (else any area grant would admit it)."""
    if not area:
        return policy.areas(p, CASES, action) is None
    return policy.allows(p, CASES, action, area)


def _check_area(policy: Policy, who: Who, action: str, case: Case) -> None:
    if not may(policy, who.principal, action, case.area):
        raise ForbiddenError(f"{who.name} may not {action} cases in area {case.area or '-'}")


@router.get("/api/v1/case-types", summary="The declared kinds of case: states, actions, limits")
def case_types(request: Request, _: Who = Depends(require("read"))) -> list[dict[str, Any]]:
    return [type_view(ct) for ct in _engine(request).types.values()]


@router.post("/api/v1/cases", status_code=201, summary="Open a case (a 12345 call, a report, an appeal)")
async def open_case(
    request: Request, body: CaseOpened, who: Who = Depends(require("operate"))
) -> dict[str, Any]:
    engine = _engine(request)
    out = await run_in_threadpool(engine.one, _opening(body), actor_of(who), _area_check(request, who))
    return _answer(engine, out)


@router.get("/api/v1/cases", summary="Cases found by type, state, department, area, deadline and text")
async def find_cases(
    request: Request,
    type: str = Query("", max_length=100, pattern=_TEXT),
    scene: str = Query("", max_length=64, pattern=_TEXT),
    state: list[str] = Query([], max_length=20),
    department: str = Query("", max_length=64, pattern=_TEXT),
    area: str = Query("", max_length=15, pattern=r"^[0-9]*$", description="a code: that area and within"),
    category: str = Query("", max_length=64, pattern=_TEXT),
    open: bool = Query(False, description="only cases not closed"),
    overdue: bool = Query(False, description="only open cases past a deadline"),
    inbox: bool = Query(False, description="only cases the caller may move on now (notes aside)"),
    text: str = Query("", max_length=100, pattern=_TEXT),
    limit: int = Query(200, ge=1, le=CASE_MAX),
    who: Who = Depends(require("read")),
) -> list[dict[str, Any]]:
    policy, engine = _policy(request), _engine(request)
    now = engine.clock()  # the engine's time: what its deadlines are judged against
    granted = policy.areas(who.principal, CASES, "read")
    # the query's area within the caller's: the narrower of the two, for each grant that meets it
    prefixes = (
        [area]
        if granted is None
        else sorted(
            {area if area.startswith(g) else g for g in granted if area.startswith(g) or g.startswith(area)}
        )
    )
    # text over every field only for those who may see them all: a phone number must not tell a
    # read-only caller whose case it is; they search titles (filtered here, over the rest found)
    everything = policy.areas(who.principal, CASES, "operate") is None
    titles = "" if everything else text.lower()
    q = CaseQuery(type=type, scene=scene, states=tuple(state), department=department, category=category,
                  open_only=open or inbox, overdue_at=now if overdue else None,
                  text=text if everything else "", limit=CASE_MAX if inbox or titles else limit)  # fmt: skip
    found: dict[str, Case] = {}
    for prefix in prefixes:
        for c in await run_in_threadpool(engine.store.find_cases, replace(q, area_prefix=prefix)):
            found[c.id] = c
    actor = actor_of(who)
    out: list[dict[str, Any]] = []
    for c in found.values():
        ct = engine.types.get(c.type)
        if ct is None or (inbox and not any(a.target for a in available(ct, c, actor))):
            continue
        if titles and titles not in c.title.lower():
            continue
        out.append(case_view(ct, c, may(policy, who.principal, "operate", c.area), now))
        if len(out) >= limit:
            break
    return out


@router.get(
    "/api/v1/cases/{case_id}", summary="One case with its timeline and the actions the caller may take"
)
async def get_case(request: Request, case_id: str, who: Who = Depends(require("read"))) -> dict[str, Any]:
    policy, engine = _policy(request), _engine(request)
    case = await run_in_threadpool(engine.store.case, case_id)
    _check_area(policy, who, "read", case)
    ct = engine.types.get(case.type)
    if ct is None:
        raise NotFoundError(f"case {case_id!r} is of type {case.type!r}, which no scene declares")
    private = may(policy, who.principal, "operate", case.area)
    entries = await run_in_threadpool(engine.store.case_entries, case_id)
    return {
        **case_view(ct, case, private, engine.clock()),
        "timeline": [entry_view(ct, e, private) for e in entries],
        "actions": [
            {"name": a.name, "title": a.title, "needs": list(a.needs), "to": a.target}
            for a in (available(ct, case, actor_of(who)) if private else [])
        ],
        "case_type": type_view(ct),
    }


@router.post(
    "/api/v1/cases/{case_id}/actions/{action}", summary="Take an action on a case (签收, 办结, 回访 ...)"
)
async def act(
    request: Request, case_id: str, action: str, body: CaseCommand, who: Who = Depends(require("operate"))
) -> dict[str, Any]:
    engine = _engine(request)
    command = Act(case_id, action, body.command_id, body.version, body.fields, body.note)
    out = await run_in_threadpool(engine.one, command, actor_of(who), _area_check(request, who))
    return _answer(engine, out)


@router.post(
    "/api/v1/cases/commands",
    summary="Many commands at once (an integration's batch): each answered on its own, in order",
)
async def commands(
    request: Request, body: CaseCommands, who: Who = Depends(require("operate"))
) -> dict[str, Any]:
    """Opens and actions of one caller, applied in order and each answered with its own status
    (201 opened, 200 acted, 4xx refused and why); a refused command does not stop the others, and
    one command may act on a case another opened or moved earlier in the same batch."""
    engine = _engine(request)
    batch: list[Command] = [
        _opening(c) if isinstance(c, OpenCommand) else
        Act(c.case_id, c.action, c.command_id, c.version, c.fields, c.note)
        for c in body.commands
    ]  # fmt: skip
    answers = await run_in_threadpool(engine.run, batch, actor_of(who), _area_check(request, who))
    out: list[dict[str, Any]] = []
    for command, answer in zip(batch, answers, strict=True):
        if isinstance(answer, Outcome):
            status = 201 if isinstance(command, Open) and not answer.replayed else 200
            out.append({"status": status, "case": _answer(engine, answer)})
        else:
            out.append({"status": status_of(answer), **body_of(answer)})
    return {"answers": out, "applied": sum(1 for a in answers if isinstance(a, Outcome) and not a.replayed)}


@router.get(
    "/api/v1/cases/{case_id}/duplicates",
    summary="并单 suggestions: open cases of the same type and category nearby, opened around the same time",
)
async def duplicates(
    request: Request,
    case_id: str,
    radius_m: float = Query(RADIUS_M, gt=0, le=10_000, description="how near counts as the same place"),
    window_h: float = Query(WINDOW_MS / 3_600_000, gt=0, le=24 * 90, description="opened this close in time"),
    who: Who = Depends(require("read")),
) -> list[dict[str, Any]]:
    policy, engine = _policy(request), _engine(request)
    case = await run_in_threadpool(engine.store.case, case_id)
    _check_area(policy, who, "read", case)
    found = await run_in_threadpool(suggest, engine.store, case, radius_m, int(window_h * 3_600_000))
    now = engine.clock()  # the engine's time: what its deadlines are judged against
    p = who.principal
    return [
        {**case_view(engine.types[d.case.type], d.case, may(policy, p, "operate", d.case.area), now),
         "distance_m": d.distance_m}
        for d in found
        if d.case.type in engine.types and may(policy, p, "read", d.case.area)
    ]  # fmt: skip

"""Welfare API (mounted at /api/v1/scenes/welfare).

Every answer names personal fields the same way (``name``, ``id_number``, ``phone``, ``address``,
``bank_account``, ``diagnosis``): the platform's field guard masks them for the roles whose masks
name them and audits every read that shows them (``api/masking.py``); the household page is also
audited on every read, whoever reads it. Every list holds only the caller's areas (a village cadre
sees their village). Sensitive values are stored encrypted and opened here, for the answer only.

| route | scope | what |
|---|---|---|
| GET /overview | read | households screened, at risk by level and type, new today, cases by stage |
| GET /risks | read | households at risk, newest first |
| GET /households/{household} | read | the household page: register, members, every decision explained |
| GET /publicity | read | the 公示 list of a village (no ID, phone, bank or health detail) |
| GET /publicity.csv | read | the same, as a CSV to print |
| GET /delivery/{policy} | read | households newly qualifying for a policy (免申即享), with reasons |
| POST /delivery/{policy}/grants | operate | grant it to them, in one batch, each grant audited |
| POST /screenings | operate | screen everyone now |
| POST /what-if | operate | who would gain or lose under a proposed rule set |
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

import msgspec
from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from citybrain import sdk
from citybrain.scenes.welfare.casetypes import PUBLIC
from citybrain.scenes.welfare.screening import Welfare, screening_day
from citybrain.sdk import data

router = sdk.router(None)
READ = [Depends(sdk.require("read"))]
OPERATE = [Depends(sdk.require("operate"))]
Rt = Annotated[sdk.Runtime[Any], Depends(sdk.runtime)]
Areas = Annotated[sdk.Areas, Depends(sdk.readable_areas)]
Acting = Annotated[tuple[str, Any], Depends(sdk.acting)]
STATES_MAX = 10_000_000  # households with a risk state, read for a list
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
SHOWN = 500  # the most rows of a list answer (the count is of them all)
# register columns -> the names every answer uses for personal fields (masked by role)
HEAD = {
    "head_name": "name",
    "head_id": "id_number",
    "phone": "phone",
    "address": "address",
    "bank_account": "bank_account",
}
MEMBER = {"name": "name", "id_number": "id_number", "relation": "relation", "labour": "labour"}


# -- answers ------------------------------------------------------------------------------------
class StageAnswer(BaseModel):
    state: str
    title: str
    count: int


class OverviewAnswer(BaseModel):
    day: str
    households: int | None  # in the last screening of everyone (None: none yet)
    screened_seconds: float | None
    at_risk: int
    high: int
    medium: int
    new_today: int
    by_type: dict[str, int]
    open_cases: int
    overdue: int
    stages: list[StageAnswer]


class RiskAnswer(BaseModel):
    household: str
    village: str
    village_name: str
    level: str
    types: list[str]
    group: str
    since: int | None
    name: str | None  # 户主姓名 (masked by role)


class RisksAnswer(BaseModel):
    count: int
    items: list[RiskAnswer]


class ClauseAnswer(BaseModel):
    name: str
    title: str
    expr: str
    result: bool | None
    values: dict[str, Any]
    params: dict[str, Any]


class DecisionAnswer(BaseModel):
    policy: str
    title: str
    outcome: str
    region: str
    version: str
    valid_from: str
    source: str
    failed: list[str]
    unknown: list[str]
    clauses: list[ClauseAnswer]
    sources: dict[str, dict[str, str]]  # feature -> dataset, its title, owner, as-of date


class PersonAnswer(BaseModel):
    name: str | None
    id_number: str | None
    relation: str | None
    labour: str | None


class CaseRef(BaseModel):
    id: str
    type: str
    state: str
    title: str
    due_ts: int | None
    step_due_ts: int | None


class HouseholdAnswer(BaseModel):
    household: str
    village: str
    village_name: str
    status: str | None
    members: int | None
    name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    bank_account: str | None
    people: list[PersonAnswer]
    risk: dict[str, Any] | None
    features: dict[str, Any]
    decisions: list[DecisionAnswer]
    cases: list[CaseRef]


class NoticeRow(BaseModel):
    case: str
    household: str
    village_name: str
    name: str | None  # 户主姓名: a notice names the household, never its ID, phone, bank or health
    members: int | None
    group: str
    risk_types: list[str]
    since_ts: int


class NoticeAnswer(BaseModel):
    village: str
    village_name: str
    title: str
    items: list[NoticeRow]


class DeliveryRow(BaseModel):
    household: str
    village: str
    name: str | None
    amount_month: float | None
    version: str


class DeliveryAnswer(BaseModel):
    policy: str
    title: str
    month: str
    count: int
    items: list[DeliveryRow]


class GrantBody(BaseModel):
    households: list[str] = Field(min_length=1, max_length=1_000)


class GrantAnswer(BaseModel):
    policy: str
    month: str
    granted: list[str]  # case ids
    already: int  # granted before for this month
    refused: dict[str, str]  # household -> why


class ScreeningAnswer(BaseModel):
    run: str
    day: str
    households: int
    at_risk: int
    seconds: float


class WhatIfBody(BaseModel):
    ruleset: dict[str, Any]  # a [[rulesets]] table as JSON (docs/rules.md)


class WhatIfAnswer(BaseModel):
    policy: str
    gain: int
    lose: int
    changes: list[dict[str, Any]]  # the first 500: key, before, after, failed_before, failed_after


# -- helpers ------------------------------------------------------------------------------------
def _welfare(rt: sdk.Runtime[Any]) -> Welfare:
    w: Welfare = rt.world
    return w


def _authorised(w: Welfare, values: dict[str, Any]) -> bool:
    """Whether the household's data may be compared: every rule set's ``requires`` holds."""
    gates = {rs.requires for rs in w.model.book.sets if rs.requires}
    return all(values.get(g) is True for g in gates)


def _place(code: str) -> str:
    return data.nanchang().full_name(code) if code else ""


def _opened(rt: sdk.Runtime[Any], ds: str, row: dict[str, Any]) -> dict[str, Any]:
    """A current row with its sensitive columns opened (they are stored sealed)."""
    cipher = getattr(rt.aggregator, "cipher", None)
    return dict(cipher.open_row(rt.aggregator.dataset(ds), row)) if cipher is not None else dict(row)


def _register(rt: sdk.Runtime[Any], keys: list[str]) -> dict[str, dict[str, Any]]:
    w = _welfare(rt)
    rows = rt.aggregator.store.current_rows(w.model.subjects.dataset, keys) if keys else []
    return {r.key: _opened(rt, w.model.subjects.dataset, r.data) for r in rows}


def _risk_states(rt: sdk.Runtime[Any], areas: sdk.Areas) -> list[dict[str, Any]]:
    out = []
    for s in rt.store.states("welfare", limit=STATES_MAX):
        d = s["data"]
        if d.get("level") not in (None, "none") and areas.admit(d.get("area")):
            out.append({"household": s["key"], **d})
    return out


def _day_start(now: int) -> int:
    return now - (now + 8 * 3_600_000) % 86_400_000


# -- routes -------------------------------------------------------------------------------------
@router.get("/overview", dependencies=READ, summary="Households screened, at risk, new today, cases by stage")
def overview(rt: Rt, areas: Areas) -> OverviewAnswer:
    now = sdk.now_ms()
    risks = _risk_states(rt, areas)
    by_type: dict[str, int] = {}
    for r in risks:
        for t in r.get("types") or []:
            by_type[t] = by_type.get(t, 0) + 1
    engine = rt.cases
    ct = engine.types["welfare.relapse"]
    cases = [
        c
        for c in engine.store.find_cases(sdk.CaseQuery(type=ct.name, open_only=True, limit=100_000))
        if areas.admit(c.area)
    ]
    counts: dict[str, int] = {}
    for c in cases:
        counts[c.state] = counts.get(c.state, 0) + 1
    overdue = sum(1 for c in cases if (c.due_ts or now + 1) < now or (c.step_due_ts or now + 1) < now)
    last = _welfare(rt).screener(rt).last
    return OverviewAnswer(
        day=screening_day(now).isoformat(),
        households=last.get("households"),
        screened_seconds=last.get("seconds"),
        at_risk=len(risks),
        high=sum(1 for r in risks if r["level"] == "high"),
        medium=sum(1 for r in risks if r["level"] == "medium"),
        new_today=sum(1 for r in risks if (r.get("since") or 0) >= _day_start(now)),
        by_type=by_type,
        open_cases=len(cases),
        overdue=overdue,
        stages=[
            StageAnswer(state=s.name, title=s.title, count=counts.get(s.name, 0))
            for s in ct.states
            if not s.final
        ],
    )


@router.get("/risks", dependencies=READ, summary="Households at risk of falling (back) into poverty")
def risks(
    rt: Rt,
    areas: Areas,
    level: Annotated[str | None, Query(pattern="^(high|medium)$")] = None,
    area: Annotated[
        str | None, Query(pattern="^[0-9]{2,12}$", description="a district, township or village")
    ] = None,
) -> RisksAnswer:
    found = [
        r
        for r in _risk_states(rt, areas)
        if (level is None or r["level"] == level)
        and (area is None or str(r.get("area", "")).startswith(area))
    ]
    found.sort(key=lambda r: (-(r.get("since") or 0), r["household"]))
    shown = found[:SHOWN]
    heads = _register(rt, [r["household"] for r in shown])
    return RisksAnswer(
        count=len(found),
        items=[
            RiskAnswer(
                household=r["household"],
                village=r.get("area", ""),
                village_name=_place(r.get("area", "")),
                level=r["level"],
                types=r.get("types") or [],
                group=r.get("group", ""),
                since=r.get("since"),
                name=heads.get(r["household"], {}).get("head_name"),
            )
            for r in shown
        ],
    )


@router.get(
    "/households/{household}", dependencies=READ, summary="A household: data, decisions explained, cases"
)
def household(rt: Rt, areas: Areas, acting: Acting, household: str) -> HouseholdAnswer:
    w = _welfare(rt)
    reg = _register(rt, [household]).get(household)
    if reg is None or not areas.admit(str(reg.get(w.model.subjects.area, ""))):
        raise sdk.NotFoundError(f"household {household!r} is not in the register of your areas")
    village = str(reg.get(w.model.subjects.area, ""))
    rt.audit(acting[0], "read", f"welfare household {household}", {"village": village})
    day = screening_day(sdk.now_ms())
    pop = w.model.population(rt.aggregator.store, day, [household])
    values = pop.table.to_pylist()[0] if pop.table.num_rows else {}
    members_ds = next((f.via for f in w.model.features if f.via), "")
    people = []
    if members_ds:
        by = (w.model.subjects.key, [household])
        table = rt.aggregator.store.current_table(members_ds, [w.model.subjects.key], by)
        for row in rt.aggregator.store.current_rows(members_ds, table.column("key").to_pylist()):
            opened = _opened(rt, members_ds, row.data)
            people.append(PersonAnswer(**{v: opened.get(k) for k, v in MEMBER.items()}))
    decisions = []
    for policy in w.model.policies:
        rs = w.model.book.for_area(policy, village, day)
        if rs is None:
            continue
        d = data.explain(rs, household, values, pop.sources)
        sources = {
            f: {
                **s,
                "title": w.model.datasets[s["dataset"]].title,
                "owner": w.model.datasets[s["dataset"]].owner,
            }
            for f, s in d.sources.items()
        }
        decisions.append(
            DecisionAnswer(
                policy=policy,
                title=rs.title,
                outcome=d.outcome,
                region=d.region,
                version=d.version,
                valid_from=d.valid_from,
                source=rs.source,
                failed=d.failed,
                unknown=d.unknown,
                clauses=[
                    ClauseAnswer(
                        name=c.name,
                        title=c.title,
                        expr=c.expr,
                        result=c.result,
                        values=c.values,
                        params=c.params,
                    )
                    for c in d.clauses
                ],
                sources=sources,
            )
        )
    state = rt.store.states("welfare", household, limit=1)
    cases = [
        c
        for c in rt.cases.store.find_cases(sdk.CaseQuery(scene="welfare", area_prefix=village, limit=10_000))
        if c.fields.get("household") == household
    ]
    return HouseholdAnswer(
        household=household,
        village=village,
        village_name=_place(village),
        status=reg.get("status"),
        members=reg.get("members"),
        **{v: reg.get(k) for k, v in HEAD.items()},
        people=people,
        risk=state[0]["data"] if state else None,
        # the values compared: only with a 授权书 in force (without one nothing is compared)
        features=(
            {k: v for k, v in values.items() if k not in ("key", "area")} if _authorised(w, values) else {}
        ),
        decisions=decisions,
        cases=[
            CaseRef(
                id=c.id, type=c.type, state=c.state, title=c.title, due_ts=c.due_ts, step_due_ts=c.step_due_ts
            )
            for c in cases
        ],
    )


def _notice(rt: sdk.Runtime[Any], areas: sdk.Areas, village: str) -> NoticeAnswer:
    if not areas.admit(village):
        raise sdk.NotFoundError(f"village {village} is not one of your areas")
    found = rt.cases.store.find_cases(
        sdk.CaseQuery(type="welfare.relapse", states=("publicity",), area_prefix=village, limit=10_000)
    )
    heads = _register(rt, [str(c.fields.get("household", "")) for c in found])
    items = []
    for c in sorted(found, key=lambda c: c.id):
        hid = str(c.fields.get("household", ""))
        reg = heads.get(hid, {})
        items.append(
            NoticeRow(
                case=c.id,
                household=hid,
                village_name=_place(c.area),
                name=reg.get("head_name"),
                members=reg.get("members"),
                group=str(c.fields.get("group") or ""),
                risk_types=list(c.fields.get("risk_types") or []),
                since_ts=c.entered_ts or c.updated_ts,
            )
        )
    return NoticeAnswer(
        village=village,
        village_name=_place(village),
        title=f"{_place(village)} 防返贫监测对象认定公示",
        items=items,
    )


VILLAGE = Annotated[str, Query(pattern="^[0-9]{12}$", description="the village or community (12 digits)")]


@router.get("/publicity", dependencies=READ, summary="公示: the households of a village in publicity")
def publicity(rt: Rt, areas: Areas, village: VILLAGE) -> NoticeAnswer:
    return _notice(rt, areas, village)


@router.get(
    "/publicity.csv",
    dependencies=READ,
    summary="公示 as a CSV to print",
    response_class=Response,
    responses=CSV,
)
def publicity_csv(rt: Rt, areas: Areas, village: VILLAGE) -> Response:
    notice = _notice(rt, areas, village)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    cols = ["case", "household", "village_name", "name", "members", "group", "risk_types"]
    w.writerow(cols)
    for row in notice.items:
        d = row.model_dump()
        w.writerow([("、".join(d[c]) if c == "risk_types" else d[c]) for c in cols])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


def _month(now: int) -> str:
    return screening_day(now).strftime("%Y-%m")


def _qualifying(rt: sdk.Runtime[Any], areas: sdk.Areas, policy: str) -> tuple[str, list[DeliveryRow]]:
    w = _welfare(rt)
    if policy not in w.model.cfg.delivery:
        raise sdk.NotFoundError(
            f"{policy!r} is not granted without application here; those are {w.model.cfg.delivery}"
        )
    now = sdk.now_ms()
    day = screening_day(now)
    pop = w.model.population(rt.aggregator.store, day)
    decided = data.screen(w.model.book, policy, day, pop.table).to_pylist()
    eligible = [r for r in decided if r["outcome"] == "eligible"]
    areas_of = dict(
        zip(pop.table.column("key").to_pylist(), pop.table.column("area").to_pylist(), strict=True)
    )
    eligible = [r for r in eligible if areas.admit(areas_of.get(r["key"]))]
    status = (
        dict(zip(pop.table.column("key").to_pylist(), pop.table.column("status").to_pylist(), strict=True))
        if "status" in pop.table.column_names
        else {}
    )
    if policy == w.model.cfg.eligibility:  # already in the programme: nothing new to grant
        eligible = [r for r in eligible if status.get(r["key"]) not in ("低保户", "特困户")]
    month = _month(now)
    done = rt.cases.store.cases_by_commands([f"grant:{policy}:{month}:{r['key']}" for r in eligible])
    fresh = [r for r in eligible if f"grant:{policy}:{month}:{r['key']}" not in done]
    title = next((rs.title for rs in w.model.book.in_force(policy, day)), policy)
    heads = _register(rt, [r["key"] for r in fresh[:SHOWN]])
    amounts = {
        rs.region: rs.params.get("amount_month", rs.params.get("standard_month"))
        for rs in w.model.book.in_force(policy, day)
    }
    rows = [
        DeliveryRow(
            household=r["key"],
            village=str(areas_of.get(r["key"]) or ""),
            name=heads.get(r["key"], {}).get("head_name"),
            amount_month=_amount(amounts.get(r["region"])),
            version=r["version"],
        )
        for r in fresh
    ]
    return title, rows


def _amount(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


@router.get("/delivery/{policy}", dependencies=READ, summary="免申即享: households newly qualifying")
def delivery(rt: Rt, areas: Areas, policy: str) -> DeliveryAnswer:
    title, rows = _qualifying(rt, areas, policy)
    return DeliveryAnswer(
        policy=policy, title=title, month=_month(sdk.now_ms()), count=len(rows), items=rows[:SHOWN]
    )


@router.post(
    "/delivery/{policy}/grants", dependencies=OPERATE, summary="Grant a policy to households, once a month"
)
def grant(rt: Rt, areas: Areas, acting: Acting, policy: str, body: GrantBody) -> GrantAnswer:
    _, rows = _qualifying(rt, areas, policy)
    by_key = {r.household: r for r in rows}
    month = _month(sdk.now_ms())
    refused: dict[str, str] = {}
    commands = []
    for hid in dict.fromkeys(body.households):
        row = by_key.get(hid)
        if row is None:
            refused[hid] = "does not qualify now, is not in your areas, or was granted this month"
            continue
        commands.append(
            sdk.CaseOpen(
                "welfare.grant",
                f"grant:{policy}:{month}:{hid}",
                area=row.village,
                category=policy,
                title=f"{policy} {month} {hid}",
                fields={
                    "policy": policy,
                    "month": month,
                    "household": hid,
                    "amount_month": row.amount_month,
                    "version": row.version,
                },
            )
        )
    answers = rt.cases.run(commands, acting[1]) if commands else []
    granted, already = [], 0
    for cmd, answer in zip(commands, answers, strict=True):
        if isinstance(answer, sdk.CaseOutcome):
            if answer.replayed:
                already += 1
            else:
                granted.append(answer.case.id)
        else:
            refused[str(cmd.fields["household"])] = str(answer)
    return GrantAnswer(policy=policy, month=month, granted=granted, already=already, refused=refused)


@router.post("/screenings", dependencies=OPERATE, summary="Screen every household now")
def screenings(rt: Rt) -> ScreeningAnswer:
    got = _welfare(rt).screener(rt).full()
    return ScreeningAnswer(**got)


@router.post("/what-if", dependencies=OPERATE, summary="Who would gain or lose under a proposed rule set")
def what_if(rt: Rt, areas: Areas, body: WhatIfBody) -> WhatIfAnswer:
    w = _welfare(rt)
    try:
        spec = msgspec.convert(body.ruleset, data.RuleSetSpec)
    except msgspec.ValidationError as err:
        raise sdk.ValidationError([sdk.Problem(0, "ruleset", str(err))]) from None
    current = {rs.requires for rs in w.model.book.sets if rs.name == spec.name and rs.requires}
    if current and spec.requires not in current:  # a proposal may not compare what is not authorised
        why = f"{spec.name} requires {sorted(current)[0]!r}: a proposal must keep it"
        raise sdk.ValidationError([sdk.Problem(0, "ruleset.requires", why)])
    proposed = data.RuleSet.of(spec)
    if missing := sorted(set(proposed.features) - {f.name for f in w.model.features}):
        raise sdk.ValidationError([sdk.Problem(0, "ruleset.features", f"{missing[0]!r} is not a feature")])
    day = max(screening_day(sdk.now_ms()), date.fromisoformat(spec.valid_from))
    pop = w.model.population(rt.aggregator.store, day)
    changes = data.what_if(w.model.book, spec.name, day, [proposed], pop.table)
    areas_of = dict(
        zip(pop.table.column("key").to_pylist(), pop.table.column("area").to_pylist(), strict=True)
    )
    rows = [r for r in changes.to_pylist() if areas.admit(areas_of.get(r["key"]))]
    return WhatIfAnswer(
        policy=spec.name,
        gain=sum(1 for r in rows if r["after"] == "eligible"),
        lose=sum(1 for r in rows if r["before"] == "eligible"),
        changes=rows[:SHOWN],
    )


__all__ = ["PUBLIC", "router"]

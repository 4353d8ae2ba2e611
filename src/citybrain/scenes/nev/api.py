"""NEV monitoring API: vehicle list with filters, vehicle detail, history (JSON or CSV), fleet
summary by model and region, alarms, and the early-warning rules with their thresholds."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from fastapi import Depends, Query
from fastapi.responses import Response

from citybrain import sdk
from citybrain.scenes.nev import history
from citybrain.scenes.nev.answers import (
    FleetSummary,
    History,
    RulesAnswer,
    VehicleDetail,
    VehicleList,
)
from citybrain.scenes.nev.rules import VEHICLE_ALARM, configured_rules
from citybrain.scenes.nev.settings import NevSettings
from citybrain.scenes.nev.summary import matches, summarise
from citybrain.sdk import AlertQuery, NotFoundError, Problem, ValidationError, now_ms

Rt = Annotated[sdk.Runtime[NevSettings], Depends(sdk.runtime)]
# the vehicles a principal may read: those of its areas (a vehicle's region is an area code)
Seen = Annotated[sdk.Areas, Depends(sdk.readable_areas)]
router = sdk.router("read")

MAX_STATES = 1_000_000
DAY_MS = 86_400_000
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


def _vehicles(rt: Rt, seen: sdk.Areas) -> list[dict[str, Any]]:
    return [
        s["data"] for s in rt.store.states("nev", limit=MAX_STATES) if seen.admit(s["data"].get("region"))
    ]


def _vehicle(rt: Rt, seen: sdk.Areas, vin: str) -> dict[str, Any]:
    found = rt.store.states("nev", key=vin)
    if not found or not seen.admit(found[0]["data"].get("region")):  # outside its areas: as if absent
        raise NotFoundError(f"vehicle {vin} has not reported")
    v: dict[str, Any] = found[0]["data"]
    return v


def _alerts(found: list[Any]) -> list[sdk.AlertAnswer]:
    return [sdk.AlertAnswer.of(a) for a in found]


@router.get("/vehicles", summary="Vehicles with their live state; filters combine")
def vehicle_list(
    rt: Rt,
    seen: Seen,
    status: Literal["online", "offline"] | None = None,
    mode: Literal["driving", "charging", "parked", "unknown"] | None = None,
    model: str | None = None,
    region: str | None = None,
    min_alarm_level: Annotated[int, Query(ge=0, le=3)] = 0,
    q: Annotated[str | None, Query(max_length=17, description="VIN substring")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> VehicleList:
    rows = [v for v in _vehicles(rt, seen) if matches(v, status, mode, model, region, min_alarm_level, q)]
    rows.sort(key=lambda v: (-v.get("alarm_level", 0), v["vin"]))
    page = rows[offset : offset + limit]
    return VehicleList.model_validate({"total": len(rows), "offset": offset, "limit": limit, "items": page})


@router.get("/vehicles/{vin}", summary="One vehicle: mileage, speed, battery, position, alarms")
def vehicle_detail(rt: Rt, seen: Seen, vin: str) -> VehicleDetail:
    v = _vehicle(rt, seen, vin)
    alerts = _alerts(rt.store.alerts(AlertQuery(scene="nev", key=vin, limit=50)))
    # each section reads its fields from the vehicle's state (answers.py names where from)
    sections = {s: v for s in ("driving", "battery", "position", "alarm", "counts")}
    return VehicleDetail.model_validate({**v, "vin": vin, **sections, "alerts": alerts})


@router.get(
    "/vehicles/{vin}/history",
    summary="Track and signals over a time range (JSON or CSV)",
    response_model=History,
    responses=CSV,  # type: ignore[arg-type]
)
def vehicle_history(
    rt: Rt,
    seen: Seen,
    vin: str,
    start: int | None = None,
    end: int | None = None,
    signals: str = ",".join(history.DEFAULT_SIGNALS),
    max_points: Annotated[int, Query(ge=10, le=20_000)] = 1_000,
    format: Literal["json", "csv"] = "json",
) -> History | Response:
    if seen.codes is not None:  # an area-bound principal: only vehicles of its areas
        _vehicle(rt, seen, vin)
    end = end if end is not None else now_ms() + 1
    start = start if start is not None else end - DAY_MS
    names = [n.strip() for n in signals.split(",") if n.strip()]
    problems = [Problem(0, "signals", f"unknown signal {n!r}; known: {', '.join(history.BY_NAME)}")
                for n in names if n not in history.BY_NAME]  # fmt: skip
    if start >= end:
        problems.append(Problem(0, "start", "start must be before end"))
    if problems:
        raise ValidationError(problems)
    result = history.query(rt.store, vin, names, start, end, max_points)
    if format == "csv":
        return Response(
            history.to_csv(result), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{_safe(vin)}-{start}-{end}.csv"'},
        )  # fmt: skip
    return History.model_validate(result)


def _safe(name: str) -> str:
    """``name`` fit for a header's file name: ASCII letters, digits, ``.-_`` (a VIN has only these)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64]


@router.get("/summary", summary="Fleet figures: online, charging, driving, in alarm; by model and region")
def summary(rt: Rt, seen: Seen) -> FleetSummary:
    out = summarise(_vehicles(rt, seen), rt.settings)
    out["open_alerts"] = len(rt.store.alerts(AlertQuery(status="open", scene="nev", limit=100_000)))
    return FleetSummary.model_validate(out)


@router.get("/alarms", summary="Vehicle alarms and early warnings (platform alerts of this scene)")
def alarms(
    rt: Rt,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    severity: Literal["info", "warning", "major", "critical"] | None = None,
    rule: str | None = None,
    vin: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[sdk.AlertAnswer]:
    found = rt.store.alerts(AlertQuery(status=status, severity=severity, scene="nev", key=vin,
                                       limit=limit if rule is None else 100_000))  # fmt: skip
    return _alerts([a for a in found if rule is None or a.rule == rule][:limit])


@router.get("/rules", summary="Early-warning and alarm rules with their thresholds and reasons")
def rules(rt: Rt) -> RulesAnswer:
    cfg = rt.settings
    active = [VEHICLE_ALARM, *configured_rules(cfg.warnings)]
    return RulesAnswer.model_validate(
        {"thresholds": msgspec.to_builtins(cfg.warnings), "offline_after_ms": cfg.offline_after_ms,
         "rules": active},
        from_attributes=True,  # each rule's answer fields are read from the AlertRule
    )  # fmt: skip

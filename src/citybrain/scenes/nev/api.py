"""NEV monitoring API: vehicle list with filters, vehicle detail, history (JSON or CSV), fleet
summary by model and region, alarms, and the early-warning rules with their thresholds."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from citybrain.api.auth import require
from citybrain.core.errors import NotFoundError, Problem, ValidationError
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.nev import history
from citybrain.scenes.nev.config import load_config
from citybrain.scenes.nev.processors import VEHICLE_ALARM
from citybrain.scenes.nev.summary import LIST_FIELDS, matches, summarise
from citybrain.scenes.nev.warnings import configured_rules

MAX_STATES = 1_000_000
DAY_MS = 86_400_000


def routes(platform: Any) -> APIRouter:
    cfg = load_config(platform.settings.scenes.get("nev", {}))
    router = APIRouter(dependencies=[Depends(require("read"))])

    def vehicles() -> list[dict[str, Any]]:
        return [s["data"] for s in platform.store.states("nev", limit=MAX_STATES)]

    @router.get("/vehicles", summary="Vehicles with their live state; filters combine")
    def vehicle_list(
        status: Literal["online", "offline"] | None = None,
        mode: Literal["driving", "charging", "parked", "unknown"] | None = None,
        model: str | None = None,
        region: str | None = None,
        min_alarm_level: Annotated[int, Query(ge=0, le=3)] = 0,
        q: Annotated[str | None, Query(max_length=17, description="VIN substring")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        rows = [v for v in vehicles() if matches(v, status, mode, model, region, min_alarm_level, q)]
        rows.sort(key=lambda v: (-v.get("alarm_level", 0), v["vin"]))
        items = [{k: v.get(k) for k in LIST_FIELDS} for v in rows[offset : offset + limit]]
        return {"total": len(rows), "offset": offset, "limit": limit, "items": items}

    @router.get("/vehicles/{vin}", summary="One vehicle: mileage, speed, battery, position, alarms")
    def vehicle_detail(vin: str) -> dict[str, Any]:
        found = platform.store.states("nev", key=vin)
        if not found:
            raise NotFoundError(f"vehicle {vin} has not reported")
        v = found[0]["data"]
        alerts = platform.store.alerts(AlertQuery(scene="nev", key=vin, limit=50))
        return {
            "vin": vin,
            "model": v["model"], "model_name": v["model_name"], "region": v["region"],
            "region_name": v["region_name"], "edition": v["edition"],
            "online": v["online"], "mode": v["mode"], "last_seen": v["last_seen"], "ts": v["ts"],
            "driving": {"speed_kmh": v["speed_kmh"], "odometer_km": v["odometer_km"], "gear": v["gear"],
                        "vehicle_state": v["vehicle_state"]},
            "battery": {
                "soc_pct": v["soc_pct"], "voltage_v": v["total_voltage_v"], "current_a": v["total_current_a"],
                "charging_state": v["charging_state"], "max_cell_v": v["max_cell_v"],
                "min_cell_v": v["min_cell_v"], "max_temp_c": v["max_temp_c"], "min_temp_c": v["min_temp_c"],
                "insulation_kohm": v["insulation_kohm"],
            },
            "position": {"lon": v["lon"], "lat": v["lat"], "fix_valid": v["fix_valid"],
                         "ts": v["position_ts"]},
            "alarm": {"level": v["alarm_level"], "level_words": v["alarm_level_words"],
                      "flags": v["alarm_flags"], "alarms": v["alarms"], "words": v["alarm_words"],
                      "faults": v["faults"], "since": v["alarm_since"]},
            "alerts": [msgspec.to_builtins(a) for a in alerts],
            "counts": {"reports": v["reports"], "reissues": v["reissues"]},
        }  # fmt: skip

    @router.get("/vehicles/{vin}/history", summary="Track and signals over a time range (JSON or CSV)")
    def vehicle_history(
        vin: str,
        start: int | None = None,
        end: int | None = None,
        signals: str = ",".join(history.DEFAULT_SIGNALS),
        max_points: Annotated[int, Query(ge=10, le=20_000)] = 1_000,
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        end = end if end is not None else int(time.time() * 1000) + 1
        start = start if start is not None else end - DAY_MS
        names = [n.strip() for n in signals.split(",") if n.strip()]
        problems = [Problem(0, "signals", f"unknown signal {n!r}; known: {', '.join(history.BY_NAME)}")
                    for n in names if n not in history.BY_NAME]  # fmt: skip
        if start >= end:
            problems.append(Problem(0, "start", "start must be before end"))
        if problems:
            raise ValidationError(problems)
        result = history.query(platform.store, vin, names, start, end, max_points)
        if format == "csv":
            return Response(
                history.to_csv(result), media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{vin}-{start}-{end}.csv"'},
            )  # fmt: skip
        return result

    @router.get("/summary", summary="Fleet figures: online, charging, driving, in alarm; by model and region")
    def summary() -> dict[str, Any]:
        out = summarise(vehicles(), cfg)
        out["open_alerts"] = len(platform.store.alerts(AlertQuery(status="open", scene="nev", limit=100_000)))
        return out

    @router.get("/alarms", summary="Vehicle alarms and early warnings (platform alerts of this scene)")
    def alarms(
        status: Literal["open", "acknowledged", "resolved"] | None = None,
        severity: Literal["info", "warning", "major", "critical"] | None = None,
        rule: str | None = None,
        vin: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    ) -> list[dict[str, Any]]:
        found = platform.store.alerts(AlertQuery(status=status, severity=severity, scene="nev", key=vin,
                                                 limit=limit if rule is None else 100_000))  # fmt: skip
        rows = [msgspec.to_builtins(a) for a in found if rule is None or a.rule == rule]
        return rows[:limit]

    @router.get("/rules", summary="Early-warning and alarm rules with their thresholds and reasons")
    def rules() -> dict[str, Any]:
        active = [VEHICLE_ALARM, *configured_rules(cfg.warnings)]
        return {
            "thresholds": msgspec.to_builtins(cfg.warnings),
            "offline_after_ms": cfg.offline_after_ms,
            "rules": [{"name": r.name, "title": r.title, "severity": r.severity, "for_ms": r.for_ms,
                       "clear_ms": r.clear_ms, "doc": r.doc} for r in active],
        }  # fmt: skip

    return router

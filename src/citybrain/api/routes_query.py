"""Query API: scenes, entity states, metric ranges with bucketing, alerts and their lifecycle."""

from __future__ import annotations

import math
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from citybrain.api.answers import AlertAnswer
from citybrain.api.auth import Who, authorize, require
from citybrain.core.errors import NotFoundError, Problem, ValidationError
from citybrain.core.events import MAX_TS
from citybrain.core.store.base import AlertQuery

router = APIRouter(tags=["query"])
NICE_BUCKETS_MS = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000,
                   10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000]  # fmt: skip


def _platform(request: Request) -> Any:
    return request.app.state.platform


@router.get("/api/v1/scenes", summary="Installed scenes with their events, alert rules and panel")
def scenes(request: Request, _: Who = Depends(require("read"))) -> list[dict[str, Any]]:
    return [s.describe() for s in _platform(request).scenes.values()]


@router.get("/api/v1/entities/{scene}", summary="Latest state of every entity of a scene")
def entities(request: Request, scene: str, _: Who = Depends(require("read"))) -> list[dict[str, Any]]:
    p = _platform(request)
    if scene not in p.scenes:
        raise NotFoundError(f"scene {scene!r} is not installed; installed: {sorted(p.scenes)}")
    states: list[dict[str, Any]] = p.store.states(scene)
    return states


@router.get("/api/v1/entities/{scene}/{key}", summary="Latest state of one entity")
def entity(request: Request, scene: str, key: str, _: Who = Depends(require("read"))) -> dict[str, Any]:
    rows = _platform(request).store.states(scene, key)
    if not rows:
        raise NotFoundError(f"no state for {key!r} in scene {scene!r}")
    row: dict[str, Any] = rows[0]
    return row


@router.get("/api/v1/metrics/{name}/keys", summary="Entity keys that have values of a metric")
def metric_keys(request: Request, name: str, _: Who = Depends(require("read"))) -> list[str]:
    keys: list[str] = _platform(request).store.metric_keys(name)
    return keys


def choose_bucket(start: int, end: int, max_points: int) -> int:
    """The smallest 'nice' bucket that keeps a range within ``max_points`` buckets."""
    need = math.ceil((end - start) / max(1, max_points))
    return next((b for b in NICE_BUCKETS_MS if b >= need), NICE_BUCKETS_MS[-1])


@router.get("/api/v1/metrics/{name}", summary="A metric's values for one key, bucketed and downsampled")
def metric(
    request: Request,
    name: str,
    key: str,
    start: int | None = Query(None, description="epoch ms; default end - 1 h"),
    end: int | None = Query(None, description="epoch ms; default now"),
    bucket_ms: int | None = Query(
        None, ge=1_000, le=NICE_BUCKETS_MS[-1], description="bucket width; default: chosen from max_points"
    ),
    agg: Literal["avg", "min", "max", "sum", "count", "last"] = "avg",
    max_points: int = Query(1_000, ge=1, le=100_000),
    _: Who = Depends(require("read")),
) -> dict[str, Any]:
    end = end if end is not None else time.time_ns() // 1_000_000
    start = start if start is not None else end - 3_600_000
    if start >= end:
        raise ValidationError([Problem(0, "start", f"start ({start}) must be before end ({end})")])
    bucket = bucket_ms or choose_bucket(start, end, max_points)
    if (end - start) / bucket > max_points:
        bucket = choose_bucket(start, end, max_points)
    points = _platform(request).store.metric_series(name, key, start, end, bucket, agg)
    return {"name": name, "key": key, "start": start, "end": end, "bucket_ms": bucket, "agg": agg,
            "points": [[t, v] for t, v in points]}  # fmt: skip


@router.get("/api/v1/alerts", summary="Alerts, newest first")
def alerts(
    request: Request,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    severity: Literal["info", "warning", "major", "critical"] | None = None,
    scene: str | None = None,
    key: str | None = None,
    since: int | None = None,
    limit: int = Query(200, ge=1, le=10_000),
    _: Who = Depends(require("read")),
) -> list[AlertAnswer]:
    q = AlertQuery(status=status, severity=severity, scene=scene, key=key, since=since, limit=limit)
    policy, who = request.app.state.policy, request.state.who
    readable: dict[str, bool] = {}  # the alerts of the scenes the principal may read
    out = []
    for a in _platform(request).store.alerts(q):
        if a.scene not in readable:
            readable[a.scene] = policy.allows(who.principal, a.scene, "read")
        if readable[a.scene]:
            out.append(AlertAnswer.of(a))
    return out


@router.get("/api/v1/alerts/{alert_id}", summary="One alert")
def alert(request: Request, alert_id: str, _: Who = Depends(require("read"))) -> AlertAnswer:
    found = _platform(request).store.alert(alert_id)
    authorize(request.app.state, request.state.who, "read", found.scene)
    return AlertAnswer.of(found)


class Note(BaseModel):
    note: str = Field("", max_length=2_000)


async def _transition(
    request: Request, alert_id: str, action: Literal["ack", "resolve"], note: str
) -> AlertAnswer:
    p = _platform(request)
    found = await run_in_threadpool(p.store.alert, alert_id)
    authorize(request.app.state, request.state.who, "operate", found.scene)  # in the alert's scene
    who: str = request.state.who.actor
    updated = await run_in_threadpool(p.store.transition_alert, alert_id, action, who, note)
    await run_in_threadpool(
        p.store.audit, time.time_ns() // 1_000_000, who, f"alert.{action}", alert_id, {"note": note}
    )
    p.publish_alert(updated)
    return AlertAnswer.of(updated)


@router.post("/api/v1/alerts/{alert_id}/ack", summary="Acknowledge an alert (operate in its scene)")
async def ack(request: Request, alert_id: str, body: Note, _: Who = Depends(require("read"))) -> AlertAnswer:
    return await _transition(request, alert_id, "ack", body.note)


@router.post("/api/v1/alerts/{alert_id}/resolve", summary="Resolve an alert (operate in its scene)")
async def resolve(
    request: Request, alert_id: str, body: Note, _: Who = Depends(require("read"))
) -> AlertAnswer:
    return await _transition(request, alert_id, "resolve", body.note)


@router.get("/api/v1/report", summary="Every scene's report section for a period (default: the last 30 days)")
def report(
    request: Request,
    start: int | None = Query(None, ge=0, le=MAX_TS, description="epoch ms"),
    end: int | None = Query(None, ge=0, le=MAX_TS, description="epoch ms; default now"),
    _: Who = Depends(require("read")),
) -> dict[str, Any]:
    end = end if end is not None else time.time_ns() // 1_000_000
    start = start if start is not None else end - 30 * 86_400_000
    if start >= end:
        raise ValidationError([Problem(0, "start", f"start ({start}) must be before end ({end})")])
    return {"start": start, "end": end, "sections": _platform(request).report(start, end)}

"""Operations: health, readiness, Prometheus metrics, export, tokens and the audit log."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from citybrain.api.answers import ReadyAnswer, text_answer
from citybrain.api.auth import Who, require
from citybrain.core.errors import ForbiddenError
from citybrain.core.events import MAX_TS
from citybrain.core.store.base import AuditSearch
from citybrain.core.store.schema import AUDIT_MAX
from citybrain.core.tokens import SCOPES, create_token

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: store answers, pipeline runs (not failing, not stalled), lag within limit",
    response_model=ReadyAnswer,
    responses={503: {"model": ReadyAnswer, "description": "not ready: see checks"}},
)
def readyz(request: Request) -> JSONResponse:
    p = request.app.state.platform
    checks: dict[str, Any] = {}
    try:
        p.store.count_events()
        checks["store"] = "ok"
    except Exception as err:  # report, don't raise: this is a probe
        checks["store"] = f"failed: {err}"
    checks["pipeline"] = _pipeline_check(p.pipeline)
    worst = max(p.bus.lag().values(), default=0)
    checks["lag"] = "ok" if worst <= p.settings.bus.max_lag else f"{worst} events behind"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def _pipeline_check(pipeline: Any) -> str:
    """ "ok", or why processing is not healthy: not running, rounds failing, or tasks stalled (events
    waiting, no progress for pipeline.STALL_AFTER_S) — ingest keeps answering meanwhile, so only
    this probe tells an orchestrator that the city's figures stopped moving."""
    if not pipeline.running:
        return "not running"
    if pipeline.stats.failed_rounds >= 3:
        return f"failing: the last {pipeline.stats.failed_rounds} rounds raised (see the log)"
    stalled = pipeline.stalled()
    if stalled:
        return f"stalled: {', '.join(stalled[:10])}" + (
            f" and {len(stalled) - 10} more" if len(stalled) > 10 else ""
        )
    return "ok"


class PlatformCollector:
    """Reads the platform's counters at scrape time: nothing is counted twice on the hot path."""

    def __init__(self, platform: Any) -> None:
        self.p = platform

    def collect(self) -> Any:
        p = self.p
        c = p.counters
        ev = CounterMetricFamily("citybrain_ingest_events", "Events received by ingest", labels=["result"])
        for result, value in (("accepted", c.accepted), ("duplicate", c.duplicates), ("rejected", c.rejected),
                              ("throttled", c.throttled)):  # fmt: skip
            ev.add_metric([result], value)
        yield ev
        rate = GaugeMetricFamily(
            "citybrain_ingest_events_per_second", "Accepted events per second, last 10 s"
        )
        rate.add_metric([], p.ingest_rate())
        yield rate
        lag = GaugeMetricFamily("citybrain_bus_lag_events", "Events not yet processed", labels=["processor"])
        for group, value in p.bus.lag().items():
            lag.add_metric([group], value)
        yield lag
        head = GaugeMetricFamily(
            "citybrain_bus_head_offset", "Highest offset per partition", labels=["partition"]
        )
        for part in range(p.bus.partitions):
            head.add_metric([str(part)], p.bus.head(part))
        yield head
        depth = GaugeMetricFamily("citybrain_bus_queue_depth_events", "Events held in memory by the bus")
        depth.add_metric([], p.bus.queue_depth())
        yield depth
        s = p.pipeline.stats
        for name, value, doc in (
            ("citybrain_pipeline_events", s.events, "Events consumed by processors"),
            ("citybrain_pipeline_batches", s.batches, "Batches committed"),
            ("citybrain_pipeline_errors", s.errors, "Processor failures (event skipped or batch retried)"),
            ("citybrain_late_events", s.late, "Events later than their window's allowed lateness (stored)"),
            ("citybrain_pipeline_quarantined", s.quarantined, "Events processors could not take"),
            ("citybrain_ingest_out_of_window", c.out_of_window, "Events refused for their time"),
            ("citybrain_live_messages", p.hub.published, "Messages published to the live feed"),
            (
                "citybrain_live_slow_disconnects",
                p.hub.disconnected_slow,
                "Live clients dropped for being slow",
            ),
        ):
            fam = CounterMetricFamily(name, doc)
            fam.add_metric([], value)
            yield fam
        gw = GaugeMetricFamily(
            "citybrain_gateway", "Gateway figures (counts and connections)", labels=["server", "figure"]
        )
        for server in p.servers:
            counters = server.counters() if hasattr(server, "counters") else {}
            for name, value in counters.items():
                if isinstance(value, int | float):
                    gw.add_metric([type(server).__name__, name], value)
        yield gw
        subs = GaugeMetricFamily("citybrain_live_subscribers", "Open live-feed connections")
        subs.add_metric([], p.hub.subscribers())
        yield subs


@router.get(
    "/metrics",
    summary="Prometheus metrics (read scope: scrape with a bearer token, see docs/operations.md)",
    response_class=Response,
    responses=text_answer(CONTENT_TYPE_LATEST.split(";")[0], "Prometheus text exposition format"),
)
def metrics(request: Request, _: Who = Depends(require("read"))) -> Response:
    registry: CollectorRegistry = request.app.state.prometheus
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/v1/export/{table}",
    summary="Export a table as Parquet or CSV",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the table (or its time range) as a file",
            "content": {
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export(
    request: Request,
    table: str,
    format: Literal["parquet", "csv"] = "parquet",
    since: int | None = None,
    until: int | None = None,
    token: Who = Depends(require("read")),
) -> FileResponse:
    if table in ("audit",) and not request.app.state.policy.allows(token.principal, "platform", "admin"):
        raise ForbiddenError("exporting the audit log needs the admin scope")
    fd, path = tempfile.mkstemp(suffix=f".{format}")
    os.close(fd)
    p = request.app.state.platform
    await run_in_threadpool(p.store.export, table, format, path, since, until)
    return FileResponse(
        path,
        filename=f"{table}.{format}",
        media_type="application/vnd.apache.parquet" if format == "parquet" else "text/csv",
        background=BackgroundTask(os.unlink, path),
    )


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Literal["ingest", "read", "operate", "admin"]] = Field(min_length=1)


@router.post("/api/v1/tokens", summary="Create a token (admin); the secret is shown only once")
def new_token(request: Request, body: NewToken, token: Who = Depends(require("admin"))) -> dict[str, Any]:
    p = request.app.state.platform
    owner = f"{token.principal.kind}:{token.id}"  # a person's tokens end with their account
    token_id, secret = create_token(p.store, body.name, list(body.scopes), owner)
    p.store.audit(time.time_ns() // 1_000_000, token.actor, "token.create", token_id,
                  {"name": body.name, "scopes": list(body.scopes)})  # fmt: skip
    return {"id": token_id, "name": body.name, "scopes": list(body.scopes), "token": secret}


@router.get("/api/v1/tokens", summary="Tokens (never their secrets)")
def list_tokens(request: Request, _: Who = Depends(require("admin"))) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "scopes": list(t.scopes),
            "created_ts": t.created_ts,
            "revoked_ts": t.revoked_ts,
            "owner": t.owner,
        }
        for t in request.app.state.platform.store.tokens()
    ]


@router.delete("/api/v1/tokens/{token_id}", summary="Revoke a token (admin)")
def revoke(request: Request, token_id: str, token: Who = Depends(require("admin"))) -> dict[str, str]:
    p = request.app.state.platform
    now = time.time_ns() // 1_000_000
    p.store.revoke_token(token_id, now)
    request.app.state.token_cache.clear()
    p.hub.revoke(token_id)  # its open live-feed connections close now (1008 "token revoked")
    p.store.audit(now, token.actor, "token.revoke", token_id, {})
    return {"revoked": token_id}


# printable text only: a control character (NUL above all) is no actor, action or target
_TEXT = r"^[^\x00-\x1f\x7f]*$"


@router.get("/api/v1/audit", summary="The audit log of writes and of sensitive reads, searched (admin)")
def audit(
    request: Request,
    actor: str = Query("", max_length=200, pattern=_TEXT, description="a part of the actor's name"),
    action: str = Query(
        "", max_length=64, pattern=_TEXT, description='exact ("read"), or a prefix ending in "." ("user.")'
    ),
    target: str = Query("", max_length=500, pattern=_TEXT, description="a part of the target (route, id)"),
    since: int | None = Query(None, ge=0, le=MAX_TS, description="epoch ms, inclusive"),
    until: int | None = Query(None, ge=0, le=MAX_TS, description="epoch ms, exclusive"),
    limit: int = Query(200, ge=1, le=AUDIT_MAX),
    _: Who = Depends(require("admin")),
) -> list[dict[str, Any]]:
    search = AuditSearch(actor=actor, action=action, target=target, since=since, until=until)
    rows: list[dict[str, Any]] = request.app.state.platform.store.audit_log(limit, search)
    return rows


__all__ = ["SCOPES", "PlatformCollector", "router"]

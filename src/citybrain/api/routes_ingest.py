"""POST /api/v1/events: JSON array or NDJSON (gzip accepted); 2xx only once accepted events are durable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from citybrain.api.auth import require
from citybrain.core.errors import BackpressureError
from citybrain.core.ingest import TooLargeError, decode_body
from citybrain.core.store.base import Token

router = APIRouter(tags=["ingest"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Events as a JSON array or NDJSON (one event per line); "
        "Content-Encoding: gzip accepted. "
        "Every event has kind, key, ts (epoch ms) and the fields of its kind; see docs/events.md.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
    "responses": {
        "200": {"description": "accepted (durable), duplicates skipped, per-line errors"},
        "413": {"description": "body or event count over the limit"},
        "422": {"description": "no line was valid"},
        "429": {"description": "rate limit or backpressure; see Retry-After"},
    },
}


@router.post("/api/v1/events", summary="Ingest events", openapi_extra=_BODY_DOC)
async def ingest(request: Request, token: Token = Depends(require("ingest"))) -> JSONResponse:
    st = request.app.state
    cfg = st.platform.settings.ingest
    limit = cfg.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"body of {declared} bytes exceeds ingest.max_body_bytes={limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLargeError(f"body exceeds ingest.max_body_bytes={limit}")
    batch = await run_in_threadpool(
        decode_body,
        bytes(body),
        request.headers.get("content-type", ""),
        request.headers.get("content-encoding", ""),
        limit,
        cfg.max_events,
        st.platform.time_gate.checker(),
    )
    try:
        st.ratelimit.take(token.id, len(batch.events))
    except BackpressureError:
        st.platform.counters.throttled += len(batch.events)
        raise
    result = await run_in_threadpool(st.platform.ingest, batch, token.id)
    status = 422 if result.errors and not (result.accepted or result.duplicates) else 200
    return JSONResponse(result.as_dict(), status_code=status)

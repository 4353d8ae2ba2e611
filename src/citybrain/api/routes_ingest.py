"""POST /api/v1/events: JSON array or NDJSON (gzip accepted); 2xx only once accepted events are durable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from citybrain.api.answers import IngestAnswer
from citybrain.api.ingest_gate import IngestBody, ingest_body
from citybrain.core.ingest import decode_body

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
        "413": {"description": "body or event count over the limit"},
        "422": {"description": "no line was valid"},
        "429": {"description": "rate limit or backpressure; see Retry-After"},
    },
}


@router.post("/api/v1/events", summary="Ingest events", response_model=IngestAnswer, openapi_extra=_BODY_DOC)
async def ingest(req: IngestBody = Depends(ingest_body)) -> JSONResponse:
    batch = await run_in_threadpool(
        decode_body, req.body, req.content_type, "", len(req.body), req.max_events, req.time_check()
    )
    req.admit(len(batch.events))
    result = await run_in_threadpool(req.platform.ingest, batch, req.token.id)
    status = 422 if result.errors and not (result.accepted or result.duplicates) else 200
    return JSONResponse(result.as_dict(), status_code=status)

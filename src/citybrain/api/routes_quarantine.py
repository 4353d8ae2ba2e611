"""GET /api/v1/quarantine: events the platform set aside, with the stage and the reason.

Refused at ingest for their time (``ingest``), failed in a processor (``process``), failed to
commit (``commit``) or unreadable in the log (``read``). They are kept (export the ``quarantine``
table for the whole set; retention.quarantine_days ages them out) so an operator can see what a
device or a sender got wrong, and replay what was fixed.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, create_model

from citybrain.api.auth import Who, require
from citybrain.core.outputs import Quarantined

router = APIRouter(tags=["query"])


# the stored row: the Quarantined struct's fields and when it was recorded (one definition)
QuarantinedEvent = create_model(
    "QuarantinedEvent",
    **{f.name: (f.type, ...) for f in msgspec.structs.fields(Quarantined)},
    recorded_ts=(int, ...),
)  # type: ignore[call-overload]


class QuarantineListing(BaseModel):
    total: int
    items: list[QuarantinedEvent]  # type: ignore[valid-type]


@router.get("/api/v1/quarantine", summary="Quarantined events, newest first, with stage and reason")
async def quarantine(
    request: Request,
    limit: int = Query(100, ge=1, le=10_000),
    _: Who = Depends(require("read")),
) -> QuarantineListing:
    store: Any = request.app.state.platform.store
    items = await run_in_threadpool(store.quarantined, limit)
    total = await run_in_threadpool(store.quarantine_count)
    return QuarantineListing(total=total, items=[QuarantinedEvent(**row) for row in items])

"""Erasure of a data subject on request (admin): ask for it, follow it (``core.erasure``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from citybrain.api.auth import Who, require
from citybrain.core.clock import now_ms
from citybrain.core.erasure import erasure_dict, request_erasure

router = APIRouter(tags=["operations"])

_TEXT = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"  # printable, not blank


class ErasureAsked(BaseModel):
    scene: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    key: str = Field(min_length=1, max_length=200, pattern=_TEXT, description="the subject's entity key")
    reason: str = Field(min_length=1, max_length=500, pattern=_TEXT, description="the request it answers")


@router.post(
    "/api/v1/erasures",
    status_code=202,
    summary="Erase a data subject's records in a scene (admin); done by the pipeline within seconds",
)
async def ask(request: Request, body: ErasureAsked, who: Who = Depends(require("admin"))) -> dict[str, Any]:
    p = request.app.state.platform
    e = await run_in_threadpool(
        request_erasure, p.store, p.scenes, body.scene, body.key, body.reason, who.actor, now_ms()
    )
    return erasure_dict(e)


@router.get("/api/v1/erasures", summary="Erasures asked for, newest first, with what each deleted (admin)")
async def listed(
    request: Request,
    pending: bool = Query(False, description="only those not done yet"),
    limit: int = Query(200, ge=1, le=10_000),
    _: Who = Depends(require("admin")),
) -> list[dict[str, Any]]:
    rows = await run_in_threadpool(request.app.state.platform.store.erasures, pending, limit)
    return [erasure_dict(e) for e in rows]

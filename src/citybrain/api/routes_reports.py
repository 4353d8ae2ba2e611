"""The report archive over HTTP (core/reports/archive.py, docs/reports.md): the archived reports,
newest first, one report's entry, its files (PDF, HTML) checked against their SHA-256 before they
are sent, the schedule's state, and a month's report made now.

Reading needs ``read`` on the platform, making a report ``operate``. A report of the same month
and language already being made is joined (200, its entry) rather than made twice (201)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import msgspec
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from citybrain.api.auth import Who, require
from citybrain.core.reports.archive import Entry
from citybrain.core.reports.schedule import Reports

router = APIRouter(tags=["reports"])
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
REPORT_ID = Path(max_length=100, pattern=r"^[a-z]+-[0-9]{4}-[0-9]{2}-[a-z]{2}-v[0-9]{1,6}$",
                 description="a report's id ('monthly-2026-11-zh-v1')")  # fmt: skip
FILE_NAME = Path(max_length=100, pattern=r"^[A-Za-z0-9._-]+$", description="'report-2026-11.zh.pdf'")
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_TEXT = {"schema": {"type": "string"}}
_ENTRY = {"application/json": {"schema": {"type": "object", "description": "the report's archive entry"}}}


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.platform.reports
    return reports


def entry_view(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(entry)
    return out


@router.get("/api/v1/reports", summary="The archived reports, newest first (of one kind, period, language)")
async def listed(
    request: Request,
    kind: Literal["", "monthly"] = Query("", description="'monthly' (the only kind yet)"),
    period: str = Query("", max_length=7, pattern=r"^([0-9]{4}-(0[1-9]|1[0-2]))?$", description="YYYY-MM"),
    language: Literal["", "zh", "en"] = Query(""),
    _: Who = Depends(require("read")),
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(_reports(request).archive.entries, kind, period, language)
    return [entry_view(e) for e in found]


@router.get("/api/v1/reports/schedule", summary="The report schedule: settings, due, running, last error")
async def schedule(request: Request, _: Who = Depends(require("read"))) -> dict[str, Any]:
    return await run_in_threadpool(_reports(request).status)


@router.get("/api/v1/reports/{report_id}", summary="One archived report: its files with size and SHA-256")
async def one(
    request: Request, report_id: str = REPORT_ID, _: Who = Depends(require("read"))
) -> dict[str, Any]:
    return entry_view(await run_in_threadpool(_reports(request).archive.get, report_id))


@router.get(
    "/api/v1/reports/{report_id}/files/{name}",
    summary="Download a report's file (PDF or HTML); refused (409) when it no longer has its SHA-256",
    response_class=Response,
    responses={200: {"description": "the file", "content": {"application/pdf": _BINARY, "text/html": _TEXT}}},
)
async def download(
    request: Request, report_id: str = REPORT_ID, name: str = FILE_NAME, _: Who = Depends(require("read"))
) -> Response:
    meta, data = await run_in_threadpool(_reports(request).archive.read, report_id, name)
    headers = {
        "Content-Disposition": f"attachment; filename=\"{meta.name}\"; filename*=UTF-8''{quote(meta.name)}",
        "X-Checksum-SHA256": meta.sha256,
        "Cache-Control": "private, no-store",
    }
    return Response(data, media_type=meta.media_type, headers=headers)


class Generate(BaseModel):
    month: str = Field(pattern=MONTH, description="YYYY-MM, Beijing time; a month that has begun")
    language: Literal["zh", "en"] = "zh"


@router.post(
    "/api/v1/reports",
    summary="Make a month's report now and archive it (a new version when the month has one)",
    response_model=None,
    responses={
        201: {"description": "made and archived: its entry", "content": _ENTRY},
        200: {"description": "the same month and language was being made: that report", "content": _ENTRY},
    },
)
async def generate(request: Request, body: Generate, who: Who = Depends(require("operate"))) -> JSONResponse:
    entry, made = await run_in_threadpool(_reports(request).generate, body.month, body.language, who.name)
    return JSONResponse(entry_view(entry), status_code=201 if made else 200)

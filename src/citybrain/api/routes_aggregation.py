"""Data aggregation (数据归集) over HTTP: the declared datasets with their last run, runs and their
refused rows, a push of NDJSON rows, a pull on demand (core/aggregation; docs/aggregation.md).

Reading needs ``read`` on the platform, a pull ``operate``, a push the ``ingest`` scope (a
department's system sending its rows) through the one ingest gate (size limits, gzip, the
token's rate and the count limit, by its lines). A push into a dataset that arrives otherwise, or a
pull of one already being read, is a 409."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from citybrain.api.auth import Who, require
from citybrain.api.ingest_gate import IngestBody, ingest_body
from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.aggregation.facts import RunReport
from citybrain.core.aggregation.runner import Aggregator
from citybrain.core.errors import NotFoundError

router = APIRouter(tags=["aggregation"])
NAME = Path(max_length=100, pattern=r"^[a-z][a-z0-9_.]*$", description="a dataset's name ('medical.bills')")
AS_OF = Query("", max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$", description="the date the rows describe")


def _aggregator(request: Request) -> Aggregator:
    agg: Aggregator = request.app.state.platform.aggregator
    return agg


def run_view(run: RunReport) -> dict[str, Any]:
    """A run as the API shows it: a pull's marks by their watermark only (their key part holds a
    row's key values, which may be ID numbers)."""
    out: dict[str, Any] = msgspec.to_builtins(run)
    for name in ("mark_from", "mark_to"):
        out[name] = _watermark(out[name])
    return out


def _watermark(mark: str) -> Any:
    if not mark:
        return None
    try:
        value: Any = msgspec.json.decode(mark).get("value")
    except (msgspec.DecodeError, AttributeError):
        return None
    return value


def dataset_view(ds: Dataset, last: RunReport | None) -> dict[str, Any]:
    """A dataset as the API shows it: never its DSN (credentials) or folder."""
    return {
        "name": ds.name, "title": ds.title, "owner": ds.owner, "origin": ds.origin, "key": ds.key,
        "cadence_h": ds.cadence_h, "format": ds.format if ds.origin == "file" else None,
        "columns": [{"name": c.name, "type": c.type, "header": c.header, "required": c.required,
                     "sensitive": c.sensitive, "title": c.title} for c in ds.columns],
        "last_run": None if last is None else run_view(last),
    }  # fmt: skip


@router.get("/api/v1/aggregation/datasets", summary="The departments' datasets, each with its last run")
async def datasets(request: Request, _: Who = Depends(require("read"))) -> list[dict[str, Any]]:
    agg = _aggregator(request)

    def views() -> list[dict[str, Any]]:
        return [
            dataset_view(ds, next(iter(agg.store.runs(ds.name, 1)), None)) for ds in agg.datasets.values()
        ]

    return await run_in_threadpool(views)


@router.get("/api/v1/aggregation/runs", summary="Runs of every dataset (or one), newest first")
async def runs(
    request: Request,
    dataset: str = Query("", max_length=100),
    limit: int = Query(100, ge=1, le=10_000),
    _: Who = Depends(require("read")),
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(_aggregator(request).store.runs, dataset, limit)
    return [run_view(r) for r in found]


@router.get("/api/v1/aggregation/runs/{run_id}", summary="One run: its report and its refused rows")
async def one_run(
    request: Request,
    run_id: str = Path(max_length=200),
    limit: int = Query(1_000, ge=1, le=10_000, description="refused rows shown at most"),
    _: Who = Depends(require("read")),
) -> dict[str, Any]:
    store = _aggregator(request).store
    run = await run_in_threadpool(store.run, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id!r} does not exist")
    rejects = await run_in_threadpool(store.rejects, run_id, limit)
    return {**run_view(run), "rejects": [msgspec.to_builtins(r) for r in rejects]}


_REPORT = {"application/json": {"schema": {"type": "object", "description": "the run's report"}}}


@router.post(
    "/api/v1/aggregation/datasets/{name}/batches",
    summary="Push rows of a dataset (a JSON array or NDJSON of objects keyed by its column headers)",
    response_model=None,
    responses={
        201: {"description": "the run: rows read, kept, refused", "content": _REPORT},
        200: {"description": "this body was delivered before: that run", "content": _REPORT},
        422: {"description": "the run failed (its report says why)", "content": _REPORT},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}
    },
)
async def push(
    request: Request, name: str = NAME, as_of: str = AS_OF, body: IngestBody = Depends(ingest_body)
) -> JSONResponse:
    agg = _aggregator(request)
    agg.dataset(name)  # 404 before any work
    rows = body.body.count(b"\n") + 1  # lines: the rows at most (an array is counted by its rows' lines)
    body.check_count(rows)
    body.admit(rows)  # the token's rate, as for events
    run = await run_in_threadpool(agg.push, name, body.body, as_of or None)
    status = 201 if run.status == "done" else 200 if run.status == "already" else 422
    return JSONResponse(run_view(run), status_code=status)


@router.post("/api/v1/aggregation/datasets/{name}/pull", summary="Pull a dataset from its database now")
async def pull(request: Request, name: str = NAME, _: Who = Depends(require("operate"))) -> dict[str, Any]:
    run: RunReport = await run_in_threadpool(_aggregator(request).pull, name)
    return run_view(run)

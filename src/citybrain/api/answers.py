"""Response models shared by the core routes and the scenes' own (re-exported by the SDK)."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel

from citybrain.core.outputs import Alert


class AlertAnswer(BaseModel):
    """An alert with its lifecycle (``citybrain.core.outputs.Alert``)."""

    id: str
    rule: str
    scene: str
    key: str
    dedupe_key: str
    severity: str
    status: str
    title: str
    message: str
    data: dict[str, Any]
    opened_ts: int
    last_ts: int
    count: int
    acked_by: str | None = None
    acked_ts: int | None = None
    ack_note: str | None = None
    resolved_by: str | None = None
    resolved_ts: int | None = None
    resolve_note: str | None = None

    @classmethod
    def of(cls, alert: Alert) -> AlertAnswer:
        return cls(**msgspec.to_builtins(alert))


class ProblemAnswer(BaseModel):
    line: int
    field: str
    reason: str


class IngestAnswer(BaseModel):
    """What an ingest request did: accepted (durable), duplicates skipped, per-line problems."""

    accepted: int
    duplicates: int
    rejected: int
    errors: list[ProblemAnswer]
    errors_truncated: int


class ReadyAnswer(BaseModel):
    ready: bool
    checks: dict[str, str]


def text_answer(media_type: str, description: str, binary: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route answering something else than JSON (CSV, Parquet, Prometheus text)."""
    schema: dict[str, str] = {"type": "string", **({"format": "binary"} if binary else {})}
    return {200: {"description": description, "content": {media_type: {"schema": schema}}}}

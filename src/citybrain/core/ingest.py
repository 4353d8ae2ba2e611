"""Turning an HTTP (or file) body into events: format detection, gzip with a size cap, validation.

Every line is validated on its own: bad lines are reported (line, field, reason) and never block
the good ones. Oversized bodies are refused before they are decoded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from citybrain.core.errors import Problem, TooLargeError, ValidationError
from citybrain.core.events import REGISTRY, Check, DecodedBatch

__all__ = ["IngestResult", "TooLargeError", "decode_body", "gunzip"]


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress gzip without ever holding more than ``limit`` bytes (zip-bomb safe)."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as err:
        raise ValidationError([Problem(0, "body", f"gzip body is corrupt: {err}")]) from err
    if len(out) > limit or d.unconsumed_tail:
        raise TooLargeError(f"decompressed body exceeds ingest.max_body_bytes={limit} bytes")
    if not d.eof:
        raise ValidationError([Problem(0, "body", "gzip body is truncated")])
    return out


def decode_body(
    body: bytes,
    content_type: str = "",
    content_encoding: str = "",
    limit: int = 1 << 30,
    max_events: int = 1 << 62,
    check: Check | None = None,
) -> DecodedBatch:
    """JSON array or NDJSON (by content type, else by the first byte); gzip by Content-Encoding.

    ``max_events`` is enforced before the events are decoded; ``check`` (e.g. the accepted
    event-time window) turns an event it objects to into that line's problem."""
    if len(body) > limit:
        raise TooLargeError(f"body of {len(body)} bytes exceeds ingest.max_body_bytes={limit}")
    if "gzip" in content_encoding.lower():
        body = gunzip(body, limit)
    ctype = content_type.split(";", 1)[0].strip().lower()
    stripped = body.lstrip()
    if not stripped:
        raise ValidationError([Problem(0, "body", "the body is empty; send a JSON array or NDJSON lines")])
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl") or (
        ctype != "application/json" and stripped[:1] != b"["
    ):
        return REGISTRY.decode_ndjson(body, max_events, check)
    if stripped[:1] != b"[":
        raise ValidationError([Problem(0, "body", "application/json bodies must be a JSON array of events")])
    try:
        return REGISTRY.decode_json_array(body, max_events, check)
    except ValidationError:
        # Without a declared JSON type, a body that is no array may be NDJSON whose first line is bad.
        if ctype == "application/json" or stripped.count(b"\n") == 0:
            raise
        batch = REGISTRY.decode_ndjson(body, max_events, check)
        if not batch.events:
            raise
        return batch


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[Problem] = field(default_factory=list)  # in detail, at most MAX_PROBLEMS

    def as_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [p.as_dict() for p in self.errors],
            "errors_truncated": max(0, self.rejected - len(self.errors)),
        }

"""The one ingest gate: every route that takes events (``POST /api/v1/events``, a scene's own
feed such as traffic's probe positions) takes its body through :func:`ingest_body`.

It checks the token for the ``ingest`` scope, reads the body under ``ingest.max_body_bytes``
(declared length first, then while it streams), inflates gzip under the same limit, and hands the
route an :class:`IngestBody` that admits a number of events against the token's rate
(``ingest.rate_limit_eps``, counted as throttled when refused), checks the event count against
``ingest.max_events`` and carries the accepted event-time window's check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from citybrain.api.auth import Who, require
from citybrain.core.errors import BackpressureError, TooLargeError
from citybrain.core.events import Event, check_event_count
from citybrain.core.ingest import gunzip


@dataclass
class IngestBody:
    body: bytes  # inflated when it came gzip-encoded
    content_type: str
    token: Who
    platform: Any
    ratelimit: Any

    @property
    def max_events(self) -> int:
        return int(self.platform.settings.ingest.max_events)

    def check_count(self, n: int) -> None:
        check_event_count(n, self.max_events)

    def admit(self, n: int) -> None:
        """Take ``n`` events from the token's rate allowance (429 with Retry-After when over it)."""
        try:
            self.ratelimit.take(self.token.id, n)
        except BackpressureError:
            self.platform.counters.throttled += n
            raise

    def time_check(self) -> Callable[[Event], str | None]:
        return self.platform.time_gate.checker()  # type: ignore[no-any-return]


async def ingest_body(request: Request, token: Who = Depends(require("ingest"))) -> IngestBody:
    st = request.app.state
    limit = st.platform.settings.ingest.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"body of {declared} bytes exceeds ingest.max_body_bytes={limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLargeError(f"body exceeds ingest.max_body_bytes={limit}")
    data = bytes(body)
    if "gzip" in request.headers.get("content-encoding", "").lower():
        data = await run_in_threadpool(gunzip, data, limit)
    return IngestBody(data, request.headers.get("content-type", ""), token, st.platform, st.ratelimit)

"""The simulator framework: seeded, deterministic simulators that push events through the real
ingest path (HTTP ``POST /api/v1/events``), never straight into the store."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import msgspec

from citybrain.core.events import Event, encode_ndjson

log = logging.getLogger(__name__)


class IngestClient:
    """Posts NDJSON batches with an ingest token; retries on 429 and 5xx with backoff."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        )
        self.sent = 0

    async def send(self, events: Sequence[Event]) -> dict[str, object]:
        """Send events to the ingest API; returns its answer once they are durable."""
        r = await self.post_bytes("/api/v1/events", encode_ndjson(events), "application/x-ndjson")
        self.sent += len(events)
        result: dict[str, object] = r.json()
        return result

    async def post(self, path: str, payload: Any) -> httpx.Response:
        """POST a JSON body to another route of the platform (e.g. a scene's own feed)."""
        return await self.post_bytes(path, msgspec.json.encode(payload), "application/json")

    async def post_bytes(
        self, path: str, body: bytes, content_type: str, attempts: int = 8
    ) -> httpx.Response:
        """POST with the token; retries transport errors (e.g. a keep-alive connection the server
        just closed), 429 and 5xx with backoff, honouring Retry-After; raises on other answers."""
        delay = 0.2
        for attempt in range(attempts):
            try:
                r = await self._client.post(path, content=body, headers={"Content-Type": content_type})
            except httpx.TransportError as err:
                if attempt == attempts - 1:
                    raise
                log.warning("%s unreachable (%s); retrying in %.1fs", path, err, delay)
            else:
                if r.status_code < 300:
                    return r
                if r.status_code not in (429, 500, 502, 503, 504) or attempt == attempts - 1:
                    raise RuntimeError(f"{path} refused the request: HTTP {r.status_code} {r.text[:300]}")
                delay = float(r.headers.get("Retry-After", delay))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise RuntimeError("unreachable")

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a route of the platform with the token; its JSON answer, or None when refused."""
        try:
            r = await self._client.get(path, params=dict(params or {}))
        except httpx.TransportError as err:
            log.warning("%s unreachable (%s)", path, err)
            return None
        if r.status_code >= 300:
            log.warning("%s answered HTTP %d: %s", path, r.status_code, r.text[:200])
            return None
        return r.json()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the platform answers /healthz (simulators start with the app, before it listens)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                if (await self._client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                return  # let the simulator's own retries report what is wrong
            await asyncio.sleep(0.1)

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class SimContext:
    """What a simulator gets: the HTTP ingest client (with a token), the host the platform's
    servers listen on, and the settings of its scene (e.g. a gateway's port)."""

    http: IngestClient
    host: str
    scene_settings: Mapping[str, Any] = field(default_factory=dict)
    servers: Sequence[Any] = ()  # the platform's running servers (gateways, brokers)
    data_path: Path | None = None  # the platform's data folder (a department's drop folders are there)

    def port_of(self, server_name: str, default: int) -> int:
        """The port a running server (by its ``name``) listens on: right even when configured as 0."""
        for server in self.servers:
            if getattr(server, "name", None) == server_name:
                return int(server.port)
        return default


class Simulator(Protocol):
    name: str

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        """Send events through a real ingest path until ``stop`` is set."""


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw of mean ``lam`` (how many arrivals in a tick); O(1) above 30 (normal
    approximation), Knuth's product of uniforms below."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1

"""WebSocket live feed at /api/v1/live.

The client authenticates with an ``Authorization: Bearer`` header, or (browsers cannot set
headers) with a first message ``{"op": "auth", "token": "..."}`` — never in the URL. Then it
sends ``{"op": "subscribe", "topics": ["state.pulse", "alert.*"]}`` (glob patterns) and receives
``{"topic": ..., "data": ...}`` messages.

Limits, and how the server ends a connection (close code, reason):
- at most ``server.live_max_patterns`` patterns (64) per connection, each at most 200 characters:
  a subscribe past that is refused whole with ``{"error": "limit", "message": ...}`` and the
  connection stays open with its earlier patterns;
- bad or missing token: ``{"error": "auth", ...}`` then close 1008;
- the token is revoked: close 1008 with reason ``"token revoked"`` — at once when it is revoked
  through this server's API, otherwise within ``server.live_recheck_s`` (5 s) plus the 5 s token
  cache, as every connection re-checks its token that often;
- a client too slow to keep up: close 1013 ``"too slow: reconnect and re-read state"``;
- ``server.live_max_clients`` (1000) connections open already: close 1013 ``"too many live clients"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool

from citybrain.api.auth import bearer, check
from citybrain.core.errors import AuthError, BackpressureError, ValidationError
from citybrain.core.live import Subscriber

router = APIRouter()

REVOKED = (1008, "token revoked")
SLOW = (1013, "too slow: reconnect and re-read state")
FULL = (1013, "too many live clients")


@router.websocket("/api/v1/live")
async def live(ws: WebSocket) -> None:
    await ws.accept()
    state = ws.app.state
    secret = bearer(ws.headers.get("authorization"))
    try:
        if secret is None:
            first = await asyncio.wait_for(ws.receive_json(), timeout=10)
            if not isinstance(first, dict) or first.get("op") != "auth":
                raise AuthError('the first message must be {"op": "auth", "token": "..."}')
            secret = str(first.get("token") or "")
        token = await run_in_threadpool(check, state, secret, "read")
    except (AuthError, TimeoutError, ValueError) as err:
        await ws.send_json({"error": "auth", "message": str(err) or "authentication timed out"})
        await ws.close(code=1008)
        return
    hub = state.platform.hub
    try:
        sub = hub.subscribe(set(), token.id)
    except BackpressureError as err:
        await ws.send_json({"error": "busy", "message": str(err)})
        await ws.close(*FULL)
        return
    await ws.send_json({"op": "ready", "token": token.id, "max_patterns": sub.max_patterns})
    recheck_s = state.platform.settings.server.live_recheck_s
    tasks = [
        asyncio.create_task(_pump(ws, sub)),
        asyncio.create_task(_ops(ws, sub)),
        asyncio.create_task(_watch(state, secret, sub, recheck_s)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        ending = next(iter(done)).result()
        if ending is not None:
            await ws.close(*ending)
    except Exception:  # the client went away while we sent or closed: nothing left to tell it
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        hub.unsubscribe(sub)


async def _pump(ws: WebSocket, sub: Subscriber) -> tuple[int, str]:
    while True:
        msg = await sub.queue.get()
        await ws.send_json(msg)
        if sub.overflowed and sub.queue.empty():
            return SLOW


async def _ops(ws: WebSocket, sub: Subscriber) -> None:
    """Subscribe and unsubscribe requests until the client disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            msg: Any = json.loads(message.get("text") or message.get("bytes") or b"")
        except ValueError:
            await ws.send_json({"error": "op", "message": "messages are JSON objects"})
            continue
        op = msg.get("op") if isinstance(msg, dict) else None
        raw = msg.get("topics") if isinstance(msg, dict) else None
        if op not in ("subscribe", "unsubscribe"):
            await ws.send_json({"error": "op", "message": "ops are subscribe and unsubscribe"})
            continue
        if not isinstance(raw, list):
            await ws.send_json({"error": "op", "message": '"topics" must be a list of patterns'})
            continue
        if op == "subscribe":
            try:
                if len(raw) > sub.max_patterns:  # refuse before building a set of a huge list
                    raise ValidationError([])
                sub.add({str(t) for t in raw})
            except ValidationError as err:
                reason = err.problems[0].reason if err.problems else (
                    f"{len(raw)} patterns exceed the limit of {sub.max_patterns} per connection "
                    "(server.live_max_patterns)"
                )  # fmt: skip
                await ws.send_json({"error": "limit", "message": reason})
                continue
        else:
            sub.patterns -= {str(t) for t in raw}
        await ws.send_json({"op": "subscribed", "topics": sorted(sub.patterns)})


async def _watch(state: Any, secret: str, sub: Subscriber, every_s: float) -> tuple[int, str]:
    """Ends when the token no longer authenticates: checked when the hub says it was revoked and
    every ``every_s`` seconds (a revocation made by another API process or directly in the store)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sub.revoked.wait(), every_s)
        sub.revoked.clear()
        try:
            await run_in_threadpool(check, state, secret, "read")
        except AuthError:
            return REVOKED
        except Exception:  # a store hiccup is not a revocation: keep the feed, check again
            continue

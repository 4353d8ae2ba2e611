"""WebSocket live feed at /api/v1/live.

The client authenticates with an ``Authorization: Bearer`` header, or (browsers cannot set
headers) with a first message ``{"op": "auth", "token": "..."}`` — never in the URL. Then it
sends ``{"op": "subscribe", "topics": ["state.pulse", "alert.*"]}`` (glob patterns) and receives
``{"topic": ..., "data": ...}`` messages. A client too slow to keep up is closed with code 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from citybrain.api.auth import bearer, check
from citybrain.core.errors import AuthError

router = APIRouter()


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
        token = check(state, secret, "read")
    except (AuthError, TimeoutError, ValueError) as err:
        await ws.send_json({"error": "auth", "message": str(err) or "authentication timed out"})
        await ws.close(code=1008)
        return
    hub = state.platform.hub
    sub = hub.subscribe(set())
    await ws.send_json({"op": "ready", "token": token.id})

    async def pump() -> None:
        while True:
            msg = await sub.queue.get()
            await ws.send_json(msg)
            if sub.overflowed and sub.queue.empty():
                await ws.close(code=1013, reason="too slow: reconnect and re-read state")
                return

    sender = asyncio.create_task(pump())
    try:
        while True:
            msg: Any = await ws.receive_json()
            topics = {str(t) for t in (msg.get("topics") or [])} if isinstance(msg, dict) else set()
            op = msg.get("op") if isinstance(msg, dict) else None
            if op == "subscribe":
                sub.patterns |= topics
            elif op == "unsubscribe":
                sub.patterns -= topics
            else:
                await ws.send_json({"error": "op", "message": "ops are subscribe and unsubscribe"})
                continue
            await ws.send_json({"op": "subscribed", "topics": sorted(sub.patterns)})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        hub.unsubscribe(sub)

"""WebSocket live feed at /api/v1/live.

The client authenticates with an ``Authorization: Bearer`` header, or (browsers cannot set
headers) with a first message ``{"op": "auth", "token": "..."}`` — never in the URL. A signed-in
person's page sends ``{"op": "auth"}`` without a token: the session cookie its browser sent with
the handshake (same origin only: a handshake whose ``Origin`` is another site is refused) is used
instead. Then it
sends ``{"op": "subscribe", "topics": ["state.pulse", "alert.*"]}`` (glob patterns) and receives
``{"topic": ..., "data": ...}`` messages, of the scenes the client may read only: a topic is
``<kind>.<scene>[.<more>]`` (``state.nev``, ``metric.traffic.city.index``, ``alert.factory``);
one whose second part names no installed scene is a platform topic.

A message that is not a JSON object (not JSON, not UTF-8, nested too deeply, a list) is answered
``{"error": "op", "message": ...}`` and the connection stays open, before authentication too (the
10 s for the first ``auth`` message still run); nothing is logged for it.

Limits, and how the server ends a connection (close code, reason):
- at most ``server.live_max_patterns`` patterns (64) per connection, each at most 200 characters:
  a subscribe past that is refused whole with ``{"error": "limit", "message": ...}`` and the
  connection stays open with its earlier patterns;
- bad or missing token: ``{"error": "auth", ...}`` then close 1008;
- the token is revoked: close 1008 with reason ``"token revoked"`` — at once when it is revoked
  through this server's API, otherwise within ``server.live_recheck_s`` (5 s) plus the 5 s token
  cache, as every connection re-checks its token that often; a session that ends (sign-out, idle
  or lifetime) closes the same way within ``server.live_recheck_s``;
- a client too slow to keep up: close 1013 ``"too slow: reconnect and re-read state"``;
- ``server.live_max_clients`` (1000) connections open already: close 1013 ``"too many live clients"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from citybrain.api.auth import SESSION_COOKIE, Who, authorize, bearer, identify
from citybrain.api.masking import mask_json
from citybrain.core.clock import now_ms
from citybrain.core.errors import AuthError, BackpressureError, ValidationError
from citybrain.core.live import Subscriber

router = APIRouter()

REVOKED = (1008, "token revoked")
ENDED = (1008, "session ended")
SLOW = (1013, "too slow: reconnect and re-read state")
FULL = (1013, "too many live clients")
AUTH_WAIT_S = 10.0  # for the first auth message (answered non-JSON messages included)


class Reader:
    """Who a connection is and which scenes' topics it may receive (re-read on every re-check, so a
    changed role narrows or widens the feed without a reconnect)."""

    def __init__(self, state: Any, secret: str | None, cookie: str | None) -> None:
        self.state = state
        self.secret = secret
        self.cookie = cookie if not secret else None
        self.scenes = frozenset(state.platform.scenes)
        self.readable: frozenset[str] = frozenset()
        self.masked: dict[str, frozenset[str]] = {}  # scene -> fields this principal sees masked
        self.shown: dict[str, list[str]] = {}  # scene -> sensitive fields it sees unmasked (audited)

    def check(self) -> Who:
        """The principal, allowed to read the platform, with its readable scenes (AuthError)."""
        state = self.state
        if self.cookie:
            who = identify(state, None, self.cookie, None)
        else:  # a token: exactly as before sessions existed (an empty one fails the same way)
            who = identify(state, f"Bearer {self.secret}" if self.secret else None, None, None)
        authorize(state, who, "read")
        policy = state.policy
        self.readable = frozenset(s for s in self.scenes if policy.allows(who.principal, s, "read"))
        self.masked = {s: m for s in self.readable if (m := policy.masked(who.principal, s))}
        self.shown = {
            s: sorted(f) for s in self.readable if (f := policy.sensitive(s) - self.masked.get(s, set()))
        }
        return who

    def prepare(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """The message as this connection may see it (personal fields masked), or None."""
        if not self.may(msg["topic"]):
            return None
        fields = self.masked.get(_scene_of_topic(msg["topic"]))
        return {**msg, "data": mask_json(msg.get("data"), fields, set())} if fields else msg

    def may(self, topic: str) -> bool:
        """``<kind>.<scene>[...]``: a scene's topic needs read there; any other is the platform's."""
        scene = _scene_of_topic(topic)
        return scene in self.readable or scene not in self.scenes


def _scene_of_topic(topic: str) -> str:
    parts = topic.split(".", 2)
    return parts[1] if len(parts) > 1 else ""


def _decode(message: Any) -> dict[str, Any]:
    """A client message (text or binary frame) as a JSON object, else ValueError saying why."""
    raw = message.get("text")
    if raw is None:
        raw = message.get("bytes") or b""
    try:
        msg = json.loads(raw)
    except RecursionError:
        raise ValueError("messages are JSON objects: this one is nested too deeply") from None
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"messages are JSON objects: {err}") from None
    if not isinstance(msg, dict):
        raise ValueError(f"messages are JSON objects, not {type(msg).__name__}")
    return msg


async def _first(ws: WebSocket) -> dict[str, Any] | None:
    """The first JSON object the client sends (other messages answered and skipped), or None when
    it goes away; TimeoutError after ``AUTH_WAIT_S``."""
    async with asyncio.timeout(AUTH_WAIT_S):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            try:
                return _decode(message)
            except ValueError as err:
                await ws.send_json({"error": "op", "message": str(err)})


def _same_origin(ws: WebSocket) -> bool:
    """Cookies ride on cross-site handshakes too: a session is accepted only from this origin."""
    origin = ws.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == ws.headers.get("host")


@router.websocket("/api/v1/live")
async def live(ws: WebSocket) -> None:
    await ws.accept()
    state = ws.app.state
    secret = bearer(ws.headers.get("authorization"))
    cookie = ws.cookies.get(SESSION_COOKIE) if _same_origin(ws) else None
    try:
        if secret is None:
            first = await _first(ws)
            if first is None:
                return
            if first.get("op") != "auth":
                raise AuthError('the first message must be {"op": "auth", "token": "..."}')
            secret = str(first.get("token") or "")
        reader = Reader(state, secret, cookie)
        who = await run_in_threadpool(reader.check)
    except WebSocketDisconnect:  # gone (or closed by the server for a message over the size limit)
        return
    except (AuthError, TimeoutError) as err:
        await ws.send_json({"error": "auth", "message": str(err) or "authentication timed out"})
        await ws.close(code=1008)
        return
    hub = state.platform.hub
    try:
        sub = hub.subscribe(set(), who.token.id if who.token else "")
    except BackpressureError as err:
        await ws.send_json({"error": "busy", "message": str(err)})
        await ws.close(*FULL)
        return
    if reader.shown:  # its feed carries personal fields unmasked: recorded once per connection
        fields = sorted({f for fs in reader.shown.values() for f in fs})
        detail = {"fields": fields, "scenes": sorted(reader.shown), "department": who.principal.department,
                  "purpose": "live feed"}  # fmt: skip
        await run_in_threadpool(
            state.platform.store.audit, now_ms(), who.actor, "read", "/api/v1/live", detail
        )
    ready = {"token": who.token.id} if who.token else {"user": who.id}
    await ws.send_json({"op": "ready", **ready, "max_patterns": sub.max_patterns})
    recheck_s = state.platform.settings.server.live_recheck_s
    tasks = [
        asyncio.create_task(_pump(ws, sub, reader)),
        asyncio.create_task(_ops(ws, sub)),
        asyncio.create_task(_watch(reader, sub, recheck_s)),
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


async def _pump(ws: WebSocket, sub: Subscriber, reader: Reader) -> tuple[int, str]:
    while True:
        out = reader.prepare(await sub.queue.get())
        if out is not None:
            await ws.send_json(out)
        if sub.overflowed and sub.queue.empty():
            return SLOW


async def _ops(ws: WebSocket, sub: Subscriber) -> None:
    """Subscribe and unsubscribe requests until the client disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            msg = _decode(message)
        except ValueError as err:
            await ws.send_json({"error": "op", "message": str(err)})
            continue
        op, raw = msg.get("op"), msg.get("topics")
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


async def _watch(reader: Reader, sub: Subscriber, every_s: float) -> tuple[int, str]:
    """Ends when the token or session no longer authenticates: checked when the hub says the token
    was revoked and every ``every_s`` seconds (a revocation made by another API process or directly
    in the store, a session signed out or timed out)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sub.revoked.wait(), every_s)
        sub.revoked.clear()
        try:
            await run_in_threadpool(reader.check)
        except AuthError:
            return ENDED if reader.cookie else REVOKED
        except Exception:  # a store hiccup is not a revocation: keep the feed, check again
            continue

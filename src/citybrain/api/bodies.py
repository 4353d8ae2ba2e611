"""The body gate: authentication and size limits applied before any request body is read.

FastAPI reads and parses a route's body parameters before it runs the route's dependencies, so a
``Depends(require(...))`` alone would let anyone without a token make the server read and parse
a body of any size. ``BodyGate`` is a pure ASGI middleware that hands the app a guarded
``receive`` for every HTTP request carrying a body (Content-Length above 0, or chunked). The
first time anything asks for the body, routing has already chosen the route, so the guard:

1. checks the bearer token for every scope the route's ``require`` dependencies need:
   401/403 without a byte of the body read;
2. bounds the body: routes that need the ``ingest`` scope (``/api/v1/events``, scene feeds) by
   ``ingest.max_body_bytes`` as they stream it (their own checks stay), every other route by
   ``server.max_body_bytes`` (1 MiB by default), read here in full and handed on in one piece;
   a declared Content-Length over the limit is refused before reading, a chunked body as soon as
   it passes the limit: 413 naming the limit.

A refusal is raised as ``Refused`` (an HTTPException, which FastAPI lets through its body parsing
untouched) and answered by ``errors`` in the usual JSON form. Any answer that starts before the
whole body was read carries ``Connection: close``, so the unread rest is never parsed as a next
request. A route that never reads its body (404, 405) costs nothing; WebSockets and requests
without a body pass untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citybrain.api.auth import CSRF_HEADER, SESSION_COOKIE, Require, authorize, identify, scene_of
from citybrain.core.errors import CitybrainError
from citybrain.core.ingest import TooLargeError

STREAMED_SCOPE = "ingest"  # routes needing this scope stream their bodies under ingest.max_body_bytes


class Refused(HTTPException):
    """A request refused before (or while) its body was read; ``error`` says why."""

    def __init__(self, error: CitybrainError) -> None:
        super().__init__(status_code=400, detail=str(error))
        self.error = error


def _admit(state: Any, scope: Scope, action: str, scene: str) -> None:
    """Who the request is (token or session), allowed ``action`` in ``scene``; else the refusal."""

    def text(name: bytes) -> str | None:
        raw = _header(scope, name)
        return raw.decode("latin-1") if raw is not None else None

    cookie = cookie_parser(text(b"cookie") or "").get(SESSION_COOKIE)
    who = identify(state, text(b"authorization"), cookie, text(CSRF_HEADER.encode()), scope["method"])
    authorize(state, who, action, scene)


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return _header(scope, b"transfer-encoding") is not None or (length is not None and length != b"0")


def _required(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        if isinstance(dep.call, Require):
            yield dep.call.scope
        yield from _required(dep)


def route_scopes(route: Any) -> tuple[str, ...]:
    """The scopes a route's ``require`` dependencies need (its own and its router's)."""
    dependant = getattr(route, "dependant", None)
    return tuple(dict.fromkeys(_required(dependant))) if dependant is not None else ()


class BodyGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._scopes: dict[int, tuple[str, ...]] = {}  # id(route) -> scopes: one entry per route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        guard = _Guard(self, scope, receive)

        async def closing(msg: Message) -> None:
            if msg["type"] == "http.response.start" and not guard.done:
                # answered before the whole body was read (refused, or a route that never reads
                # it): the rest must not be parsed as a next request on this connection
                msg = {**msg, "headers": [*msg.get("headers", []), (b"connection", b"close")]}
            await send(msg)

        await self.app(scope, guard.receive, closing)

    def scopes_of(self, route: Any) -> tuple[str, ...]:
        found = self._scopes.get(id(route))
        if found is None:
            found = self._scopes[id(route)] = route_scopes(route)
        return found


class _Guard:
    """The ``receive`` of one request: checks come first, then the body, bounded."""

    def __init__(self, gate: BodyGate, scope: Scope, receive: Receive) -> None:
        self.gate, self.scope, self.inner = gate, scope, receive
        self.checked = False
        self.done = False  # the whole body was received (or the client left)
        self.streamed = False
        self.limit = 0
        self.size = 0
        self.what = ""

    async def receive(self) -> Message:
        if not self.checked:
            self.checked = True
            await self._check()
            if not self.streamed:
                return await self._whole_body()
        if not self.streamed:
            return await self.inner()  # after the whole body: only the disconnect is left
        msg = await self.inner()
        self.size += len(msg.get("body", b""))
        if self.size > self.limit:
            raise Refused(TooLargeError(f"body exceeds {self.what}"))
        self.done = self.done or msg["type"] == "http.disconnect" or not msg.get("more_body", False)
        return msg

    async def _check(self) -> None:
        scope = self.scope
        app = scope["app"]
        route = scope.get("route")
        needs = self.gate.scopes_of(route) if route is not None else ()
        # a route that reads its body itself (ingest) has run its dependencies already: they set
        # the request's principal only once every action passed, so there is nothing left to check
        admitted = (scope.get("state") or {}).get("who") is not None
        where = scene_of(scope["path"], scope.get("path_params"))
        for need in () if admitted else needs:
            try:
                await run_in_threadpool(_admit, app.state, scope, need, where)
            except CitybrainError as err:  # AuthError, ForbiddenError; StoreError answers 503
                raise Refused(err) from None
        settings = app.state.platform.settings
        self.streamed = STREAMED_SCOPE in needs
        if self.streamed:
            self.limit, name = settings.ingest.max_body_bytes, "ingest.max_body_bytes"
        else:
            self.limit = settings.server.max_body_bytes
            name = "server.max_body_bytes"
        self.what = f"{name}={self.limit} ({scope['method']} {scope['path']})"
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            raise Refused(TooLargeError(f"body of {int(declared)} bytes exceeds {self.what}"))

    async def _whole_body(self) -> Message:
        chunks: list[bytes] = []
        more = True
        while more:
            msg = await self.inner()
            if msg["type"] == "http.disconnect":
                self.done = True
                return msg
            chunk = msg.get("body", b"")
            self.size += len(chunk)
            if self.size > self.limit:
                raise Refused(TooLargeError(f"body exceeds {self.what}"))
            chunks.append(chunk)
            more = msg.get("more_body", False)
        self.done = True
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

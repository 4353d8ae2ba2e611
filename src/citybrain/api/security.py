"""Security headers on every HTTP answer.

``SecurityHeaders`` (pure ASGI) adds to every answer what it does not set itself:
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``
and a Content-Security-Policy. An API answer (JSON, CSV, Parquet, metrics) gets ``default-src
'none'``: rendered by mistake in a browser, it can load and run nothing. The dashboard page sets
its own policy (web/serving.py: self, plus its inline import map by hash), and so do the API
reference pages ``/docs`` and ``/redoc`` (api/apidocs.py: this origin only).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", API_CSP.encode()),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                present = {k.lower() for k, _ in msg.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
            await send(msg)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    """The headers on every answer."""
    app.add_middleware(SecurityHeaders)

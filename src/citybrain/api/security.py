"""Security headers on every HTTP answer, and the API docs page under a strict CSP.

``SecurityHeaders`` (pure ASGI) adds to every answer what it does not set itself:
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``
and a Content-Security-Policy. An API answer (JSON, CSV, Parquet, metrics) gets ``default-src
'none'``: rendered by mistake in a browser, it can load and run nothing. The dashboard page sets
its own policy (web/serving.py: self, plus its inline import map by hash); ``/docs`` (Swagger UI
from its CDN) gets one that allows that CDN's script and style and the page's one inline script
by hash, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", API_CSP.encode()),
)
CDN = "https://cdn.jsdelivr.net"  # where FastAPI's Swagger UI page loads its script and style
DOCS_CSP = (
    "default-src 'none'; script-src {cdn} {inline}; style-src {cdn}; img-src 'self' data: "
    "https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


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


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def docs_page(app: FastAPI) -> HTMLResponse:
    """FastAPI's Swagger UI page with a CSP naming its CDN and its inline script's hash."""
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API")
    html = bytes(page.body).decode()
    inline = " ".join(_sha256(s) for s in INLINE_SCRIPT.findall(html))
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP.format(cdn=CDN, inline=inline)})


def install(app: FastAPI) -> None:
    """The headers on every answer and ``/docs`` (create the app with ``docs_url=None``)."""
    app.add_middleware(SecurityHeaders)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return docs_page(app)

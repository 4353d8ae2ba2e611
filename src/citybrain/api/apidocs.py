"""The API reference pages, served whole by the platform: ``/docs`` (Swagger UI) and ``/redoc``
(ReDoc).

FastAPI's pages load their script and style from a CDN, so on a command centre's isolated network
they stay blank. Here they load the same bundles from ``/vendor/`` (npm packages swagger-ui-dist
and redoc, copied into the package by ``scripts/web_vendor.py`` with the dashboard's files), and
each page's Content-Security-Policy names this origin only: it cannot reach anything else even by
mistake. Swagger UI's online validator is switched off (it would send the description out).
ReDoc styles its elements at run time (inline styles) and starts its search worker from a
``blob:`` URL; neither reaches the network.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

VENDOR = "/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui-dist/swagger-ui.css"
FAVICON = f"{VENDOR}/swagger-ui-dist/favicon-32x32.png"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
ASSETS = (SWAGGER_JS, SWAGGER_CSS, FAVICON, REDOC_JS)  # what the two pages load (tests ask for each)

_TAIL = "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SWAGGER_CSP = (
    f"default-src 'none'; script-src 'self' {{inline}}; style-src 'self'; img-src 'self' data:; {_TAIL}"
)
REDOC_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    f"font-src 'self' data:; worker-src 'self' blob:; {_TAIL}"
)
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def swagger_page(app: FastAPI) -> HTMLResponse:
    """Swagger UI from this server, its one inline script allowed by hash."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS,
        swagger_favicon_url=FAVICON,
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    inline = " ".join(_sha256(s) for s in INLINE_SCRIPT.findall(html))
    return HTMLResponse(html, headers={"Content-Security-Policy": SWAGGER_CSP.format(inline=inline)})


def redoc_page(app: FastAPI) -> HTMLResponse:
    """ReDoc from this server, without the web fonts FastAPI's page fetches from Google."""
    page = get_redoc_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        redoc_js_url=REDOC_JS,
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )
    return HTMLResponse(bytes(page.body).decode(), headers={"Content-Security-Policy": REDOC_CSP})


def install(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` (create the app with ``docs_url=None, redoc_url=None``)."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return swagger_page(app)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return redoc_page(app)

"""Static serving for the dashboard: the page, its modules, and the npm files copied beside them.

Both are package data (read through ``importlib.resources``, so an installed wheel serves them from
any directory): ``static/`` is the dashboard's own code, ``vendor/`` the few third-party browser
files and their licences that ``scripts/web-deps.sh`` copies from ``web/node_modules`` (never
committed; the list is in ``scripts/web_vendor.py``). Explicit media types: Python's
``mimetypes`` knows no ``.mjs`` without /etc/mime.types.
A Content-Security-Policy pins every fetch, script, worker and style to this origin, so the page
cannot reach a CDN, a tile server or a font host even by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response


def _folder(name: str) -> Path:
    """A package data folder of the dashboard as a path (FileResponse serves files)."""
    return Path(str(files("citybrain.web").joinpath(name))).resolve()


STATIC = _folder("static")
VENDOR = _folder("vendor")
TYPES = {
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".geojson": "application/geo+json",
}
# MapLibre starts its worker from a blob: URL that imports the worker module; ECharts and MapLibre
# set inline styles on the elements they create.
CSP = (
    "default-src 'self'; script-src 'self' {importmap}; worker-src 'self' blob:; "
    "connect-src 'self' ws: wss:; "
    "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
IMPORTMAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)


@lru_cache(maxsize=1)
def _page() -> tuple[str, dict[str, str]]:
    """The page and its headers; the inline import map is allowed by its hash, nothing else inline."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    found = IMPORTMAP.search(html)
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode() if found else ""
    csp = CSP.format(importmap=f"'sha256-{digest}'" if digest else "")
    return html, {**SECURITY, "Content-Security-Policy": csp, "Cache-Control": "no-cache"}


def _file(path: Path, cache: str) -> Response:
    media = TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers={**SECURITY, "Cache-Control": cache})


def _served(folder: Path, path: str, cache: str, what: str) -> Response:
    """A file inside ``folder`` (never outside it, whatever the path says), or a 404 naming it."""
    target = (folder / path).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        hint = "" if folder.is_dir() else f" ({folder} is missing: run 'make deps')"
        return JSONResponse({"error": "NotFound", "message": f"no {what} {path!r}{hint}"}, status_code=404)
    return _file(target, cache)


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/")
    def index() -> Response:
        html, headers = _page()
        return HTMLResponse(html, headers=headers)

    @r.get("/static/{path:path}")
    def static(path: str) -> Response:
        return _served(STATIC, path, "no-cache", "dashboard file")

    @r.get("/vendor/{path:path}")
    def vendor(path: str) -> Response:
        return _served(VENDOR, path, "public, max-age=86400", "npm file")

    from citybrain.web import console_serving  # the operator console (imports this module's helpers)

    r.include_router(console_serving.router())
    return r

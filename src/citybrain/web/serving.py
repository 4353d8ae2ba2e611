"""Static serving for the dashboard: the page, its modules, and an allow-list of npm files.

Only files named in ``VENDOR`` are served from ``node_modules`` (never the whole folder), with
explicit media types: Python's ``mimetypes`` knows no ``.mjs`` without /etc/mime.types.
A Content-Security-Policy pins every fetch, script, worker and style to this origin, so the page
cannot reach a CDN, a tile server or a font host even by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

STATIC = Path(__file__).parent / "static"
REPO = Path(__file__).resolve().parents[3]

# URL path under /vendor/ -> path inside node_modules
VENDOR: dict[str, str] = {
    "echarts/echarts.esm.min.mjs": "echarts/dist/echarts.esm.min.mjs",
    "maplibre-gl/maplibre-gl.mjs": "maplibre-gl/dist/maplibre-gl.mjs",
    "maplibre-gl/maplibre-gl-worker.mjs": "maplibre-gl/dist/maplibre-gl-worker.mjs",
    "maplibre-gl/maplibre-gl.css": "maplibre-gl/dist/maplibre-gl.css",
}
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


def node_modules() -> Path:
    """``CITYBRAIN_WEB_MODULES`` overrides where the npm packages are (default ``web/node_modules``)."""
    return Path(os.environ.get("CITYBRAIN_WEB_MODULES") or REPO / "web" / "node_modules")


def _file(path: Path, cache: str) -> Response:
    media = TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers={**SECURITY, "Cache-Control": cache})


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/")
    def index() -> Response:
        html, headers = _page()
        return HTMLResponse(html, headers=headers)

    @r.get("/static/{path:path}")
    def static(path: str) -> Response:
        target = (STATIC / path).resolve()
        if not target.is_relative_to(STATIC.resolve()) or not target.is_file():
            return JSONResponse(
                {"error": "NotFound", "message": f"no dashboard file {path!r}"}, status_code=404
            )
        return _file(target, "no-cache")

    @r.get("/vendor/{path:path}")
    def vendor(path: str) -> Response:
        rel = VENDOR.get(path)
        if rel is None:
            return JSONResponse(
                {"error": "NotFound", "message": f"{path!r} is not a served npm file"}, status_code=404
            )
        target = node_modules() / rel
        if not target.is_file():
            return JSONResponse(
                {"error": "NotFound", "message": f"{target} is missing: run 'make deps' (npm ci in web/)"},
                status_code=404,
            )
        return _file(target, "public, max-age=86400")

    return r

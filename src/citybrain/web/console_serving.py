"""Static serving for the operator console (``/console``): the page and the files Vite built.

The console (``console/`` at the top of the repository: Vue 3 + Element Plus, built with Vite by
``scripts/console-build.sh``) is built into this package's ``console/`` folder, never committed and
shipped in the wheel like ``vendor/``. Its page is a hash-routed single page, so the server knows
only ``/console`` (the page) and ``/console/<file>`` (the content-hashed assets, cached for a year,
and the licences of the bundled packages). Paths are resolved inside the folder and nowhere else
(``serving._served``'s approach); media types are explicit.

The page's Content-Security-Policy is the dashboard's minus what only the dashboard needs (no
inline import map, no WebSocket): scripts, styles, fetches, images and fonts from this origin only,
a blob: worker for MapLibre (the case map loads the dashboard's copy from ``/vendor/``). Styles
need no ``'unsafe-inline'``: Vite extracts Element Plus's CSS into a file and Vue and Element Plus
set element styles through the CSSOM (``el.style``), which CSP does not govern; the browser test
fails on any CSP violation, which Chromium reports as a console error.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

from citybrain.web.serving import SECURITY, TYPES

CONSOLE = Path(str(files("citybrain.web").joinpath("console"))).resolve()
CONSOLE_TYPES = {
    **TYPES,
    ".md": "text/markdown; charset=utf-8",
    ".woff2": "font/woff2",
    ".ico": "image/x-icon",
}
CSP = (
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; "
    "img-src 'self' data: blob:; style-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {**SECURITY, "Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
HASHED = "public, max-age=31536000, immutable"  # Vite names assets by their content
BUILD_HINT = "run 'make deps' (scripts/console-build.sh builds the console)"


def _missing(what: str) -> Response:
    hint = "" if (CONSOLE / "index.html").is_file() else f" ({CONSOLE} has no built console: {BUILD_HINT})"
    return JSONResponse({"error": "NotFound", "message": f"no console file {what!r}{hint}"}, status_code=404)


def console_file(path: str) -> Response:
    """The page for "" or "index.html", else a built file inside the console folder (never outside)."""
    name = path or "index.html"
    target = (CONSOLE / name).resolve()
    if not target.is_relative_to(CONSOLE) or not target.is_file():
        return _missing(path)
    if target == CONSOLE / "index.html":
        return FileResponse(target, media_type=CONSOLE_TYPES[".html"], headers=PAGE_HEADERS)
    media = CONSOLE_TYPES.get(target.suffix, "application/octet-stream")
    cache = HASHED if target.parent == CONSOLE / "assets" else "no-cache"
    return FileResponse(target, media_type=media, headers={**SECURITY, "Cache-Control": cache})


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/console")
    def page() -> Response:
        return console_file("")

    @r.get("/console/{path:path}")
    def asset(path: str) -> Response:
        return console_file(path)

    return r

"""Every route of an app or router, with its full path: FastAPI keeps an included router as one
lazy entry (``original_router`` + ``include_context``), so walking ``app.routes`` alone misses
them. Used by the permission walk (every route declares what it needs) and the scene checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI


def walk(router: APIRouter | FastAPI, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) for every route, included routers' too."""
    for r in router.routes:
        inner = getattr(r, "original_router", None)
        if isinstance(inner, APIRouter):
            yield from walk(inner, prefix + getattr(getattr(r, "include_context", None), "prefix", ""))
        elif getattr(r, "path", None) is not None:
            yield prefix + r.path, r  # type: ignore[attr-defined]

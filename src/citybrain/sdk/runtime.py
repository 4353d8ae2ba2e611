"""The scene runtime as a FastAPI dependency: ``rt: Annotated[Runtime[MySettings], Depends(runtime)]``.

Scene routers are mounted at ``/api/v1/scenes/<name>``; the dependency finds the scene from there,
so a scene's router is a module-level object that names its scene nowhere.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from citybrain.api.auth import require
from citybrain.core.errors import NotFoundError
from citybrain.core.runtime import Runtime

__all__ = ["SCENES_PREFIX", "Runtime", "require", "router", "runtime", "scene_of_path"]

SCENES_PREFIX = "/api/v1/scenes/"


def scene_of_path(path: str) -> str:
    if not path.startswith(SCENES_PREFIX):
        raise NotFoundError(f"{path} is not a scene route (they live under {SCENES_PREFIX}<scene>/)")
    return path[len(SCENES_PREFIX) :].split("/", 1)[0]


def runtime(request: Request) -> Runtime[Any]:
    """The runtime of the scene whose route is being served."""
    rt: Runtime[Any] = request.app.state.platform.runtime(scene_of_path(request.url.path))
    return rt


def router(scope: str | None = "read") -> APIRouter:
    """A scene's router: every route needs a token with ``scope``. With ``scope=None`` each route
    declares its own (``dependencies=[Depends(sdk.require("operate"))]``): for a scene whose routes
    need different scopes (a read token must not be required to post an ingest feed)."""
    return APIRouter(dependencies=[Depends(require(scope))] if scope else [])

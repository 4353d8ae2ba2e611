"""The scene runtime as a FastAPI dependency: ``rt: Annotated[Runtime[MySettings], Depends(runtime)]``.

Scene routers are mounted at ``/api/v1/scenes/<name>``; the dependency finds the scene from there,
so a scene's router is a module-level object that names its scene nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request

from citybrain.api.auth import public, require, scene_of
from citybrain.core.errors import NotFoundError
from citybrain.core.runtime import Runtime

__all__ = [
    "SCENES_PREFIX",
    "Areas",
    "Runtime",
    "acting",
    "public",
    "readable_areas",
    "require",
    "router",
    "runtime",
    "scene_of_path",
]

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


@dataclass(frozen=True)
class Areas:
    """The areas a request's principal may read in the route's scene: ``codes`` None means
    everywhere; else administrative codes, each covering the codes it prefixes."""

    codes: tuple[str, ...] | None

    def admit(self, code: str | None) -> bool:
        """Whether a record of area ``code`` may be shown (a record with no area: only to those
        who may read everywhere)."""
        if self.codes is None:
            return True
        return bool(code) and any(str(code).startswith(a) for a in self.codes)


def acting(request: Request) -> tuple[str, Any]:
    """Dependency: who acts in this request, as the audit log names them and as the case engine
    knows them (``(audit name, case actor)``)."""
    from citybrain.api.routes_cases import actor_of

    who = getattr(request.state, "who", None)
    if who is None:
        raise NotFoundError("this route has no principal: declare its require() first")
    return who.actor, actor_of(who)


def readable_areas(request: Request) -> Areas:
    """Dependency: ``areas: Annotated[Areas, Depends(sdk.readable_areas)]``; a route filters its
    records with ``areas.admit(record_area)``. A village caseworker's list holds their village."""
    who = getattr(request.state, "who", None)
    if who is None:  # the route's own require() has not run: refuse rather than show everything
        return Areas(())
    codes = request.app.state.policy.areas(
        who.principal, scene_of(request.url.path, request.path_params), "read"
    )
    return Areas(codes)

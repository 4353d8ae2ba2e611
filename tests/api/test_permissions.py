"""The one enforcement point: every route declares the action it needs (``require(action)``), or
is one of the few public routes, each listed with why; the scene is the route's own."""

from __future__ import annotations

from citybrain.api.auth import PUBLIC, Public, scene_of
from citybrain.api.bodies import _required
from citybrain.api.route_table import walk
from citybrain.identity.org import ACTIONS
from tests.support.api import Api


def needs(route: object) -> tuple[str, ...]:
    dep = getattr(route, "dependant", None)
    return tuple(dict.fromkeys(_required(dep))) if dep is not None else ()


def public_because(route: object) -> str:
    """The reason a route declares itself public (``sdk.public``), or empty."""
    dep = getattr(route, "dependant", None)
    stack = [dep] if dep is not None else []
    while stack:
        d = stack.pop()
        if isinstance(d.call, Public):
            return d.call.reason
        stack.extend(d.dependencies)
    return ""


def test_every_route_declares_a_permission_or_is_listed_public(api: Api) -> None:
    routes = list(walk(api.client.app))  # type: ignore[arg-type]
    declared_public = {path: public_because(r) for path, r in routes if public_because(r)}
    assert all(len(why) > 20 for why in declared_public.values())
    assert not {p for p, r in routes if p in declared_public and needs(r)}  # public or not, never both
    undeclared = {path for path, r in routes if not needs(r) and path not in declared_public}
    assert undeclared == set(PUBLIC), (
        f"routes without require(action) and not in api.auth.PUBLIC: {sorted(undeclared - set(PUBLIC))}; "
        f"listed public but gone or now declared: {sorted(set(PUBLIC) - undeclared)}"
    )
    actions = {a for _, r in routes for a in needs(r)}
    assert actions <= set(ACTIONS), actions
    scene_routes = [p for p, _ in routes if p.startswith("/api/v1/scenes/")]
    assert len(scene_routes) > 30  # the four scenes' routes were walked, not only the platform's


def test_the_scene_of_a_request_is_the_route_s() -> None:
    assert scene_of("/api/v1/scenes/traffic/roads") == "traffic"
    assert scene_of("/api/v1/entities/nev", {"scene": "nev"}) == "nev"
    assert scene_of("/api/v1/alerts") == "platform"


def test_a_token_without_the_action_is_refused_naming_the_scene(api: Api) -> None:
    r = api.client.get("/api/v1/scenes/traffic/hotspots", headers=api.h("ingest"))
    assert r.status_code == 403
    assert "lacks the 'read' scope in scene 'traffic'" in r.json()["message"]

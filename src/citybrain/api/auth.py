"""The one enforcement point: who a request is (an integration's bearer token, or a person's
session cookie with its CSRF token on changes) and whether the identity policy lets it take the
route's action in the route's scene.

``require(action)`` is a ``Require`` instance, so the body gate (api/bodies.py) can read from a
route's dependencies which action it needs and check before any body is read. The scene is the
route's: ``/api/v1/scenes/<scene>/...``, a ``{scene}`` path parameter, else ``platform``. A short
cache keeps token lookups off the store; the policy decides on every request.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request

from citybrain.core.errors import AuthError, ForbiddenError
from citybrain.core.store.base import Token
from citybrain.core.tokens import authenticate, digest, scope_roles
from citybrain.identity.policy import SELF, Policy, Principal

if TYPE_CHECKING:
    from citybrain.identity.directory import Directory

_CACHE_S = 5.0
_CACHE_MAX = 10_000  # valid tokens; cleared whole when full (tokens are few)
PLATFORM = "platform"  # the scene of the platform's own routes
# the only routes without a declared permission, each with why (tests/api/test_permissions.py walks
# the route table: a route neither here nor declaring ``require(action)`` fails the build)
PUBLIC: dict[str, str] = {
    "/healthz": "liveness probe: says only that the process answers",
    "/readyz": "readiness probe for load balancers: states of the pipeline, no records",
    "/openapi.json": "the API's description, no data",
    "/docs": "the API reference page, no data",
    "/redoc": "the API reference page (ReDoc), no data",
    "/": "the dashboard shell; the page signs in and calls the API with the user's credentials",
    "/static/{path:path}": "the dashboard's own assets",
    "/vendor/{path:path}": "the dashboard's npm assets",
    "/console": "the operator console's shell; the page signs in and calls the API with the person's session",
    "/console/{path:path}": "the operator console's built assets (web/console_serving.py)",
    "/api/v1/live": "WebSocket: authenticates in its first message and is re-checked (api/live.py)",
    "/api/v1/auth/login": "sign-in: it checks the credentials it is given (accounts lock after failures)",
    "/api/v1/auth/oidc/login": "OIDC sign-in: only redirects to the identity provider (404 when OIDC is off)",
    "/api/v1/auth/oidc/callback": "OIDC sign-in: admits only a valid answer to its own signed state (PKCE, "
    "ID token checked) for an enabled local account",
    "/open311/v2/services.{format}": "Open311 service list: the kinds of request one may file, no records",
    "/open311/v2/services/{service_code}.{format}": "Open311 service definition: one kind's form, no records",
    "/open311/v2/requests.{format}": "POST of Open311: the spec sends api_key in the form body, so the route "
    "checks it itself (ingest or operate scope) once the body gate has bounded the body; the GET on this "
    "path declares require('read')",
}
SCENES_PREFIX = "/api/v1/scenes/"
METRICS_PREFIX = "/api/v1/metrics/"
SELF_PREFIX = "/api/v1/auth/"
CASE_PREFIXES = ("/api/v1/cases", "/api/v1/case-types")  # the case engine: pseudo-scene "cases"
SESSION_COOKIE = "cb_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def scene_of(path: str, path_params: Mapping[str, Any] | None = None) -> str:
    """The scene a request acts in."""
    if path.startswith(SCENES_PREFIX):
        return path[len(SCENES_PREFIX) :].split("/", 1)[0]
    if path.startswith(SELF_PREFIX):
        return SELF  # one's own session: every signed-in principal may read and end it
    if path.startswith(CASE_PREFIXES):
        return "cases"  # areas and actions are checked per case inside (api/routes_cases.py)
    params = path_params or {}
    scene = params.get("scene")
    if not scene and path.startswith(METRICS_PREFIX) and params.get("name"):
        scene = str(params["name"]).split(".", 1)[0]  # metric names start with their scene
    return str(scene) if scene else PLATFORM


def principal_of(token: Token) -> Principal:
    return Principal("token", token.id, token.name, scope_roles(token))


@dataclass(frozen=True)
class Who:
    """The authenticated principal of a request: an integration's token or a signed-in person."""

    principal: Principal
    token: Token | None = None  # when it came with a bearer token
    csrf: str = ""  # the session's CSRF token (people)

    @property
    def id(self) -> str:
        return self.principal.id

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.token.scopes if self.token is not None else ()

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        return f"{self.principal.name} ({self.principal.id})"


def _token(request_state: Any, secret: str) -> Token:
    cache: dict[str, tuple[float, Token]] = request_state.token_cache
    now = time.monotonic()
    key = digest(secret)
    hit = cache.get(key)
    if hit and now - hit[0] < _CACHE_S:
        return hit[1]
    token = authenticate(request_state.platform.store, secret)
    if token.owner.startswith("user:"):  # a person's token lives as long as their account
        owner = request_state.directory.store.user(token.owner[5:])
        if owner is None or owner.disabled:
            raise AuthError(f"token {token.id} belongs to a disabled or removed account")
    if len(cache) > _CACHE_MAX:
        cache.clear()
    cache[key] = (now, token)
    return token


def identify(
    request_state: Any, authorization: str | None, cookie: str | None, csrf: str | None, method: str = "GET"
) -> Who:
    """A bearer token wins; else the session cookie, whose CSRF token must come back in the
    ``X-CSRF-Token`` header on anything but a read."""
    secret = bearer(authorization)
    if secret or not cookie:
        return Who(principal_of(t := _token(request_state, secret or "")), t)
    directory: Directory = request_state.directory
    session, user = directory.session(cookie, time.time_ns() // 1_000_000)
    if method not in SAFE_METHODS and not (csrf and hmac.compare_digest(csrf, session.csrf)):
        raise ForbiddenError(f"a change made with a session needs its CSRF token in the {CSRF_HEADER} header")
    return Who(directory.principal(user), csrf=session.csrf)


def authorize(request_state: Any, who: Who, action: str, scene: str = PLATFORM) -> None:
    policy: Policy = request_state.policy
    if policy.allows(who.principal, scene, action):
        return
    where = "" if scene == PLATFORM else f" in scene {scene!r}"
    if who.token is not None:
        raise ForbiddenError(
            f"token {who.id} lacks the {action!r} scope{where} (it has {', '.join(who.scopes)})"
        )
    roles = ", ".join(who.principal.roles)
    raise ForbiddenError(f"{who.name} may not {action}{where} (roles: {roles})")


def check(request_state: object, secret: str | None, action: str, scene: str = PLATFORM) -> Token:
    """A bearer token that may take ``action`` in ``scene`` (the live feed's in-band auth)."""
    who = identify(request_state, f"Bearer {secret}" if secret else None, None, None)
    authorize(request_state, who, action, scene)
    assert who.token is not None
    return who.token


class Require:
    """The dependency that admits a request whose principal may take ``action`` in its scene."""

    def __init__(self, action: str) -> None:
        self.scope = action  # the name the body gate and the route walk read

    def __call__(self, request: Request) -> Who:
        h = request.headers
        state = request.app.state
        who = identify(state, h.get("authorization"), request.cookies.get(SESSION_COOKIE), h.get(CSRF_HEADER),
                       request.method)  # fmt: skip
        authorize(state, who, self.scope, scene_of(request.url.path, request.path_params))
        request.state.token = who.token
        request.state.who = who
        return who

    def __repr__(self) -> str:
        return f"require({self.scope!r})"


def require(action: str) -> Require:
    return Require(action)


class Public:
    """The dependency of a route no principal calls because it checks its caller itself, e.g. a
    payment provider's notice, admitted by the provider's signature. It admits every request; the
    route must do the check. Routes declare it with the reason, which the permission test lists
    beside ``PUBLIC`` (tests/api/test_permissions.py)."""

    def __init__(self, reason: str) -> None:
        if not reason.strip():
            raise ValueError("a public route must say how it checks its caller")
        self.reason = reason

    def __call__(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"public({self.reason!r})"


def public(reason: str) -> Public:
    return Public(reason)

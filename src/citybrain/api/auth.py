"""Bearer-token authentication as a FastAPI dependency; a short cache keeps lookups off the store.

``require(scope)`` is a ``Require`` instance, so the body gate (api/bodies.py) can read from a
route's dependencies which scope it needs and check the token before any body is read.
"""

from __future__ import annotations

import time

from fastapi import Request

from citybrain.core.store.base import Token
from citybrain.core.tokens import authenticate, digest

_CACHE_S = 5.0
_CACHE_MAX = 10_000  # valid (token, scope) pairs; cleared whole when full (tokens are few)


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check(request_state: object, secret: str | None, scope: str) -> Token:
    platform = request_state.platform  # type: ignore[attr-defined]
    cache: dict[tuple[str, str], tuple[float, Token]] = request_state.token_cache  # type: ignore[attr-defined]
    now = time.monotonic()
    if secret:
        hit = cache.get((digest(secret), scope))
        if hit and now - hit[0] < _CACHE_S:
            return hit[1]
    token = authenticate(platform.store, secret, scope)
    if secret:
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[(digest(secret), scope)] = (now, token)
    return token


class Require:
    """The dependency that admits a request whose bearer token grants ``scope``."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def __call__(self, request: Request) -> Token:
        token = check(request.app.state, bearer(request.headers.get("authorization")), self.scope)
        request.state.token = token
        return token

    def __repr__(self) -> str:
        return f"require({self.scope!r})"


def require(scope: str) -> Require:
    return Require(scope)

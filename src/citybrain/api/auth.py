"""Bearer-token authentication as a FastAPI dependency; a short cache keeps lookups off the store."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import Request

from citybrain.core.store.base import Token
from citybrain.core.tokens import authenticate, digest

_CACHE_S = 5.0


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
        if len(cache) > 10_000:
            cache.clear()
        cache[(digest(secret), scope)] = (now, token)
    return token


def require(scope: str) -> Callable[[Request], Token]:
    def dependency(request: Request) -> Token:
        token = check(request.app.state, bearer(request.headers.get("authorization")), scope)
        request.state.token = token
        return token

    dependency.__name__ = f"require_{scope}"
    return dependency

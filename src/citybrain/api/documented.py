"""The error answers every route may give, declared in one place so /openapi.json lists every
status a client can receive (schemathesis checks it: tests/api/test_schemathesis.py).

``errors.answer`` writes every refusal as ``{"error", "message"[, "errors"]}``; FastAPI's own
request validation answers 422 ``{"detail": [...]}``. ``install(app)`` adds to each operation
of /openapi.json the answers it lacks: the errors any route can raise (400, 404, 409, 422, 503),
401/403 where a token scope is required, 413 where a body is taken, 429 on the ingest routes
(rate limit, backpressure), 431 for oversized request heads (answered by the server: api.server).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from citybrain.api.bodies import STREAMED_SCOPE, route_scopes

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "the error's class, e.g. NotFoundError"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "per-line or per-field problems (ValidationError)",
            "items": {
                "type": "object",
                "properties": {
                    "line": {"type": "integer"},
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
_FASTAPI_422: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": {"type": "object"}}},
}


def error_answer(description: str, schema: dict[str, Any] = ERROR_SCHEMA) -> dict[str, Any]:
    """An operation's documented error answer (``responses={code: error_answer(...)}``)."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_error = error_answer

ANY_ROUTE: dict[int, dict[str, Any]] = {
    400: _error("the request cannot be carried out (ConfigError): the message says why"),
    404: _error("no such resource (NotFoundError), or a path parameter that names nothing"),
    409: _error("conflicts with the current state (ConflictError)"),
    422: _error(
        "invalid parameters or body: FastAPI's {detail} or citybrain's {error, message, errors}",
        {"anyOf": [ERROR_SCHEMA, _FASTAPI_422]},
    ),
    431: {"description": "request head over server.max_header_bytes (plain text, from the server)"},
    503: _error("the store is unavailable (StoreError): retry later"),
}
WITH_TOKEN: dict[int, dict[str, Any]] = {
    401: _error("no token or session, an unknown or revoked token, or an ended session"),
    403: _error(
        "the token or signed-in person may not take this route's action in its scene, or a change "
        "made with a session lacks its CSRF token"
    ),
}
WITH_BODY: dict[int, dict[str, Any]] = {
    413: _error("body over server.max_body_bytes (ingest.max_body_bytes)")
}
INGEST: dict[int, dict[str, Any]] = {429: _error("rate limit or backpressure: see Retry-After")}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def responses_of(route: APIRoute) -> dict[int, dict[str, Any]]:
    """The error answers ``route`` can give, by what it needs (token scopes, a body)."""
    scopes = route_scopes(route)
    out = dict(ANY_ROUTE)
    if scopes:
        out |= WITH_TOKEN
    if (route.methods or set()) & BODY_METHODS:
        out |= WITH_BODY
    if STREAMED_SCOPE in scopes:
        out |= INGEST
    return out


def install(app: FastAPI) -> None:
    """/openapi.json with every operation's error answers added (what an operation declares itself
    wins); built at the first request, once the scenes' routers are included."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_errors(app, build())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def add_errors(app: FastAPI, spec: dict[str, Any]) -> None:
    paths = spec.get("paths", {})
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            op = paths.get(context.path_format or route.path_format, {}).get(method.lower())
            if op is not None:
                answers = op.setdefault("responses", {})
                for code, doc in responses_of(route).items():
                    answers.setdefault(str(code), doc)

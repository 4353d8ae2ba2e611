"""One mapping from citybrain errors to HTTP answers, each with a clear message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from citybrain.api.bodies import Refused
from citybrain.core.errors import (
    AuthError,
    BackpressureError,
    CitybrainError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from citybrain.core.ingest import TooLargeError

STATUS: list[tuple[type[CitybrainError], int]] = [
    (ForbiddenError, 403),
    (AuthError, 401),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TooLargeError, 413),
    (ValidationError, 422),
    (BackpressureError, 429),
    (ConfigError, 400),
    (StoreError, 503),
]


def answer(err: CitybrainError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The HTTP answer for ``err``: status from ``STATUS``, a JSON body naming the error."""
    status = next((code for cls, code in STATUS if isinstance(err, cls)), 400)
    body: dict[str, object] = {"error": type(err).__name__, "message": str(err)}
    out = dict(headers or {})
    if isinstance(err, ValidationError):
        body["errors"] = [p.as_dict() for p in err.problems]
    if isinstance(err, BackpressureError):
        out["Retry-After"] = str(max(1, round(err.retry_after)))
    if isinstance(err, AuthError) and not isinstance(err, ForbiddenError):
        out["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=out)


def install(app: FastAPI) -> None:
    @app.exception_handler(CitybrainError)
    async def handle(_: Request, err: CitybrainError) -> JSONResponse:
        return answer(err)

    @app.exception_handler(Refused)
    async def refused(_: Request, err: Refused) -> JSONResponse:
        return answer(err.error)  # refused by api/bodies.py, which also closes the connection

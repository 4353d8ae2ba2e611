"""One mapping from citybrain errors to HTTP answers, each with a clear message."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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


def status_of(err: CitybrainError) -> int:
    return next((code for cls, code in STATUS if isinstance(err, cls)), 400)


def body_of(err: CitybrainError) -> dict[str, object]:
    """The JSON body naming ``err`` (also each refused item of a batch answer)."""
    body: dict[str, object] = {"error": type(err).__name__, "message": str(err)}
    if isinstance(err, ValidationError):
        body["errors"] = [p.as_dict() for p in err.problems]
    return body


def answer(err: CitybrainError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The HTTP answer for ``err``: status from ``STATUS``, a JSON body naming the error."""
    status, body = status_of(err), body_of(err)
    out = dict(headers or {})
    if isinstance(err, BackpressureError):
        out["Retry-After"] = str(max(1, round(err.retry_after)))
    if isinstance(err, AuthError) and not isinstance(err, ForbiddenError):
        out["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=out)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float written as a string ("nan", "inf", "-inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


_KNOWN = frozenset(int(s) for s in HTTPStatus)


def install(app: FastAPI) -> None:
    @app.exception_handler(CitybrainError)
    async def handle(_: Request, err: CitybrainError) -> JSONResponse:
        return answer(err)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 ``{"detail": [...]}``, with what was sent made JSON-safe: a NaN or an
        Infinity echoed back as it came would make the answer itself fail (a 500)."""
        return JSONResponse({"detail": _finite(jsonable_encoder(err.errors()))}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        """Starlette's and FastAPI's own refusals (unknown path 404, unparsable JSON body 400, 405)
        in the same form as every other error."""
        name = (
            HTTPStatus(err.status_code).phrase.replace(" ", "") if err.status_code in _KNOWN else "HTTPError"
        )
        body = {"error": name, "message": str(err.detail)}
        return JSONResponse(body, status_code=err.status_code, headers=err.headers)

    @app.exception_handler(Refused)
    async def refused(_: Request, err: Refused) -> JSONResponse:
        return answer(err.error)  # refused by api/bodies.py, which also closes the connection

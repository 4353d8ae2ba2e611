"""One value per query parameter: a parameter that takes one value, given twice, is refused (422)
instead of being read as its last value with the others never checked (``?status=open&status=<
anything>`` would pass the bounds of the one that is read). List parameters (``state`` of the case
search) repeat as they should. Installed as an app-wide dependency, so every route has it."""

from __future__ import annotations

from typing import Any, get_origin

from fastapi.exceptions import RequestValidationError
from starlette.requests import HTTPConnection

_SEQUENCES = (list, tuple, set, frozenset)
_SCALARS: dict[int, frozenset[str]] = {}  # id(route) -> its one-valued query parameters


def _query_params(dependant: Any) -> list[Any]:
    """The query parameters of a route's dependant and of every dependency under it."""
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_params(sub)
    return found


def _one_valued(route: Any) -> frozenset[str]:
    found = _SCALARS.get(id(route))
    if found is None:
        dependant = getattr(route, "dependant", None)
        params = _query_params(dependant) if dependant is not None else []
        found = _SCALARS[id(route)] = frozenset(
            p.alias for p in params if get_origin(p.field_info.annotation) not in _SEQUENCES
            and p.field_info.annotation not in _SEQUENCES
        )  # fmt: skip
    return found


async def single_values(request: HTTPConnection) -> None:
    """Dependency: refuse a one-valued query parameter given more than once (HTTPConnection: on
    WebSocket routes too, where a ``Request`` parameter would fail the handshake)."""
    query = request.query_params
    if len(query.multi_items()) == len(query):  # (len: distinct names)
        return
    names = _one_valued(request.scope.get("route"))
    repeated = sorted(k for k in set(query.keys()) if k in names and len(query.getlist(k)) > 1)
    if repeated:
        raise RequestValidationError([
            {"loc": ("query", k), "msg": "given more than once: send one value", "type": "value_error",
             "input": query.getlist(k)}
            for k in repeated
        ])  # fmt: skip

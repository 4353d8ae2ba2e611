"""Schemathesis over every operation of /openapi.json against a real server, with an admin token:
no input may produce a server error (5xx), and every answer's status code, content type and body
must be the ones the document declares. Invalid requests (negative mode) must be refused.

Deterministic: hypothesis runs derandomized (a fixed seed per operation) with no example
database, so CI sees the same cases every run. ``EXAMPLES`` cases per operation and mode give a
few thousand in all within about a minute on two cores.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.realserver import Running, running

EXAMPLES = 40  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """NDJSON bodies (pushed rows, events): each item a JSON line; anything else as its JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    items = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(v).encode() for v in items)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(tmp_path_factory.mktemp("schemathesis") / "var") as srv:
        yield srv


def describe(op: APIOperation[Any, Any, Any, Any], mode: GenerationMode, err: BaseException) -> str:
    """The failure's title and its first lines (what was expected, the request to reproduce it)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    title = lines[0] if lines else type(err).__name__
    return f"{op.label} ({mode.value}): {title} | {' '.join(lines[1:8])[:400]}"


_TYPE_ONLY = re.compile(r"violates `(anyOf|type)` at /properties/[^/\s]+$")
_VIOLATION = re.compile(r"violates `[^`]+` at \S+")


def only_types(err: BaseException) -> bool:
    """A negative case whose only violation is a value's JSON type (``false`` where a string is
    declared): in a query string everything is text and "false" may be a valid string, so the
    server is right to accept it. Length, pattern and range violations still count."""
    text = str(err)
    # each violation is "- violates `<keyword>` at <path>", on a line of its own or after the
    # component it is about ("Invalid component: parameter `x` in query - violates ...")
    found = _VIOLATION.findall(text)
    return (
        "Schema-violating request accepted" in text
        and bool(found)
        and all(_TYPE_ONLY.search(v) for v in found)
    )


def run_operation(
    srv: Running, op: APIOperation[Any, Any, Any, Any], mode: GenerationMode, found: Counter[str]
) -> int:
    """Run ``EXAMPLES`` cases of ``op``; every failed check is counted in ``found``; returns the
    number of cases sent."""
    sent = 0
    headers = {"Authorization": f"Bearer {srv.admin}"}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(op.as_strategy(generation_mode=mode))
    def check(case: Case[Any]) -> None:
        nonlocal sent
        sent += 1
        try:
            response = case.call(base_url=srv.url, headers=headers)
            # a head over the server's limit is refused with 431 before any parameter is read: a
            # rejection, which the negative-data check does not count as one
            checks = [c for c in CHECKS if c is not negative_data_rejection or response.status_code != 431]
            case.validate_response(response, checks=checks, headers=headers,
                                   transport_kwargs={"base_url": srv.url, "headers": headers})  # fmt: skip
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup: one per failed check
            for err in group.exceptions:
                if not only_types(err):
                    found[describe(op, mode, err)] += 1
        except AssertionError as err:
            if not only_types(err):
                found[describe(op, mode, err)] += 1

    with contextlib.suppress(Unsatisfiable):  # negative mode of an operation with no inputs: nothing to send
        check()
    return sent


def test_no_server_errors_and_every_answer_documented(server: Running) -> None:
    schema: Any = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40, [op.label for op in operations]  # core routes and every scene's
    found: Counter[str] = Counter()
    started = time.monotonic()
    cases = sum(
        run_operation(server, op, mode, found)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )
    took = time.monotonic() - started
    print(f"schemathesis: {cases} cases over {len(operations)} operations in {took:.0f} s")
    assert not found, "\n".join(f"{n} x {what}" for what, n in sorted(found.items()))
    assert cases >= 2_000

"""Fuzzing the ingest path with broken text: any bytes, in any of the accepted framings and
encodings, get an answer below 500; a line that is not valid UTF-8 is that line's error, and the
valid lines around it are accepted."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import Api

# invalid UTF-8: lone continuation bytes, overlong forms, surrogates, truncated sequences, 0xFF
BROKEN = st.sampled_from(
    [b"\x80", b"\xbf", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
     b"\xc3", b"\xe4\xb8", b"\xff", b"\xfe", b"\xc3\x28", b"\xf4\x90\x80\x80"]
)  # fmt: skip


# the api fixture is one app for all examples: each example posts on its own, nothing to reset
FUZZ: dict[str, Any] = {"deadline": None, "derandomize": True,
                        "suppress_health_check": [HealthCheck.function_scoped_fixture]}  # fmt: skip


def good_line(i: int) -> bytes:
    now = time.time_ns() // 1_000_000
    return json.dumps({"kind": "pulse.report", "key": "360102", "ts": now - i, "category": "fuzz"}).encode()


@st.composite
def ndjson_with_broken_lines(draw: st.DrawFn) -> tuple[bytes, set[int]]:
    """A body of good lines and lines spoiled by invalid UTF-8; the (1-based) spoiled lines."""
    n = draw(st.integers(1, 12))
    lines, bad = [], set()
    for i in range(n):
        line = good_line(i)
        if draw(st.booleans()):
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(BROKEN) + line[at:]
            bad.add(i + 1)
        lines.append(line)
    return b"\n".join(lines), bad


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=ndjson_with_broken_lines())
def test_broken_lines_are_their_own_errors(api: Api, case: tuple[bytes, set[int]]) -> None:
    body, bad = case
    r = api.client.post(
        "/api/v1/events", content=body, headers={**api.h("ingest"), "Content-Type": "application/x-ndjson"}
    )
    lines = body.count(b"\n") + 1
    assert r.status_code == (422 if len(bad) == lines else 200), r.text  # 422: nothing was taken
    out = r.json()
    errors = {e["line"] for e in out["errors"]}
    assert errors == bad  # exactly the spoiled lines, each its own error
    assert out["accepted"] + out["duplicates"] + out["rejected"] == lines  # re-sent lines are duplicates


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.binary(max_size=2_000),
    content_type=st.sampled_from(["application/x-ndjson", "application/json", "text/plain; charset=gbk", ""]),
    gzipped=st.booleans(),
)
def test_any_bytes_get_an_answer_below_500(api: Api, body: bytes, content_type: str, gzipped: bool) -> None:
    headers = {**api.h("ingest")}
    if content_type:
        headers["Content-Type"] = content_type
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    r = api.client.post("/api/v1/events", content=body, headers=headers)
    assert r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")

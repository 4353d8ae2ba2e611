"""Input safety (issue 13): regression tests for inputs that answered 500 or were accepted when
they should not have been, security headers on every answer, bounded request heads and
numeric parameters, and /metrics behind a token."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.realserver import Running, running
from tests.support.api import Api


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(tmp_path_factory.mktemp("safety") / "var") as srv:
        yield srv


def raw_get(port: int, target: str, extra: str = "") -> tuple[int, bytes]:
    """A GET with the request target sent byte for byte (no client-side re-encoding)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_invalid_utf8_in_an_entity_key_is_not_a_server_error(server: Running) -> None:
    auth = f"Authorization: Bearer {server.admin}\r\n"
    for target in (
        "/api/v1/entities/pulse/%FF",
        "/api/v1/entities/pulse/a%C3%28b",
        "/api/v1/entities/%FF%FE/k",
    ):
        status, body = raw_get(server.port, target, auth)
        assert status == 404, (target, status, body)
        assert json.loads(body)["error"] == "NotFoundError"


def test_audit_limit_out_of_range_is_refused(api: Api) -> None:
    for limit in ("-1", "0", "10001", "1e3", "NaN"):
        r = api.client.get(f"/api/v1/audit?limit={limit}", headers=api.h("admin"))
        assert r.status_code == 422, (limit, r.text)


@pytest.mark.parametrize("minutes", ["NaN", "Infinity", "-Infinity", "1e308", "0", "-5"])
def test_factory_replay_refuses_non_finite_or_huge_minutes(api: Api, minutes: str) -> None:
    body = '{"site": "demo", "line": "L1", "start": 0, "minutes": ' + minutes + "}"
    r = api.client.post(
        "/api/v1/scenes/factory/replay",
        content=body,
        headers={**api.h("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "minutes"]


def test_metrics_need_a_read_token(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=api.h("ingest")).status_code == 403
    r = api.client.get("/metrics", headers=api.h("read"))
    assert r.status_code == 200 and "citybrain_ingest_events_total" in r.text


def test_a_request_head_over_the_limit_answers_431(server: Running) -> None:
    status, body = raw_get(server.port, "/healthz", f"X-Big: {'a' * 100_000}\r\n")
    assert status == 431 and b"server.max_header_bytes" in body
    status, _ = raw_get(server.port, "/healthz", f"X-Fine: {'a' * 8_000}\r\n")
    assert status == 200
    status, _ = raw_get(server.port, "/healthz?" + "q" * 100_000)  # a long request line too
    assert status == 431
    r = httpx.get(f"{server.url}/healthz", headers={f"x-h{i}": "v" * 1_000 for i in range(100)})
    assert r.status_code == 431  # many headers add up


def test_security_headers_on_every_answer(api: Api) -> None:
    answers = (("/", None), ("/static/js/main.js", None), ("/api/v1/session", "read"),
               ("/api/v1/session", None), ("/nowhere", None), ("/docs", None),
               ("/healthz", None))  # fmt: skip
    for path, scope in answers:
        r = api.client.get(path, headers=api.h(scope) if scope else {})
        h = r.headers
        assert h["x-content-type-options"] == "nosniff", path
        assert h["referrer-policy"] == "no-referrer", path
        assert h["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
    page = api.client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in page and "unsafe-eval" not in page and "https:" not in page
    api_csp = api.client.get("/healthz").headers["content-security-policy"]
    assert api_csp.startswith("default-src 'none'")
    docs = api.client.get("/docs")
    assert "script-src 'self' 'sha256-" in docs.headers["content-security-policy"]


def test_invalid_utf8_in_ingest_is_a_per_line_error(api: Api) -> None:
    good = b'{"kind": "pulse.report", "key": "360102", "ts": %d, "category": "noise"}'
    import time

    now = time.time_ns() // 1_000_000
    body = b"\n".join(
        [good % now, b'{"kind": "pulse.report", "key": "d\xff", "ts": 1}', b"\xc3\x28", good % (now + 1)]
    )
    r = api.client.post(
        "/api/v1/events", content=body, headers={**api.h("ingest"), "Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 2 and out["rejected"] == 2
    by_line = {e["line"]: e["reason"] for e in out["errors"]}
    assert "not valid UTF-8" in by_line[2]
    assert set(by_line) == {2, 3}
    # a JSON array with one bad item: that item's problem, the rest accepted
    arr = b"[" + good % (now + 2) + b', {"kind": "pulse.report", "key": "\xfe", "ts": 1}]'
    r = api.client.post(
        "/api/v1/events", content=arr, headers={**api.h("ingest"), "Content-Type": "application/json"}
    )
    assert r.status_code in (200, 422), r.text
    assert r.status_code < 500


def test_nev_history_csv_of_a_non_ascii_vin_is_not_a_server_error(api: Api) -> None:
    r = api.client.get("/api/v1/scenes/nev/vehicles/车辆𡵴/history?format=csv", headers=api.h("read"))
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].isascii()


BOUNDED = {"limit", "offset", "days", "minutes", "max_points", "depth", "bucket_ms", "hours", "top", "n"}


def test_numeric_query_parameters_are_bounded(api: Api) -> None:
    spec: dict[str, Any] = api.client.get("/openapi.json").json()
    unbounded = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                schema = p.get("schema", {})
                alts = schema.get("anyOf", [schema])
                numeric = [s for s in alts if s.get("type") in ("integer", "number")]
                if p["in"] == "query" and p["name"] in BOUNDED and numeric:
                    s = numeric[0]
                    low = "minimum" in s or "exclusiveMinimum" in s
                    high = "maximum" in s or "exclusiveMaximum" in s
                    if not (low and high):
                        unbounded.append(f"{method.upper()} {path} {p['name']}")
    assert unbounded == [], unbounded


def test_a_one_valued_query_parameter_given_twice_is_refused(api: Api) -> None:
    # read as its last value, the first would never be checked (schemathesis found ?code=<too long>&code=ok)
    h = api.h("read")
    r = api.client.get("/api/v1/audit?limit=1&limit=-1", headers=api.h("admin"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    assert "more than once" in r.json()["detail"][0]["msg"]
    r = api.client.get("/api/v1/cases?state=registered&state=dispatched", headers=h)
    assert r.status_code == 200  # a list parameter repeats as it should
    r = api.client.get("/api/v1/auth/oidc/callback?code=a&code=" + "x" * 5000)
    assert r.status_code == 422

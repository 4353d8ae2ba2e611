"""Resource bounds of the HTTP API and the live feed, against a real server (uvicorn on a free port,
raw sockets where it matters that the body was never read):

- every route that takes a body checks the token before reading it (401/403 while the client has
  sent only headers claiming 100 MiB), and closes the connection on that answer;
- bodies are bounded (server.max_body_bytes, 1 MiB by default) by Content-Length and, chunked,
  while they arrive; ingest keeps its own, larger limit;
- the live feed bounds patterns per connection and connections in all, and closes a revoked
  token's connection (1008 "token revoked") at once or on its periodic re-check.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from citybrain.api.auth import PUBLIC
from citybrain.core.events import encode_ndjson
from citybrain.scenes.pulse.events import PulseReport
from tests.api.realserver import Running, running

WAIT_S = 20.0  # how long a client waits for an answer before calling the server stuck
HUGE = 100 * 1024 * 1024


Server = Running  # the app under uvicorn as `citybrain serve` runs it (tests/api/realserver.py)


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("bounds") / "var") as srv:
        yield srv


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        out: dict[str, object] = json.loads(self.body)
        return out


def raw(port: int, head: str, body: bytes = b"") -> Answer:
    """Send ``head`` (and ``body``), then read until the server closes the connection: an answer
    that depends on a body never sent arrives only if the server did not wait for that body."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":  # not expected: our answers have a length
        raise AssertionError(f"chunked answer: {data[:200]!r}")
    return Answer(int(lines[0].split()[1]), headers, rest)


def huge_head(method: str, path: str, token: str | None = None, length: int = HUGE) -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return "\n".join(lines) + "\n"


def body_operations(server: Server) -> list[tuple[str, str, str]]:
    """Every documented operation that takes a body (built-in and scenes' routes): method, path
    template, a concrete path (a format parameter as "json", any other parameter as "x")."""
    spec = httpx.get(f"{server.url}/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        for method in ops:
            if method in ("post", "put", "patch", "delete"):
                concrete = re.sub(r"\{[^}]+\}", "x", path.replace("{format}", "json"))
                out.append((method.upper(), path, concrete))
    return out


SIGNED = {"/api/v1/scenes/paylater/notify/{channel}"}  # routes declared sdk.public (test_permissions)


def test_every_body_route_answers_401_before_reading_the_body(server: Server) -> None:
    every = sorted(body_operations(server), key=lambda op: op[:2] != ("POST", "/api/v1/tokens"))  # it first
    public = [(method, path) for method, template, path in every if template in {*PUBLIC, *SIGNED}]
    # login, Open311's POST (its api_key is a form field, checked by the route itself), and a
    # payment provider's notice (sdk.public: its signature is checked by the route)
    assert sorted(public) == [("POST", "/api/v1/auth/login"), ("POST", "/api/v1/scenes/paylater/notify/x"),
                              ("POST", "/open311/v2/requests.json")]  # fmt: skip
    for method, path in public:  # no token to check: the body limit holds before a byte is read
        assert raw(server.port, huge_head(method, path)).status == 413
    ops = [(method, path) for method, template, path in every if template not in {*PUBLIC, *SIGNED}]
    assert ("POST", "/api/v1/tokens") in ops and ("PUT", "/api/v1/scenes/factory/plants/x") in ops
    assert ("POST", "/api/v1/events") in ops and ("POST", "/api/v1/scenes/traffic/probes") in ops
    for method, path in ops:
        a = raw(server.port, huge_head(method, path))  # 100 MiB announced, not a byte sent
        assert a.status == 401, (method, path, a.status, a.body)
        assert a.headers["connection"] == "close" and a.headers["www-authenticate"] == "Bearer"
        assert "no token" in str(a.json()["message"])


def test_a_weaker_token_gets_403_and_an_oversized_body_413_before_reading(server: Server) -> None:
    _, read = server.token("read")
    a = raw(server.port, huge_head("POST", "/api/v1/tokens", read))
    assert a.status == 403 and "lacks the 'admin' scope" in str(a.json()["message"])
    big = raw(server.port, huge_head("POST", "/api/v1/tokens", server.admin))
    assert big.status == 413 and big.headers["connection"] == "close"
    assert big.json()["message"] == (
        f"body of {HUGE} bytes exceeds server.max_body_bytes=1048576 (POST /api/v1/tokens)"
    )
    # ingest keeps its own limit (ingest.max_body_bytes, 64 MiB), and checks the token first
    assert raw(server.port, huge_head("POST", "/api/v1/events", length=1 << 40)).status == 401
    _, ingest = server.token("ingest")
    over = raw(server.port, huge_head("POST", "/api/v1/events", ingest, length=1 << 40))
    assert over.status == 413 and "ingest.max_body_bytes=67108864" in str(over.json()["message"])


def test_a_chunked_body_is_bounded_while_it_arrives(server: Server) -> None:
    head = "\n".join(
        ["POST /api/v1/tokens HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
         "Transfer-Encoding: chunked", f"Authorization: Bearer {server.admin}"]
    ) + "\n"  # fmt: skip
    piece = b"x" * 65_536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(17))  # 1 MiB + 64 KiB, no end
    a = raw(server.port, head, chunks)
    assert a.status == 413 and a.headers["connection"] == "close"
    assert a.json()["message"] == "body exceeds server.max_body_bytes=1048576 (POST /api/v1/tokens)"
    # a streamed ingest body is cut at ingest.max_body_bytes the same way, on every ingest route
    _, ingest = server.token("ingest")
    cfg = server.platform.settings.ingest
    before, cfg.max_body_bytes = cfg.max_body_bytes, 2 * len(piece) - 1  # passed by the last byte
    try:
        for path in ("/api/v1/events", "/api/v1/scenes/traffic/probes"):
            to = head.replace("POST /api/v1/tokens", f"POST {path}").replace(server.admin, ingest)
            a = raw(server.port, to, chunks[: 2 * (len(piece) + 9)])  # two chunks, no end
            assert a.status == 413 and a.headers["connection"] == "close"
            assert a.json()["message"] == f"body exceeds ingest.max_body_bytes=131071 (POST {path})"
    finally:
        cfg.max_body_bytes = before


def test_bodies_within_the_limits_still_work(server: Server) -> None:
    made = httpx.post(
        f"{server.url}/api/v1/tokens",
        content=iter([b'{"name": "' + b"x" * 100, b'", "scopes": ["read"]}']),  # chunked: no length
        headers={**auth(server.admin), "Content-Type": "application/json"},
    )
    assert made.status_code == 200 and made.json()["scopes"] == ["read"]
    _, ingest = server.token("ingest")
    t0 = 1_763_900_000_000
    body = encode_ndjson(
        PulseReport(key="360102", ts=t0 + i, category="hotline", id=f"b{i}", address="路" * 40)
        for i in range(12_000)
    )
    assert len(body) > 2 << 20  # over server.max_body_bytes, within ingest.max_body_bytes
    r = httpx.post(f"{server.url}/api/v1/events", content=body, headers=auth(ingest), timeout=WAIT_S)
    assert r.status_code == 200 and r.json()["accepted"] == 12_000


def ws_url(server: Server) -> str:
    return f"ws://127.0.0.1:{server.port}/api/v1/live"


def recv(ws: object) -> dict[str, object]:
    """The server's next answer to an op; feed messages (``{"topic", "data"}``) of the patterns
    already subscribed may arrive before it and are skipped."""
    while True:
        out: dict[str, object] = json.loads(ws.recv(timeout=WAIT_S))  # type: ignore[attr-defined]
        if "topic" not in out:
            return out


def closed(ws: object) -> tuple[int, str]:
    """Wait for the server to close; its (code, reason). Messages before that are skipped."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=WAIT_S)  # type: ignore[attr-defined]
    rcvd = info.value.rcvd
    assert rcvd is not None
    return rcvd.code, rcvd.reason


def test_live_feed_bounds_patterns_per_connection(server: Server) -> None:
    _, read = server.token("read")
    with connect(ws_url(server), additional_headers=auth(read)) as ws:
        assert recv(ws)["max_patterns"] == 64
        ws.send(json.dumps({"op": "subscribe", "topics": ["alert.*", "state.pulse"]}))
        assert recv(ws)["topics"] == ["alert.*", "state.pulse"]
        ws.send(json.dumps({"op": "subscribe", "topics": [f"metric.p{i}" for i in range(2_000)]}))
        refused = recv(ws)
        assert refused["error"] == "limit" and "limit of 64 per connection" in str(refused["message"])
        ws.send(json.dumps({"op": "subscribe", "topics": [f"metric.p{i}" for i in range(63)]}))
        assert "limit of 64" in str(recv(ws)["message"])  # 2 + 63 > 64: refused whole
        ws.send(json.dumps({"op": "subscribe", "topics": [f"metric.p{i}" for i in range(62)]}))
        assert len(recv(ws)["topics"]) == 64  # type: ignore[arg-type]
        ws.send(json.dumps({"op": "subscribe", "topics": ["x" * 201]}))
        assert "longer than 200" in str(recv(ws)["message"])
        ws.send("not json")
        assert recv(ws)["error"] == "op"
        ws.send(json.dumps({"op": "unsubscribe", "topics": ["alert.*"]}))
        assert len(recv(ws)["topics"]) == 63  # type: ignore[arg-type]


def test_revoking_a_token_closes_its_live_feed(server: Server) -> None:
    token_id, read = server.token("read")
    _, other = server.token("read")
    with connect(ws_url(server), additional_headers=auth(read)) as ws, connect(ws_url(server)) as keep:
        assert recv(ws)["op"] == "ready"
        keep.send(json.dumps({"op": "auth", "token": other}))
        assert recv(keep)["op"] == "ready"
        r = httpx.delete(f"{server.url}/api/v1/tokens/{token_id}", headers=auth(server.admin))
        assert r.status_code == 200
        assert closed(ws) == (1008, "token revoked")
        keep.send(json.dumps({"op": "subscribe", "topics": ["alert.*"]}))
        assert recv(keep)["topics"] == ["alert.*"]  # another token's feed goes on


def test_a_token_revoked_elsewhere_closes_its_live_feed_on_recheck(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.platform.settings.server, "live_recheck_s", 0.2)
    token_id, read = server.token("read")
    with connect(ws_url(server), additional_headers=auth(read)) as ws:
        assert recv(ws)["op"] == "ready"
        # as another API process or the CLI would: in the store only, no word to this server's hub
        server.platform.store.revoke_token(token_id, time.time_ns() // 1_000_000)
        server.app.state.token_cache.clear()  # as its 5 s expiry would: only makes the test quicker
        assert closed(ws) == (1008, "token revoked")


def test_live_clients_are_bounded(server: Server) -> None:
    _, read = server.token("read")
    hub = server.platform.hub
    before = hub.max_subscribers
    hub.max_subscribers = hub.subscribers() + 1
    try:
        with connect(ws_url(server), additional_headers=auth(read)) as first:
            assert recv(first)["op"] == "ready"
            with connect(ws_url(server), additional_headers=auth(read)) as second:
                busy = recv(second)
                assert busy["error"] == "busy" and "server.live_max_clients" in str(busy["message"])
                assert closed(second) == (1013, "too many live clients")
    finally:
        hub.max_subscribers = before

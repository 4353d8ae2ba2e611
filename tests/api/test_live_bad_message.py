"""A live-feed client that sends something other than a JSON object gets an error frame and keeps
its connection, before and after authenticating, and the server logs no traceback (issue 18: a
non-JSON message dropped the connection and wrote a 40-line traceback)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.api.realserver import Running, running

BAD: list[str | bytes] = [
    "not json",
    b"\xff\x00\x01",  # a binary frame, not UTF-8
    "",
    "[1, 2]",  # JSON, not an object
    "null",
    "[" * 50_000,  # nested deeper than the parser goes (under the 64 KiB frame limit)
    '{"op": "subscribe", "topics": ',
]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(tmp_path_factory.mktemp("live") / "var") as srv:
        yield srv


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    """What the server logs (uvicorn's loggers do not pass records on to the root logger)."""
    handler = Records()
    loggers = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.error", "citybrain")]
    for lg in loggers:
        lg.addHandler(handler)
    yield handler.records
    for lg in loggers:
        lg.removeHandler(handler)


def recv(ws: object) -> dict[str, object]:
    out: dict[str, object] = json.loads(ws.recv(timeout=10))  # type: ignore[attr-defined]
    return out


def url(server: Running) -> str:
    return f"ws://127.0.0.1:{server.port}/api/v1/live"


def no_traceback(records: list[logging.LogRecord]) -> None:
    bad = [r.getMessage() for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, bad


def test_bad_messages_after_sign_in_get_an_error_frame(
    server: Running, logged: list[logging.LogRecord]
) -> None:
    _, read = server.token("read")
    with connect(url(server), additional_headers={"Authorization": f"Bearer {read}"}) as ws:
        assert recv(ws)["op"] == "ready"
        for message in BAD:
            ws.send(message)
            answer = recv(ws)
            assert answer["error"] == "op", (message[:20], answer)
            assert str(answer["message"]).startswith("messages are JSON objects"), answer
        ws.send(json.dumps({"op": "subscribe", "topics": ["alert.*"]}))
        assert recv(ws) == {"op": "subscribed", "topics": ["alert.*"]}  # the same connection
    no_traceback(logged)


def test_bad_messages_before_sign_in_get_an_error_frame(
    server: Running, logged: list[logging.LogRecord]
) -> None:
    _, read = server.token("read")
    with connect(url(server)) as ws:
        for message in BAD:
            ws.send(message)
            answer = recv(ws)
            assert answer["error"] == "op", (message[:20], answer)
        ws.send(json.dumps({"op": "auth", "token": read}))
        assert recv(ws)["op"] == "ready"
    no_traceback(logged)


def test_a_message_over_the_size_limit_closes_without_a_traceback(
    server: Running, logged: list[logging.LogRecord]
) -> None:
    for headers in ({}, {"Authorization": f"Bearer {server.token('read')[1]}"}):
        with connect(url(server), additional_headers=headers, max_size=None) as ws:
            if headers:
                assert recv(ws)["op"] == "ready"
            ws.send("x" * 100_000)  # server.ws_max_bytes is 64 KiB: the server closes with 1009
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    no_traceback(logged)


def test_an_object_that_is_not_auth_still_ends_an_unauthenticated_connection(server: Running) -> None:
    with connect(url(server)) as ws:
        ws.send(json.dumps({"op": "subscribe", "topics": ["alert.*"]}))
        assert recv(ws)["error"] == "auth"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

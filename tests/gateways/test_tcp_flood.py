"""Issue 10: one client's garbage must not flood the log, hold a connection open for ever, grow
memory or starve the other connections of the generic TCP server (real loopback sockets).

The session is a toy line protocol: ``ping`` is a good frame answered ``pong``, ``save`` also needs
a flush before its reply, and every other non-empty line is a bad frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import re
import time
from typing import TypedDict, Unpack

import pytest

from citybrain.gateways.tcp import Connection, TcpServer

LOGGER = "citybrain.gateways.tcp"


class PingSession:
    def __init__(self, conn: Connection, flush_delay: float) -> None:
        self.conn, self.flush_delay = conn, flush_delay
        self.buf = bytearray()
        self.unsaved = 0
        self.chunks: list[int] = []  # the size of every feed

    @property
    def needs_flush(self) -> bool:
        return self.unsaved > 0

    def feed(self, data: bytes) -> list[bytes]:
        self.chunks.append(len(data))
        self.buf += data
        *lines, rest = self.buf.split(b"\n")
        self.buf = bytearray(rest)
        out = []
        for line in map(bytes, lines):
            if line in (b"ping", b"save"):
                self.conn.frame_ok()
                self.unsaved += line == b"save"
                out.append(b"pong\n")
            elif line:
                self.conn.bad_frame(line, "not a ping")
        return out

    async def flush(self) -> None:
        await asyncio.sleep(self.flush_delay)
        self.unsaved = 0

    async def closed(self, reason: str) -> None:
        pass


class ServerLimits(TypedDict, total=False):
    """The TcpServer limits a test overrides."""

    read_size: int
    max_garbage_bytes: int


def _suppressed_count(summary: str) -> int:
    found = re.search(r"suppressed (\d+) bad frames", summary)
    assert found is not None, summary
    return int(found[1])


async def serve(
    flush_delay: float = 0.0, **limits: Unpack[ServerLimits]
) -> tuple[TcpServer, list[PingSession]]:
    sessions: list[PingSession] = []

    def factory(conn: Connection) -> PingSession:
        sessions.append(PingSession(conn, flush_delay))
        return sessions[-1]

    srv = TcpServer(factory, name="flood", port=0, **limits)
    await srv.start()
    return srv, sessions


async def close(w: asyncio.StreamWriter) -> None:
    w.close()
    with contextlib.suppress(OSError):
        await w.wait_closed()


async def pings(port: int, n: int) -> int:
    """A good client: ``n`` pings one after the other; returns the pongs it got."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    got = 0
    for _ in range(n):
        w.write(b"ping\n")
        got += await asyncio.wait_for(r.readline(), 15) == b"pong\n"
        await asyncio.sleep(0.01)
    await close(w)
    return got


async def send(port: int, data: bytes, step: int = 65536) -> None:
    _, w = await asyncio.open_connection("127.0.0.1", port)
    with contextlib.suppress(ConnectionError):
        for i in range(0, len(data), step):
            w.write(data[i : i + step])
            await w.drain()
    await close(w)


async def until(cond: object, timeout: float = 15) -> None:
    assert callable(cond)
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_random_bytes_give_a_bounded_log_and_a_good_client_keeps_its_replies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flood = random.Random(10).randbytes(4 << 20)
    bad_lines = [ln for ln in flood[: flood.rindex(b"\n")].split(b"\n") if ln]

    async def main() -> None:
        srv, _ = await serve()
        srv.max_garbage_bytes = 0  # this test is about the log: keep the flooding connection open
        started = time.monotonic()
        _, pongs = await asyncio.gather(send(srv.port, flood), pings(srv.port, 30))
        await until(lambda: srv.stats.bad_frames == len(bad_lines))
        elapsed = time.monotonic() - started
        await srv.stop()  # writes the last summary line
        assert pongs == 30
        hex_lines = [r for r in caplog.records if "bad frame from" in r.getMessage()]
        summaries = [r.getMessage() for r in caplog.records if "suppressed" in r.getMessage()]
        # at most 10 hex lines per second (the default), whatever the flood; the rest are summed up
        assert len(hex_lines) <= 10 * (math.ceil(elapsed) + 1), f"{len(hex_lines)} lines in {elapsed:.1f}s"
        assert srv.stats.bad_bytes == sum(map(len, bad_lines))
        hidden = sum(_suppressed_count(m) for m in summaries)
        assert len(hex_lines) + hidden == srv.stats.bad_frames == len(bad_lines)
        assert srv.stats.bad_frames_not_logged == hidden

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        asyncio.run(asyncio.wait_for(main(), 60))


def test_a_connection_sending_only_garbage_is_closed_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cap = 256 << 10

    async def main() -> None:
        srv, _ = await serve(max_garbage_bytes=cap)
        # a device with some noise between good frames stays
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        for _ in range(5):
            w.write(b"junk\n" * (100_000 // 5) + b"ping\n")
            assert await asyncio.wait_for(r.readline(), 10) == b"pong\n"
        # a client that never sends a good frame is closed once past the cap
        r2, w2 = await asyncio.open_connection("127.0.0.1", srv.port)
        with contextlib.suppress(ConnectionError):
            for _ in range(64):
                w2.write(b"junk\n" * 13_000)  # 64 KB
                await w2.drain()
        with contextlib.suppress(ConnectionResetError):  # closed by the server, unread bytes or not
            assert await asyncio.wait_for(r2.read(), 10) == b""
        await until(lambda: srv.stats.connections_open == 1)
        assert srv.stats.closed_garbage == 1
        assert not w.is_closing()
        w.write(b"ping\n")
        assert await asyncio.wait_for(r.readline(), 10) == b"pong\n"
        await close(w)
        await close(w2)
        await srv.stop()
        closes = [r for r in caplog.records if "without a good frame" in r.getMessage()]
        assert len(closes) == 1 and f"max_garbage_bytes {cap}" in closes[0].getMessage()

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        asyncio.run(asyncio.wait_for(main(), 60))


def test_bytes_arriving_during_a_flush_are_bounded_and_fed_one_read_at_a_time() -> None:
    read_size = 4096

    async def main() -> None:
        srv, sessions = await serve(flush_delay=0.2, read_size=read_size)
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        most_pending = 0

        async def watch() -> None:
            nonlocal most_pending
            while True:
                most_pending = max([most_pending] + [len(h.pending) for h in srv.handlers])
                await asyncio.sleep(0.001)

        watcher = asyncio.get_running_loop().create_task(watch())
        lines = 40_000
        w.write(b"save\n" + b"ping\n" * lines + b"save\n")
        for _ in range(lines + 2):
            assert await asyncio.wait_for(r.readline(), 20) == b"pong\n"
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        assert max(sessions[0].chunks) <= read_size  # the work of one callback stays one read
        assert most_pending <= srv.max_pending_bytes == 4 * read_size
        assert srv.stats.closed_overflow == 0
        await close(w)
        await srv.stop()

    asyncio.run(asyncio.wait_for(main(), 60))

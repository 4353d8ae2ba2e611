"""A generic asyncio TCP server for byte-stream device protocols (GB/T 32960, JT/T 808, ...).

The server knows nothing about any protocol. Each accepted connection gets a :class:`Session`
from the factory; the server calls ``session.feed(chunk)`` with every chunk read and writes the
replies it returns. Before writing, when the session says ``needs_flush``, the server awaits
``session.flush()``: that is where a gateway makes its events durable (``platform.batcher.submit``),
so a reply that means "acknowledged" is only sent once the data cannot be lost. Reading from that
connection pauses meanwhile, which is also the backpressure a slow store puts on a chatty device.

A bad frame is the session's business: it calls :meth:`Connection.bad_frame`, which logs the hex,
counts it and moves on; the connection stays open. The hex lines are rate-limited per server (one
client's garbage once wrote 40 MB of log in 6 s): beyond ``bad_frame_logs_per_s`` they are only
counted, and one summary line says how many were not shown. A connection that sends more than
``max_garbage_bytes`` without a single good frame in between is closed (it is not a device).
A session that raises is logged and counted and the connection stays open too; only a failed
``flush`` closes it (nothing was acknowledged, so the device reconnects and resends what it
buffered). Connections are plain ``asyncio.Protocol`` objects (no task per idle connection), and
one sweeper closes idle ones, so tens of thousands of quiet vehicles cost little.

One event loop also serves the HTTP API, so the work per callback is bounded: a read is at most
``read_size`` bytes, bytes that arrive while a flush runs (reading is paused, so at most what was
already in flight) are capped at ``max_pending_bytes`` and fed back one read's worth per callback.

With ``tls`` (a :class:`citybrain.gateways.tls.ReloadingTls`) the server speaks TLS: sessions see
the decrypted stream, a connection is handed to the factory only after its handshake, and a client
that does not speak TLS (or has no valid client certificate when one is required) is dropped by the
handshake without reaching a session. The certificate is reloaded while the server runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from citybrain.gateways.tls import ReloadingTls

log = logging.getLogger(__name__)

HEX_LOG_LIMIT = 2048  # bytes of a bad frame shown in the log; the count says how many were cut
BAD_FRAME_LOG_WINDOW = 1.0  # seconds over which ``bad_frame_logs_per_s`` hex lines may be written
HANDSHAKE_TIMEOUT = 10.0  # seconds a TLS client has to finish its handshake


class Session(Protocol):
    """One connection's protocol state. ``feed`` is synchronous and cheap; the hooks are async."""

    @property
    def needs_flush(self) -> bool:
        """True when ``flush`` must run before the replies of the last ``feed`` are written."""
        ...

    def feed(self, data: bytes) -> Sequence[bytes]:
        """Take a chunk of the stream; return the replies to write (possibly none)."""
        ...

    async def flush(self) -> None:
        """Make what ``feed`` produced durable; raising closes the connection unanswered."""
        ...

    async def closed(self, reason: str) -> None:
        """The connection ended (peer closed, idle, server stop, error, or ``Connection.close``)."""
        ...


@dataclass
class TcpStats:
    """Counters of one server, cumulative since it started (read them for /metrics)."""

    connections_open: int = 0
    connections_total: int = 0
    connections_refused: int = 0  # beyond max_connections
    closed_idle: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    frames: int = 0  # good frames, counted by the session via Connection.frame_ok
    bad_frames: int = 0
    bad_bytes: int = 0  # bytes of those bad frames (garbage between frames included)
    bad_frames_not_logged: int = 0  # beyond the log rate limit: counted, summed up, hex not shown
    closed_garbage: int = 0  # sent more than max_garbage_bytes without a good frame
    closed_overflow: int = 0  # more than max_pending_bytes arrived while reading was paused
    session_errors: int = 0  # feed() raised: a bug, logged with the traceback
    flush_errors: int = 0  # flush() raised: the connection was closed, nothing acknowledged

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Connection:
    """What a session sees of its connection: peer, counters, bad-frame logging, writes, close."""

    def __init__(self, server: TcpServer, transport: asyncio.Transport) -> None:
        self.server = server
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.opened = time.monotonic()
        self.last_rx = self.opened
        self.close_reason = ""
        self.good_frames = 0
        self.unframed_bytes = 0  # bytes fed since the last good frame
        # the verified client certificate (ssl.SSLSocket.getpeercert form) on a TLS server asking for one
        self.peer_cert: dict[str, Any] | None = transport.get_extra_info("peercert")

    def frame_ok(self, n: int = 1) -> None:
        self.server.stats.frames += n
        self.good_frames += n

    def bad_frame(self, data: bytes, reason: str) -> None:
        """Count a dropped frame and log its hex (rate-limited per server); the connection carries on."""
        stats = self.server.stats
        stats.bad_frames += 1
        stats.bad_bytes += len(data)
        if not self.server.bad_frame_log.admit():
            stats.bad_frames_not_logged += 1
            return
        cut = len(data) - HEX_LOG_LIMIT
        more = f" (+{cut} bytes not shown)" if cut > 0 else ""
        log.warning(
            "%s: bad frame from %s dropped (%s, %d bytes): %s%s",
            self.server.name, self.peer, reason, len(data), data[:HEX_LOG_LIMIT].hex(), more,
        )  # fmt: skip

    def write(self, data: bytes) -> None:
        """Send bytes now (replies are written by the server; this is for device-bound commands)."""
        if not self.transport.is_closing():
            self.transport.write(data)
            self.server.stats.bytes_out += len(data)

    def close(self, reason: str) -> None:
        """Close after the pending writes (e.g. the same VIN connected again elsewhere)."""
        if not self.close_reason:
            self.close_reason = reason
        self.transport.close()

    @property
    def is_closing(self) -> bool:
        return self.transport.is_closing()


SessionFactory = Callable[[Connection], Session]


class _BadFrameLog:
    """At most ``per_window`` hex lines per window for one server; the rest are counted, and one
    line at the end of the window says how many were not shown."""

    def __init__(self, server: TcpServer, per_window: int) -> None:
        self.server, self.per_window = server, per_window
        self.window_start = -BAD_FRAME_LOG_WINDOW
        self.logged = self.hidden = 0
        self.summary: asyncio.TimerHandle | None = None

    def admit(self) -> bool:
        now = time.monotonic()
        if now - self.window_start >= BAD_FRAME_LOG_WINDOW:
            self.flush()
            self.window_start, self.logged = now, 0
        if self.logged < self.per_window:
            self.logged += 1
            return True
        self.hidden += 1
        if self.summary is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the next admit sums up
                delay = self.window_start + BAD_FRAME_LOG_WINDOW - now
                self.summary = asyncio.get_running_loop().call_later(delay, self.flush)
        return False

    def flush(self) -> None:
        if self.summary is not None:
            self.summary.cancel()
            self.summary = None
        if self.hidden:
            srv = self.server
            log.warning("%s: suppressed %d bad frames in the last %gs (%d bad frames, %d bad bytes in all)",
                        srv.name, self.hidden, BAD_FRAME_LOG_WINDOW, srv.stats.bad_frames,
                        srv.stats.bad_bytes)  # fmt: skip
            self.hidden = 0


class _Handler(asyncio.BufferedProtocol):
    """A buffered protocol reading into the server's one shared buffer: the loop runs callbacks
    one at a time and the bytes are copied out before the next read, so 20,000 connections do
    not hold 20,000 read buffers, and ``read_size`` really bounds a read."""

    def __init__(self, server: TcpServer) -> None:
        self.server = server
        self.conn: Connection | None = None
        self.session: Session | None = None
        self.pending: bytearray = bytearray()  # bytes read while reading was paused, not yet fed
        self.flushing: asyncio.Task[None] | None = None

    # -- asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport, though not always an asyncio.Transport instance (uvloop's is its own)
        transport = cast(asyncio.Transport, transport)
        srv = self.server
        if len(srv.handlers) >= srv.max_connections or srv.stopping:
            srv.stats.connections_refused += 1
            transport.abort()
            return
        self.conn = Connection(srv, transport)
        try:
            self.session = srv.factory(self.conn)
        except Exception:
            srv.stats.session_errors += 1
            log.exception("%s: session factory failed for %s", srv.name, self.conn.peer)
            transport.abort()
            return
        srv.handlers.add(self)
        srv.stats.connections_open = len(srv.handlers)
        srv.stats.connections_total += 1

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self.server.read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn is None or self.session is None or conn.is_closing:  # closing: what follows is moot
            return
        conn.last_rx = time.monotonic()
        srv = self.server
        srv.stats.bytes_in += len(data)
        if self.flushing is not None or self.pending:  # keep order: wait for the flush, then the rest
            self.pending += data
            if len(self.pending) > srv.max_pending_bytes:  # reading is paused: a transport that
                srv.stats.closed_overflow += 1  # ignores that must not grow memory either
                self.pending = bytearray()
                log.warning("%s: closing %s: more than %d bytes arrived while reading was paused",
                            srv.name, conn.peer, srv.max_pending_bytes)  # fmt: skip
                conn.close(f"more than {srv.max_pending_bytes} bytes while paused")
            return
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        srv = self.server
        if self.conn is None or self not in srv.handlers:
            return
        srv.handlers.discard(self)
        srv.stats.connections_open = len(srv.handlers)
        reason = self.conn.close_reason or ("peer closed" if exc is None else f"error: {exc}")
        if self.session is not None:
            task = asyncio.get_running_loop().create_task(self._closed(self.session, reason))
            srv.closing_tasks.add(task)
            task.add_done_callback(srv.closing_tasks.discard)

    # -- feeding -------------------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        conn, srv = self.conn, self.server
        assert conn is not None and self.session is not None
        good_before = conn.good_frames
        try:
            replies = self.session.feed(data)
        except Exception:
            srv.stats.session_errors += 1
            log.exception("%s: session for %s failed on %d bytes: %s", srv.name, conn.peer,
                          len(data), data[:HEX_LOG_LIMIT].hex())  # fmt: skip
            replies = ()
        conn.unframed_bytes = conn.unframed_bytes + len(data) if conn.good_frames == good_before else 0
        if 0 < srv.max_garbage_bytes < conn.unframed_bytes and not conn.is_closing:
            srv.stats.closed_garbage += 1
            cap = srv.max_garbage_bytes
            reason = f"{conn.unframed_bytes} bytes without a good frame (max_garbage_bytes {cap})"
            log.warning("%s: closing %s: %s", srv.name, conn.peer, reason)
            conn.close(reason)
            return
        if self.session.needs_flush:
            conn.transport.pause_reading()
            self.flushing = asyncio.get_running_loop().create_task(self._flush_then_reply(replies))
        else:
            self._reply(replies)

    async def _flush_then_reply(self, replies: Sequence[bytes]) -> None:
        assert self.conn is not None and self.session is not None
        try:
            await self.session.flush()
        except Exception as err:
            self.server.stats.flush_errors += 1
            log.error("%s: could not make data from %s durable (%s); closing unanswered",
                      self.server.name, self.conn.peer, err)  # fmt: skip
            self.flushing = None
            self.conn.close(f"flush failed: {err}")
            return
        self.flushing = None
        self._reply(replies)
        self._drain()

    def _drain(self) -> None:
        """Feed what arrived during the flush, one read's worth per loop callback, then read on."""
        conn = self.conn
        if conn is None or conn.is_closing or self.flushing is not None:
            return
        if self.pending:
            step = self.server.read_size
            data = bytes(self.pending[:step])
            del self.pending[:step]
            self._feed(data)
            if conn.is_closing or self.flushing is not None:
                return
        if self.pending:
            asyncio.get_running_loop().call_soon(self._drain)
        else:
            conn.transport.resume_reading()

    def _reply(self, replies: Sequence[bytes]) -> None:
        assert self.conn is not None
        for r in replies:
            self.conn.write(r)

    async def _closed(self, session: Session, reason: str) -> None:
        try:
            await session.closed(reason)
        except Exception:
            self.server.stats.session_errors += 1
            log.exception("%s: session close hook failed", self.server.name)


class TcpServer:
    """``await start()`` binds (port 0 picks a free one: read ``port``); ``await stop()`` closes.

    ``idle_timeout`` closes connections that sent nothing for that many seconds (0 = never);
    ``max_connections`` refuses (and counts) connections beyond it; ``read_size`` bounds a read.
    ``max_garbage_bytes`` closes a connection that sent that many bytes without a good frame
    (0 = never); ``bad_frame_logs_per_s`` bounds the hex lines logged per second for the server;
    ``max_pending_bytes`` (default: four reads) bounds what a connection may hold while paused.
    ``tls`` serves TLS with that (reloading) certificate instead of plain TCP.
    """

    def __init__(
        self,
        factory: SessionFactory,
        *,
        name: str = "tcp",
        host: str = "127.0.0.1",
        port: int = 0,
        max_connections: int = 50_000,
        idle_timeout: float = 180.0,
        read_size: int = 65_536,
        backlog: int = 4_096,
        max_garbage_bytes: int = 1 << 20,
        bad_frame_logs_per_s: int = 10,
        max_pending_bytes: int = 0,
        tls: ReloadingTls | None = None,
    ) -> None:
        self.factory = factory
        self.name, self.host, self.port = name, host, port
        self.max_connections, self.idle_timeout = max_connections, idle_timeout
        self.read_size, self.backlog = read_size, backlog
        self.max_garbage_bytes = max_garbage_bytes
        self.max_pending_bytes = max_pending_bytes or 4 * read_size
        self.tls = tls
        self.stats = TcpStats()
        self.bad_frame_log = _BadFrameLog(self, bad_frame_logs_per_s)
        self.read_buffer = memoryview(bytearray(read_size))
        self.handlers: set[_Handler] = set()
        self.closing_tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def connections(self) -> list[Connection]:
        return [h.conn for h in self.handlers if h.conn is not None]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.stopping = False
        self._server = await loop.create_server(
            lambda: _Handler(self), self.host, self.port, backlog=self.backlog, reuse_address=True,
            ssl=None if self.tls is None else self.tls.context,
            ssl_handshake_timeout=None if self.tls is None else HANDSHAKE_TIMEOUT,
        )  # fmt: skip
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        if self.tls is not None:
            self.tls.start()
        if self.idle_timeout > 0:
            self._sweeper = loop.create_task(self._sweep(), name=f"{self.name}-idle-sweeper")
        log.info("%s listening on %s:%d%s", self.name, self.host, self.port, " (TLS)" if self.tls else "")

    async def _sweep(self) -> None:
        every = min(5.0, max(0.05, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(every)
            cutoff = time.monotonic() - self.idle_timeout
            for h in list(self.handlers):
                if h.conn is not None and h.conn.last_rx < cutoff and h.flushing is None:
                    self.stats.closed_idle += 1
                    h.conn.close(f"idle for more than {self.idle_timeout:g}s")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let running flushes finish (up to ``grace`` s), close every connection."""
        self.stopping = True
        if self.tls is not None:
            await self.tls.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._server is not None:
            self._server.close()
        flushing = [h.flushing for h in self.handlers if h.flushing is not None]
        if flushing:
            await asyncio.wait(flushing, timeout=grace)
        for h in list(self.handlers):
            if h.conn is not None:
                h.conn.close("server stopping")
        # connection_lost runs on the next loop iterations; then the close hooks
        for _ in range(100):
            if not self.handlers:
                break
            await asyncio.sleep(0.01)
        for h in list(self.handlers):  # transports that did not close in time
            if h.conn is not None:
                h.conn.transport.abort()
        await asyncio.sleep(0)
        if self.closing_tasks:
            await asyncio.wait(list(self.closing_tasks), timeout=grace)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.bad_frame_log.flush()
        log.info("%s stopped", self.name)

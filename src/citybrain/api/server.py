"""How the HTTP server runs the app: uvicorn's options from the settings, with a bounded request
head; its socket bound before anything starts, and a startup that fails in one line.

uvicorn's default parser (httptools) takes a request line and headers of any size, so a client
can make the server buffer megabytes before the app sees a request. ``BoundedHttpTools`` counts
the bytes of each request head as they arrive and answers ``431 Request Header Fields Too Large``
(and closes the connection) once they pass ``server.max_header_bytes``; with the h11 parser the
same limit is its ``h11_max_incomplete_event_size``.

A port that cannot be bound stops ``citybrain serve``/``run`` with one line naming the address and
the setting, and exit status 2: the HTTP port before the store opens (``listen_socket``), a scene's
gateway port when the app starts (the lifespan names it in ``app.state.startup_failure``;
``QuietStartupFailure`` keeps uvicorn from logging the traceback beside it).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from citybrain.core.config import ServerSettings
from citybrain.core.errors import ConfigError

TOO_LARGE = "request head over {limit} bytes (server.max_header_bytes)"


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request whose head is over the limit."""


class BoundedHttpTools(HttpToolsProtocol):
    """httptools with a limit on each request head: the request target and the headers as parsed
    (exact), and the raw bytes of a head still arriving (so a head that never ends cannot grow
    past twice the limit in memory)."""

    max_head = 32_768

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes belong to a request head
        self._raw = 0  # bytes received while in the head
        self._head = 0  # bytes of the target and headers parsed so far
        self._heads = 0  # request heads completed on this connection
        self._too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head = True, 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._raw = False, 0
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._raw = True, 0
        self._heads += 1  # a chunk that ends a body may begin the next head: not counted either

    def _count(self, n: int) -> None:
        self._head += n
        if self._head > self.max_head:
            self._too_large = True
            raise HeadTooLarge  # httptools stops; uvicorn answers it through send_400_response

    def data_received(self, data: bytes) -> None:
        # only a chunk in which no head ended is all head bytes (one that ends a head may carry a
        # body and even whole requests: the parser's own counts cover those)
        heads = self._heads
        super().data_received(data)
        if self._heads == heads and self._in_head and not self.transport.is_closing():
            self._raw += len(data)
            if self._raw > 2 * self.max_head:
                self._too_large = True
                self.send_400_response("")

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        text = TOO_LARGE.format(limit=self.max_head).encode()
        self.logger.warning("refused a request: %s", text.decode())
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text
        )
        self.transport.close()


def bounded_protocol(max_head: int) -> type[asyncio.Protocol]:
    return type("BoundedHttpTools", (BoundedHttpTools,), {"max_head": max_head})


def http_limits(server: ServerSettings) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments bounding what a client sends: request heads
    (``max_header_bytes``, either parser) and live-feed messages (``ws_max_bytes``)."""
    return {
        "http": bounded_protocol(server.max_header_bytes),
        "h11_max_incomplete_event_size": server.max_header_bytes,
        "ws_max_size": server.ws_max_bytes,  # one live-feed message is parsed whole
    }


class CannotListen(ConfigError):
    """A scene's server cannot bind its address; the message names the scene, server and address."""


def cannot_listen(scene: str, server: Any, err: OSError) -> str:
    named = getattr(server, "name", None)
    name = named if isinstance(named, str) else type(server).__name__
    host, port = getattr(server, "host", None), getattr(server, "port", None)
    where = f" on {host}:{port}" if isinstance(host, str) and isinstance(port, int) else ""
    # the address named here: the reason alone; else the error's own words (which name it)
    why = os.strerror(err.errno) if where and err.errno else err.strerror or str(err)
    hint = "change its port in the scene settings, or stop what holds it"
    return f"scene {scene}: {name} cannot listen{where}: {why} ({hint})"


def check(scene: str, server: Any) -> None:
    """CannotListen when a server's declared ``host`` and ``port`` cannot be bound now (servers
    that declare none, or port 0, are checked when they start)."""
    host, port = getattr(server, "host", None), getattr(server, "port", None)
    if not (isinstance(host, str) and isinstance(port, int) and port > 0):
        return
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers bind
        probe.bind((host, port))
    except OSError as err:
        raise CannotListen(cannot_listen(scene, server, err)) from None
    finally:
        probe.close()


def listen_socket(server: ServerSettings) -> socket.socket:
    """The API's listening socket, bound now (uvicorn listens on it), or a ConfigError saying which
    address and setting when it cannot be bound."""
    host = server.host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((host, server.port))
    except OSError as err:
        sock.close()
        raise ConfigError(
            f"the API cannot listen on {host}:{server.port}: {err.strerror or err} (is citybrain already "
            "running? change server.port, CITYBRAIN_SERVER__PORT, or stop what holds it)"
        ) from None
    sock.set_inheritable(True)
    return sock


class QuietStartupFailure:
    """Pure ASGI wrapper: when the app's startup failed for a reason it stated in
    ``app.state.startup_failure``, uvicorn gets that line instead of the traceback to log."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner: ASGIApp = self.app
        if scope["type"] != "lifespan":
            await inner(scope, receive, send)
            return

        async def quiet(msg: Message) -> None:
            stated = getattr(self.app.state, "startup_failure", None)
            if msg["type"] == "lifespan.startup.failed" and stated:
                msg = {**msg, "message": ""}  # logged once already, by the lifespan
            await send(msg)

        await inner(scope, receive, quiet)

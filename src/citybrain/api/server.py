"""How the HTTP server runs the app: uvicorn's options from the settings, with a bounded request
head.

uvicorn's default parser (httptools) takes a request line and headers of any size, so a client
can make the server buffer megabytes before the app sees a request. ``BoundedHttpTools`` counts
the bytes of each request head as they arrive and answers ``431 Request Header Fields Too Large``
(and closes the connection) once they pass ``server.max_header_bytes``; with the h11 parser the
same limit is its ``h11_max_incomplete_event_size``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from citybrain.core.config import ServerSettings

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

"""TLS on the generic TCP server and on the API server, over real loopback sockets with test
certificates: the handshake, certificate reload (timer and SIGHUP) seen by new connections only, a
broken certificate pair never swapped in, client-certificate verification, plain-TCP clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from citybrain.cli import api_server
from citybrain.core.config import ServerSettings
from citybrain.core.errors import ConfigError
from citybrain.gateways.tcp import Connection, TcpServer
from citybrain.gateways.tls import ReloadingTls, TlsSettings
from tests.gateways.tls_testkit import TlsFiles, der, peer_der


class Echo:
    """Answers each line in upper case; remembers the client certificate its connection saw."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.buf = conn, b""

    needs_flush = False

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.conn.frame_ok()
            out.append(line.upper() + b"\n")
        return out

    async def flush(self) -> None:
        return None

    async def closed(self, reason: str) -> None:
        return None


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 20))


async def tls_server(tls: ReloadingTls) -> TcpServer:
    srv = TcpServer(Echo, name="tls-test", port=0, tls=tls)
    await srv.start()
    return srv


async def dial(
    srv: TcpServer, ctx: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Connect over TLS, check one echo, return the streams and the server certificate seen."""
    r, w = await asyncio.open_connection("127.0.0.1", srv.port, ssl=ctx, server_hostname="localhost")
    w.write(b"ping\n")
    assert await asyncio.wait_for(r.readline(), 5) == b"PING\n"
    return r, w, peer_der(w.get_extra_info("ssl_object"))


async def cert_seen(srv: TcpServer, ctx: ssl.SSLContext) -> bytes:
    """The certificate a new connection is shown (after one echo), the connection closed."""
    _, w, seen = await dial(srv, ctx)
    await close(w)
    return seen


async def until(check: Callable[[], object], what: str) -> None:
    """Poll ``check`` for up to 4 s (a reload timer, SIGHUP, a server starting)."""
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def close(w: asyncio.StreamWriter) -> None:
    w.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await w.wait_closed()


def test_tls_echo_then_a_swapped_certificate_is_seen_by_new_connections_only(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)
    first = der(files.current)

    async def main() -> None:
        tls = ReloadingTls(str(files.cert), str(files.key), check_every_s=0.05, name="t")
        srv = await tls_server(tls)
        _, old_w, seen = await dial(srv, files.client())
        assert seen == first
        second = der(files.issue())  # new files on disk, the server untouched
        await until(lambda: tls.reloads, "the timer to notice")
        assert tls.reloads == 1 and tls.reload_errors == 0
        assert await cert_seen(srv, files.client()) == second != first
        old_w.write(b"still\n")  # the open connection keeps its session and certificate
        assert peer_der(old_w.get_extra_info("ssl_object")) == first
        await close(old_w)
        await srv.stop()

    run(main)


def test_sighup_reloads_at_once_and_a_broken_pair_is_never_swapped_in(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)

    async def main() -> None:
        tls = ReloadingTls(str(files.cert), str(files.key), check_every_s=0, name="t")  # SIGHUP only
        srv = await tls_server(tls)
        second = der(files.issue())
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: tls.reloads, "SIGHUP")
        assert await cert_seen(srv, files.client()) == second
        # a key that does not belong to the certificate: logged, counted, the good pair stays
        files.key.write_bytes(files.ca.issue_cert("other.test").private_key_pem.bytes())
        assert tls.reload() is False and tls.reload_errors == 1
        assert await cert_seen(srv, files.client()) == second
        await srv.stop()

    run(main)


def test_a_plain_tcp_client_on_the_tls_port_fails_cleanly_and_the_server_serves_on(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)

    async def main() -> None:
        srv = await tls_server(ReloadingTls(str(files.cert), str(files.key), name="t"))
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"ping\n" * 100)  # not a ClientHello
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(r.read(), 5) == b""  # dropped without an answer
        await close(w)
        assert srv.stats.connections_total == 0  # never reached a session
        _, w, _ = await dial(srv, files.client())
        assert srv.stats.connections_total == 1 and srv.stats.frames == 1
        await close(w)
        await srv.stop()

    run(main)


def test_client_certificates_are_required_when_a_client_ca_is_set(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)
    vehicle = files.ca.issue_cert("vehicle.test", common_name="LCBEV1A0000000001")

    async def main() -> None:
        tls = TlsSettings(cert=str(files.cert), key=str(files.key), client_ca=str(files.ca_file()))
        built = tls.build("t")
        assert built is not None
        srv = await tls_server(built)
        # no client certificate: the server ends the handshake (with TLS 1.3 the client sees it
        # at its first read)
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            r, w = await asyncio.open_connection("127.0.0.1", srv.port, ssl=files.client(),
                                                 server_hostname="localhost")  # fmt: skip
            w.write(b"ping\n")
            assert await asyncio.wait_for(r.read(), 5) == b""
            await close(w)
        assert srv.stats.connections_total == 0
        _, w, _ = await dial(srv, files.client(vehicle))
        (conn,) = srv.connections
        assert conn.peer_cert is not None
        assert ("commonName", "LCBEV1A0000000001") in [rdn[0] for rdn in conn.peer_cert["subject"]]
        await close(w)
        await srv.stop()

    run(main)


def test_settings_without_a_certificate_mean_plain_tcp_and_a_missing_file_is_a_config_error(
    tmp_path: Path,
) -> None:
    assert TlsSettings().build("t") is None
    with pytest.raises(ConfigError, match="cannot load TLS certificate"):
        ReloadingTls(str(tmp_path / "missing.pem"))


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["scheme"].encode()})


def test_the_api_server_speaks_https_and_reloads_its_certificate(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)
    first = der(files.current)
    settings = ServerSettings(port=0, tls_cert=str(files.cert), tls_key=str(files.key), tls_reload_s=0.05)

    async def main() -> None:
        server = api_server(_asgi_app, settings)
        task = asyncio.create_task(server.serve())
        await until(lambda: server.started, "the API server")
        port = server.servers[0].sockets[0].getsockname()[1]

        async def get() -> tuple[str, bytes]:
            ctx = files.client()
            _, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
            seen = peer_der(w.get_extra_info("ssl_object"))
            await close(w)
            async with httpx.AsyncClient(verify=ctx) as client:  # a new connection each time
                resp = await client.get(f"https://localhost:{port}/")
            return resp.text, seen

        assert await get() == ("https", first)
        second = der(files.issue())
        for _ in range(100):
            text, seen = await get()
            if seen == second:
                break
            await asyncio.sleep(0.05)
        assert (text, seen) == ("https", second)
        server.should_exit = True
        await asyncio.wait_for(task, 10)

    run(main)

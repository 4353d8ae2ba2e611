"""Helpers for tests and benchmarks that start whole platforms on one machine."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from citybrain.gateways.tcp import TcpServer

if TYPE_CHECKING:
    from citybrain.core.platform import Platform


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_ports_env() -> dict[str, str]:
    """Settings that put every scene's network server on a free port, so platforms started by
    tests never clash with each other or with a `make run` on the same machine."""
    return {
        "CITYBRAIN_SCENES__NEV__GATEWAY__PORT": "0",
        "CITYBRAIN_SCENES__TRAFFIC__GATEWAY__PORT": "0",
        "CITYBRAIN_SCENES__FACTORY__INGEST__MQTT__EMBEDDED_PORT": str(free_port()),
    }


G = TypeVar("G", bound=TcpServer)


def run_gateway(
    platform: Platform, gateway: G, main: Callable[[G], Awaitable[None]], timeout: float = 20
) -> None:
    """Start ``gateway`` (a TCP server of the platform), run ``main(gateway)`` within ``timeout``
    seconds, then stop the gateway and the platform's batcher: one test over real sockets."""

    async def go() -> None:
        await gateway.start()
        try:
            await asyncio.wait_for(main(gateway), timeout)
        finally:
            await gateway.stop()
            await platform.batcher.stop()

    asyncio.run(go())

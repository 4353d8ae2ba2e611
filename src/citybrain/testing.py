"""Helpers for tests and benchmarks that start whole platforms on one machine."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from citybrain.core.errors import ConfigError
from citybrain.core.scenes import LISTEN_ANY, LISTEN_FREE, discover
from citybrain.gateways.tcp import TcpServer

if TYPE_CHECKING:
    from citybrain.core.platform import Platform


def start_database(kind: str) -> None:
    """Start this machine's MariaDB (``kind`` "mariadb") or PostgreSQL server if it is down, as the
    machine notes say (a test that needs one starts it; nothing happens where it runs already)."""
    if kind == "mariadb":
        if shutil.which("start-stop-daemon") and os.path.exists("/usr/sbin/mariadbd"):
            cmd = ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"]
            subprocess.run(cmd, timeout=60, check=False)
        return
    for version in os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []:
        cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
        subprocess.run(cmd, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@cache
def _listen_settings() -> tuple[tuple[str, str], ...]:
    """(environment variable, LISTEN_ANY | LISTEN_FREE) for every setting where an installed
    scene's server listens (``Scene.listen``)."""
    out = []
    for scene in discover().values():
        for path, mode in scene.listen.items():
            if mode not in (LISTEN_ANY, LISTEN_FREE):
                raise ConfigError(f"scene {scene.name!r}: listen[{path!r}] is {mode!r}, not 'any' or 'free'")
            env = "__".join(["CITYBRAIN_SCENES", scene.name, *path.split(".")]).upper()
            out.append((env, mode))
    return tuple(out)


def server_ports_env() -> dict[str, str]:
    """Settings that put every scene's network server on a free port, so platforms started by
    tests never clash with each other or with a `make run` on the same machine."""
    return {env: "0" if mode == LISTEN_ANY else str(free_port()) for env, mode in _listen_settings()}


G = TypeVar("G", bound=TcpServer)
C = TypeVar("C")


def with_database(
    kind: str, connect: Callable[[], C], errors: tuple[type[BaseException], ...], timeout_s: float = 30.0
) -> C:
    """``connect()`` to this machine's MariaDB or PostgreSQL, starting the server once when it is
    down; the last error when it does not answer within ``timeout_s``."""
    deadline, started = time.monotonic() + timeout_s, False
    while True:
        try:
            return connect()
        except errors:
            if time.monotonic() > deadline:
                raise
            if not started:
                start_database(kind)
                started = True
            time.sleep(0.5)


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

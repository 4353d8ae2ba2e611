"""Helpers for tests and benchmarks that start whole platforms on one machine."""

from __future__ import annotations

import socket


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

"""Shared by the benchmarks: machine facts, a platform server in a child process, RSS readings."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from citybrain.testing import free_port, server_ports_env

HERE = Path(__file__).resolve().parent


def machine_facts() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")  # fmt: skip
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    import duckdb

    return (f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")  # fmt: skip


class ServerProc:
    """``bench/_serve.py`` in a child process: the platform with the scenes a benchmark asks for."""

    def __init__(self, data: Path, scenes: str = "pulse", **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data
        self.env = {
            **os.environ,
            "CITYBRAIN_DATA_DIR": str(data),
            "CITYBRAIN_SERVER__PORT": str(self.port),
            **server_ports_env(),
            **env,
        }
        self.scenes = scenes
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProc:
        self.data.mkdir(parents=True, exist_ok=True)
        self.log = (self.data / "server.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "_serve.py"), self.scenes], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if (
                    httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
                    and self.token_path.exists()
                ):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server did not start; see server.log")

    @property
    def token_path(self) -> Path:
        return self.data / "bench.token"

    @property
    def token(self) -> str:
        return self.token_path.read_text().strip()

    def status(self, field: str) -> float:
        """VmRSS / VmHWM of the server process, in MB."""
        assert self.proc is not None
        for ln in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if ln.startswith(field + ":"):
                return int(ln.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@contextlib.contextmanager
def postgres_store() -> Iterator[Any]:
    """A PostgresStore in a schema of its own on the machine's server, dropped afterwards; None
    (and a line saying so) when no server answers."""
    try:
        import psycopg

        from citybrain.core.store.postgres import PostgresStore

        dsn = os.environ.get("CITYBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception as err:
        print(f"  postgres: not measured ({err.__class__.__name__}: no server)")
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    store = PostgresStore(dsn, schema)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")

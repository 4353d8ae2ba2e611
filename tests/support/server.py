"""Run a real `citybrain serve` (or `citybrain run`: with the simulators, as `make run` does)
process for tests (its own data folder and port)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from citybrain.testing import server_ports_env


def wait_for(what: str, probe: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    """What ``probe`` gives once it gives something truthy; an AssertionError naming ``what`` when
    it has not within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class Server:
    def __init__(self, data: Path, port: int, command: str = "serve", **env: str) -> None:
        self.data, self.port, self.command = data, port, command
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "CITYBRAIN_DATA_DIR": str(data),
            "CITYBRAIN_SERVER__PORT": str(port),
            **server_ports_env(),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def start(self, timeout: float = 60) -> None:
        self._close_log()
        log = self._log = (self.data.parent / f"server-{self.port}.log").open("ab")
        cmd = [sys.executable, "-c", "from citybrain.cli import main; main()", self.command]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server did not become healthy")

    @property
    def log_text(self) -> str:
        return (self.data.parent / f"server-{self.port}.log").read_text(errors="replace")

    @property
    def token(self) -> str:
        return (self.data / "admin.token").read_text().strip()

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_log()

    def wait_caught_up(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = httpx.get(
                f"{self.url}/metrics", headers={"Authorization": f"Bearer {self.token}"}, timeout=5
            ).text
            lags = [
                float(ln.rsplit(" ", 1)[1])
                for ln in text.splitlines()
                if ln.startswith("citybrain_bus_lag_events{")
            ]
            if lags and max(lags) == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("processing did not catch up")

"""`citybrain run` end to end: the simulators feed the example scene through real HTTP ingest, and
its live numbers show in the API and on the WebSocket feed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

from citybrain.core.scenes import ENTRY_POINT_GROUP, discover
from citybrain.testing import free_port, server_ports_env


def test_scenes_are_found_through_their_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert names["pulse"] == "citybrain.scenes.pulse:scene"
    assert "pulse" in discover()


def test_run_shows_live_numbers_in_api_and_websocket(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CITYBRAIN_DATA_DIR": str(tmp_path / "var"), "CITYBRAIN_SERVER__PORT": str(port),
           **server_ports_env()}  # fmt: skip
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", "from citybrain.cli import main; main()", "run"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        token = None
        while time.time() < deadline and token is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    token = (tmp_path / "var" / "admin.token").read_text().strip()
            except (httpx.TransportError, FileNotFoundError):
                time.sleep(0.3)
        assert token, "server did not start"
        assert token in (tmp_path / "run.log").read_text(), "the local run prints its token"
        h = {"Authorization": f"Bearer {token}"}
        with connect(f"ws://127.0.0.1:{port}/api/v1/live") as ws:
            ws.send(json.dumps({"op": "auth", "token": token}))
            assert json.loads(ws.recv(10))["op"] == "ready"
            ws.send(json.dumps({"op": "subscribe", "topics": ["state.pulse"]}))
            json.loads(ws.recv(10))
            msg = json.loads(ws.recv(15))
            assert msg["topic"] == "state.pulse" and msg["data"][0]["data"]["current_minute"] >= 1
        first = httpx.get(f"{url}/api/v1/scenes/pulse/summary", headers=h).json()
        assert first["reporting"] >= 1 and first["current_minute_total"] > 0
        time.sleep(2.5)
        later = httpx.get(f"{url}/api/v1/scenes/pulse/summary", headers=h).json()
        assert later != first, "the numbers move while the simulators run"
        metrics = httpx.get(f"{url}/metrics", headers=h).text
        assert 'citybrain_ingest_events_total{result="accepted"}' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
    # uvicorn shuts down gracefully, then re-raises SIGTERM: exit by that signal is the normal end
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "run.log").read_text()
    from citybrain.core.store.duck import DuckStore

    DuckStore(tmp_path / "var" / "citybrain.duckdb").close()  # released: no stale lock

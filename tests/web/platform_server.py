"""Start a real citybrain platform (uvicorn in a thread, temporary data folder, free port) with
its simulators, for the browser tests and bench/dashboard.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.events import REGISTRY
from citybrain.core.platform import Platform
from citybrain.core.scenes import Scene, discover
from citybrain.core.tokens import create_token
from citybrain.testing import free_port, server_ports_env


@dataclass
class Running:
    url: str
    tokens: dict[str, str]  # scope -> secret
    platform: Platform
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def _merge(into: dict[str, Any], more: Mapping[str, Any]) -> None:
    for k, v in more.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def start(
    data_dir: Path,
    extra_scenes: list[Scene] = (),  # type: ignore[assignment]
    scene_settings: Mapping[str, dict[str, Any]] | None = None,
    simulators: Mapping[str, dict[str, Any]] | None = None,
    simulate: bool = True,
    installed: set[str] | None = None,
    reports: bool = False,
) -> Running:
    """``installed``: which installed scenes to load besides ``extra_scenes`` (default: all);
    ``reports``: the monthly report schedule runs (off: no PDF rendered behind a long session)."""
    port = free_port()
    env = {"CITYBRAIN_DATA_DIR": str(data_dir), "CITYBRAIN_SERVER__PORT": str(port), **server_ports_env()}
    # a browser session outlives the report schedule's first look: no PDF rendered behind the tests
    # unless a test is about the schedule (``reports``)
    env["CITYBRAIN_REPORTS__ENABLED"] = "true" if reports else "false"
    settings = load_settings(env=env)
    for name, section in (scene_settings or {}).items():  # merged: keep the free server ports
        _merge(settings.scenes.setdefault(name, {}), section)
    settings.simulators.update(simulators or {})
    scenes = discover(installed)
    for s in extra_scenes:
        for kind in s.events:
            if kind.kind_name() not in REGISTRY.kinds():
                REGISTRY.register(kind)
        scenes[s.name] = s
    platform = Platform(settings, scenes=scenes)
    tokens = {
        scope: create_token(platform.store, f"web-{scope}", [scope])[1]
        for scope in ("ingest", "read", "operate")
    }
    app = create_app(settings, platform, simulate_with_token=tokens["ingest"] if simulate else None)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="citybrain-web-test", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200 and server.started:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        server.should_exit = True
        raise RuntimeError("the platform did not start within 30 s")
    return Running(url, tokens, platform, server, thread)

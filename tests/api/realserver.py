"""The app under a real uvicorn server in a thread, started the way ``citybrain serve`` starts it
(api.server.http_limits), on a free port with its own data folder."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from citybrain.api.app import create_app
from citybrain.api.server import http_limits
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token
from citybrain.testing import free_port, server_ports_env


@dataclass
class Running:
    port: int
    platform: Platform
    admin: str
    app: FastAPI

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, scope: str) -> tuple[str, str]:
        """A new token through the API: (id, secret)."""
        r = httpx.post(
            f"{self.url}/api/v1/tokens",
            json={"name": f"t-{scope}", "scopes": [scope]},
            headers={"Authorization": f"Bearer {self.admin}"},
        )
        assert r.status_code == 200, r.text
        return r.json()["id"], r.json()["token"]


@contextmanager
def running(data: Path, **env: str) -> Iterator[Running]:
    port = free_port()
    settings = load_settings(
        env={
            "CITYBRAIN_DATA_DIR": str(data),
            "CITYBRAIN_SERVER__PORT": str(port),
            **server_ports_env(),
            **env,
        }
    )
    platform = Platform(settings)
    admin = create_token(platform.store, "admin", ["admin"])[1]
    app = create_app(settings, platform)
    limits = http_limits(settings.server)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio", **limits
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name=f"citybrain-test-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Running(port, platform, admin, app)
    finally:
        srv.should_exit = True
        thread.join(timeout=30)

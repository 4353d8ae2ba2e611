"""An API client with a token of each scope (the ``api`` fixture of tests/conftest.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token


class Api:
    def __init__(self, client: TestClient, platform: Platform) -> None:
        self.client = client
        self.platform = platform
        self.tokens = {
            scope: create_token(platform.store, scope, [scope])[1]
            for scope in ("ingest", "read", "operate", "admin")
        }

    def h(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

"""Shared fixtures: a platform on a temporary data folder, an API client and tokens of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.config import Settings, load_settings
from citybrain.core.platform import Platform
from citybrain.testing import server_ports_env
from tests.support.api import Api


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # port 0: every test's gateways listen on free ports, so tests never clash
    return load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env()})


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = Platform(settings)
    yield p
    p.stop()


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client, app.state.platform)

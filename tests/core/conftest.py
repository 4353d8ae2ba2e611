"""The ``store`` fixture: every store contract test runs on each backend (tests/core/test_store.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citybrain.core.store.base import Store
from tests.core.test_store import BACKENDS, close_backend, open_backend


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_backend(request.param, tmp_path)
    yield s
    close_backend(s)

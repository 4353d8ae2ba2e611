"""Each optional part, with its extra's package missing, refuses with a ConfigError naming the extra
(the wheel test shows the base install lacks them; here each entry point is checked in-process)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.config import load_settings
from citybrain.core.errors import ConfigError
from citybrain.core.extras import EXTRAS
from citybrain.core.platform import open_bus, open_store
from citybrain.geo.importers import read_geojson, read_shapefile
from citybrain.geo.matching.fastmm_backend import FastMMMatcher
from citybrain.scenes.traffic.settings import DEFAULT_NETWORK


def _nats_bus(tmp: Path) -> Any:
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp), "CITYBRAIN_BUS__BACKEND": "nats"})
    # None stands in for the store on purpose: the nats bus is refused before the store is used
    return open_bus(settings, None, lambda: None)  # type: ignore[arg-type]


def _postgres_store(tmp: Path) -> Any:
    return open_store(load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp), "CITYBRAIN_STORE": "postgres"}))


CASES: list[tuple[str, str, str, Callable[[Path], Any]]] = [
    # missing module, extra, what the message says needs it, the entry point
    ("nats", "scaleout", "bus.backend 'nats'", _nats_bus),
    ("psycopg", "scaleout", "store 'postgres'", _postgres_store),
    ("shapefile", "shapefile", "reading a shapefile road network", lambda tmp: read_shapefile(tmp / "a.shp")),
    ("fastmm", "fastmm", "the fastmm map matcher", lambda tmp: FastMMMatcher(read_geojson(DEFAULT_NETWORK))),
]


@pytest.mark.parametrize(("module", "extra", "feature", "start"), CASES, ids=[c[0] for c in CASES])
def test_missing_extra_is_a_config_error_naming_it(
    module: str, extra: str, feature: str, start: Callable[[Path], Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    assert module in EXTRAS[extra]
    monkeypatch.setitem(sys.modules, module, None)  # import of it raises ImportError, as when absent
    with pytest.raises(ConfigError, match=rf"^{feature} needs `pip install 'citybrain\[{extra}\]'`"):
        start(tmp_path)

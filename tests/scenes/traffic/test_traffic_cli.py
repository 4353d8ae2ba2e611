"""``citybrain traffic import-network`` (the sub-app, as the main CLI mounts it)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from citybrain.geo.importers import read_geojson
from citybrain.scenes.traffic.cli import app
from citybrain.scenes.traffic.settings import DEFAULT_AREAS, DEFAULT_NETWORK


def test_import_network_checks_and_writes_the_directed_geojson(tmp_path: Path) -> None:
    out = tmp_path / "city.geojson"
    r = CliRunner().invoke(
        app, ["import-network", str(DEFAULT_NETWORK), "-o", str(out), "--areas", str(DEFAULT_AREAS)]
    )
    assert r.exit_code == 0, r.output
    assert "1222 directed segments" in r.output and "hotspot sveavagen: 50 segments" in r.output
    assert len(read_geojson(out)) == 1222


def test_import_network_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    r = CliRunner().invoke(app, ["import-network", str(bad)])
    assert r.exit_code == 1 and "error:" in r.output and "line 1" in r.output

"""Helpers for the NEV scene tests: a platform with only the nev scene, frames from
tests/data/frames, stored events, and crafted reports for the processors."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from citybrain.core.config import Settings, load_settings
from citybrain.core.events import REGISTRY, Event
from citybrain.core.platform import Platform
from citybrain.protocols import gb32960 as gb
from citybrain.scenes.nev import scene
from citybrain.scenes.nev.events import NevReport

TSV = Path(__file__).resolve().parents[2] / "data" / "frames" / "gb32960.tsv"
CLOCK = datetime(2026, 7, 7, 7, 0, 0, tzinfo=gb.BJT)  # just after the real frames of GB-SS-01/02
T0 = 1_782_997_200_000  # 2026-07-02 13:00 UTC, epoch ms (hour-aligned: buckets start at T0)


def tsv_frame(row_id: str) -> bytes:
    csv.field_size_limit(1 << 24)
    with TSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["id"] == row_id:
                return bytes.fromhex(row["hex_on_wire"])
    raise KeyError(row_id)


def nev_settings(tmp_path: Path, **scene: Any) -> Settings:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var")})
    s.scenes["nev"] = {"gateway": {"port": 0}, **scene}
    return s


def nev_platform(tmp_path: Path, **scene_settings: Any) -> Platform:
    for kind in scene.events:
        REGISTRY.register(kind)
    return Platform(nev_settings(tmp_path, **scene_settings), scenes={"nev": scene})


def stored(p: Platform) -> list[Event]:
    out: list[Event] = []
    for part in range(p.bus.partitions):
        out.extend(ev for _, ev in p.store.read_events(part, 0, 100_000))
    return sorted(out, key=lambda e: (e.ts, e.id))


def report(vin: str, ts: int, ingest_ts: int | None = None, **fields: Any) -> NevReport:
    """A healthy live 2016 report of a started vehicle, with ``fields`` changed."""
    base: dict[str, Any] = {"edition": "2016", "vehicle_state": 1, "charging_state": 3, "speed_kmh": 40.0,
                            "soc_pct": 60.0, "odometer_km": 1000.0, "total_voltage_v": 350.0,
                            "insulation_kohm": 20_000.0, "max_temp_c": 30.0, "min_temp_c": 27.0,
                            "max_cell_v": 3.65, "min_cell_v": 3.63, "lon": 115.9, "lat": 28.68,
                            "fix_valid": True, "alarm_level": 0}  # fmt: skip
    base.update(fields)
    return NevReport(key=vin, ts=ts, source="test", ingest_ts=ingest_ts or ts, **base)

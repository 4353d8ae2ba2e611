"""Helpers for the NEV scene tests: a platform with only the nev scene, frames from
tests/data/frames, stored events, crafted reports for the processors, and a vehicle link to a
gateway (plain TCP or TLS)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import ssl
from datetime import datetime
from pathlib import Path
from typing import Any

from citybrain.core.config import Settings, load_settings
from citybrain.core.events import REGISTRY, Event
from citybrain.core.platform import Platform
from citybrain.gateways.tcp import TcpServer
from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.frame import bcc
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


def frame_for(row: str, vin: str) -> bytes:
    """A frame of tests/data/frames with another VIN (BCC fixed)."""
    out = bytearray(tsv_frame(row))
    out[4:21] = vin.encode()
    out[-1] = bcc(out[2:-1])
    return bytes(out)


def logout_for(vin: str) -> bytes:
    return gb.encode(gb.VehicleLogout(gb.Header("2016", gb.Command.VEHICLE_LOGOUT, vin=vin), CLOCK, 1))


class Link:
    """A vehicle's connection to a gateway: ``send`` a frame and read the reply's command and flag."""

    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w = r, w

    @classmethod
    async def open(cls, gw: TcpServer, tls: ssl.SSLContext | None = None) -> Link:
        host = "localhost" if tls is not None else None
        return cls(*await asyncio.open_connection("127.0.0.1", gw.port, ssl=tls, server_hostname=host))

    async def send(self, frame: bytes) -> bytes:
        """Write a frame and read the reply (command, flag): ``b"\\x01\\x01"`` login OK..."""
        self.w.write(frame)
        head = await asyncio.wait_for(self.r.readexactly(24), 5)
        body = await asyncio.wait_for(self.r.readexactly(int.from_bytes(head[22:24], "big") + 1), 5)
        assert head[4:21] == frame[4:21] and (head + body)[-1] == bcc((head + body)[2:-1])
        return head[2:4]

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self.w.wait_closed()

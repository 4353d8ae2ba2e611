"""The traffic simulator: the simulated fleet (simworld) speaking the real protocols. Buses and
taxis are JT/T 808 terminals on their own TCP connections to the gateway (register, authenticate,
report 0x0200 every ``report_s``); ride-hailing cars are posted in GCJ-02 batches to the probe feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from citybrain.geo import datum
from citybrain.protocols import jt808
from citybrain.scenes.traffic import roadnet
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.scenes.traffic.simworld import Fix, SimConfig, World
from citybrain.sdk import SimContext
from citybrain.sdk.settings import load_settings

log = logging.getLogger(__name__)
STATUS = 0x0001 | 0x0002 | (1 << 18)  # ACC on, positioned, GPS used


def location_frame(phone: str, serial: int, fix: Fix) -> bytes:
    loc = jt808.LocationReport(
        alarm=0,
        status=STATUS,
        lat=fix.lat,
        lon=fix.lon,
        altitude_m=20,
        speed_kmh=fix.speed_kmh,
        direction=int(fix.heading) % 360,
        time_ms=fix.ts,
    )
    return jt808.encode_frame(
        jt808.Message(jt808.Header(msg_id=jt808.LOCATION_REPORT, phone=phone, serial=serial), loc)
    )


def register_frame(phone: str, serial: int, plate: str, color: int) -> bytes:
    reg = jt808.Register(
        province=36,
        city=100,
        maker="CBSIM",
        model="CB-808",
        terminal_id=phone[-7:],
        plate_color=color,
        plate=plate,
    )
    return jt808.encode_frame(
        jt808.Message(jt808.Header(msg_id=jt808.REGISTER, phone=phone, serial=serial), reg)
    )


def auth_frame(phone: str, serial: int, code: str) -> bytes:
    body = jt808.Authenticate(auth_code=code)
    return jt808.encode_frame(
        jt808.Message(jt808.Header(msg_id=jt808.AUTHENTICATE, phone=phone, serial=serial), body)
    )


class Terminal:
    """One vehicle's JT/T 808 link: registers, authenticates, sends locations, reads the replies."""

    def __init__(self, phone: str, plate: str, color: int) -> None:
        self.phone, self.plate, self.color = phone, plate, color
        self.serial = 0
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.splitter = jt808.FrameSplitter()
        self.acked = 0
        self._drain: asyncio.Task[None] | None = None

    def _next(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial

    async def _reply(self) -> jt808.Message:
        assert self.reader is not None
        while True:
            frames = self.splitter.feed(await asyncio.wait_for(self.reader.read(4096), 30))
            if frames:
                return jt808.decode_frame(frames[0])

    async def connect(self, host: str, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.write(register_frame(self.phone, self._next(), self.plate, self.color))
        reg = (await self._reply()).body
        if not isinstance(reg, jt808.RegisterResponse) or reg.auth_code is None:
            raise RuntimeError(f"terminal {self.phone}: registration refused ({reg})")
        self.writer.write(auth_frame(self.phone, self._next(), reg.auth_code))
        ack = (await self._reply()).body
        if not isinstance(ack, jt808.PlatformGeneralResponse) or ack.result != 0:
            raise RuntimeError(f"terminal {self.phone}: authentication failed ({ack})")
        self._drain = asyncio.create_task(self._read_acks())

    async def _read_acks(self) -> None:
        assert self.reader is not None
        while data := await self.reader.read(65536):
            self.acked += len(self.splitter.feed(data))

    def send(self, fix: Fix) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(location_frame(self.phone, self._next(), fix))

    async def close(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await self.writer.wait_closed()


def probe_batch(fixes: list[Fix]) -> dict[str, Any]:
    """Ride-hailing positions as the provider would send them: GCJ-02 (a no-op outside China,
    where GCJ-02 equals WGS-84, but converted explicitly all the same)."""
    import numpy as np

    lon = np.array([f.lon for f in fixes])
    lat = np.array([f.lat for f in fixes])
    glon, glat = datum.wgs84_to_gcj02(lon, lat)
    return {
        "source": "sim-ridehail",
        "source_type": "ride-hail",
        "datum": "GCJ-02",
        "positions": [
            {
                "vehicle": f.vehicle,
                "ts": f.ts,
                "lon": round(float(x), 7),
                "lat": round(float(y), 7),
                "speed_kmh": f.speed_kmh,
                "heading": f.heading,
            }
            for f, x, y in zip(fixes, glon.tolist(), glat.tolist(), strict=True)
        ],
    }


def phone_of(index: int) -> str:
    return f"0139{index:08d}"


class TrafficSimulator:
    name = "traffic"

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        scene = load_settings(TrafficSettings, ctx.scene_settings, "traffic")
        world = World(
            roadnet.load(scene.network_path, scene.areas_path),
            self.cfg,
            time.time_ns() // 1_000_000_000 * 1000,
        )
        terminals: dict[str, Terminal] = {}
        for i, v in enumerate(world.vehicles):
            if v.vtype in ("bus", "taxi"):
                color = 2 if v.vtype == "bus" else 1  # yellow plates are buses (see GatewayConfig)
                terminals[v.id] = Terminal(phone_of(i), f"赣A{i:05d}", color)
        port = ctx.port_of("jt808", scene.gateway.port)
        await asyncio.gather(*(t.connect(ctx.host, port) for t in terminals.values()))
        log.info("traffic sim: %d JT/T 808 terminals connected to %s:%d", len(terminals), ctx.host, port)
        pending: list[Fix] = []
        last_post = world.now
        try:
            while not stop.is_set():
                world.step(self.cfg.tick_s)
                for v in world.due(world.now):
                    fix = world.fix(v)
                    if v.id in terminals:
                        terminals[v.id].send(fix)
                    else:
                        pending.append(fix)
                if pending and world.now - last_post >= self.cfg.probe_batch_s * 1000:
                    await _post_json(ctx, "/api/v1/scenes/traffic/probes", probe_batch(pending))
                    pending, last_post = [], world.now
                lag = world.now / 1000 - time.time()  # real time: sleep until the world's clock
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, lag))
        finally:
            await asyncio.gather(*(t.close() for t in terminals.values()))


async def _post_json(ctx: SimContext, path: str, payload: dict[str, Any]) -> None:
    r = await ctx.http.post(path, payload)
    if r.status_code >= 300:
        log.warning("traffic sim: probe feed answered %d %s", r.status_code, r.text[:200])


def simulator(settings: Mapping[str, Any]) -> TrafficSimulator:
    return TrafficSimulator(msgspec.convert(dict(settings), SimConfig))

"""The NEV fleet simulator: virtual vehicles of both editions that log in over real TCP to the
GB/T 32960 gateway, report every ``interval_s`` seconds, drive, charge, raise the odd alarm, now
and then lose their link (and reissue what they buffered, as command 0x03), and log out at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.frame import HEADER_SIZE
from citybrain.scenes.nev.simvehicle import DEMO_AREA, VirtualVehicle
from citybrain.sdk import SimContext, now_ms

log = logging.getLogger(__name__)


class NevSimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 32960
    vehicles: int = 40
    interval_s: float = 10.0
    # chance per report that the link drops for drop_s seconds; the buffered reports come back
    # as reissues (0x03) after the next login
    link_drop: float = 0.002
    drop_s: float = 45.0
    reply_timeout_s: float = 10.0
    # where the vehicles are placed and drive: [lon_min, lat_min, lon_max, lat_max] (WGS-84). The
    # default is the demo road network's bounding box (citybrain/data/networks/stockholm.geojson), so the
    # fleet shares the map with the traffic scene's congestion; docs/scenes/nev.md says why.
    area: tuple[float, float, float, float] = DEMO_AREA


class FleetSimulator:
    name = "nev"

    def __init__(self, cfg: NevSimConfig) -> None:
        self.cfg = cfg
        self.vehicles = [VirtualVehicle(cfg.seed, i, area=cfg.area) for i in range(cfg.vehicles)]
        self.sent = 0
        self.replies: dict[int, int] = {}  # response flag -> count

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        gateway = ctx.scene_settings.get("gateway", {})
        port = ctx.port_of("gb32960", int(gateway.get("port", 32960)))
        host = ctx.host if ctx.host not in ("0.0.0.0", "::") else "127.0.0.1"
        tasks = [
            asyncio.create_task(self._drive(v, i, host, port, stop), name=f"nev-sim-{v.vin}")
            for i, v in enumerate(self.vehicles)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _wait(self, stop: asyncio.Event, seconds: float) -> bool:
        """Sleep; True when stop was set meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        return stop.is_set()

    async def _drive(self, v: VirtualVehicle, i: int, host: str, port: int, stop: asyncio.Event) -> None:
        c = self.cfg
        if await self._wait(stop, c.interval_s * i / max(1, len(self.vehicles))):  # stagger
            return
        backlog: list[int] = []  # times of reports made while the link was down
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as err:
                log.warning("nev sim %s: gateway %s:%d unreachable (%s); retrying", v.vin, host, port, err)
                if await self._wait(stop, 5.0):
                    return
                continue
            try:
                await self._session(v, reader, writer, backlog, stop)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as err:
                log.info("nev sim %s: link lost (%s)", v.vin, err)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            if stop.is_set():
                return
            # offline for a while: keep "measuring"; the reports are reissued after the next login
            until = time.monotonic() + c.drop_s
            while time.monotonic() < until:
                if await self._wait(stop, c.interval_s):
                    return
                ts = now_ms()
                v.step(ts)
                backlog.append(ts)

    async def _session(
        self, v: VirtualVehicle, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        backlog: list[int], stop: asyncio.Event,
    ) -> None:  # fmt: skip
        c = self.cfg
        writer.write(v.login(now_ms()))
        await self._reply(reader)
        # the reissue carries the live values of now with the buffered time (a simplification:
        # the terminal would keep each buffered frame as it was)
        for ts in backlog:
            for frame in v.report(ts, reissue=True):
                writer.write(frame)
                self.sent += 1
        backlog.clear()
        pump = asyncio.create_task(self._drain(reader))
        try:
            while not stop.is_set():
                ts = now_ms()
                v.step(ts)
                for frame in v.report(ts):
                    writer.write(frame)
                    self.sent += 1
                await writer.drain()
                if v.rng.random() < c.link_drop:
                    return
                if await self._wait(stop, c.interval_s):
                    break
            writer.write(v.logout(now_ms()))
            await writer.drain()
            await asyncio.sleep(0.2)  # let the logout reply arrive before closing
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _reply(self, reader: asyncio.StreamReader) -> None:
        head = await asyncio.wait_for(reader.readexactly(HEADER_SIZE), self.cfg.reply_timeout_s)
        rest = await reader.readexactly(int.from_bytes(head[22:24], "big") + 1)
        flag = head[3]
        self.replies[flag] = self.replies.get(flag, 0) + 1
        if flag != gb.ResponseFlag.SUCCESS:
            raise OSError(f"gateway answered 0x{head[2]:02X} with flag 0x{flag:02X}: {(head + rest).hex()}")

    async def _drain(self, reader: asyncio.StreamReader) -> None:
        """Read (and count) what the gateway sends after login: heartbeat, logout and error replies."""
        splitter = gb.FrameSplitter()
        while chunk := await reader.read(4096):
            for item in splitter.feed(chunk):
                if isinstance(item, gb.RawFrame):
                    self.replies[item.data[3]] = self.replies.get(item.data[3], 0) + 1


def simulator(settings: Mapping[str, Any]) -> FleetSimulator:
    return FleetSimulator(msgspec.convert(dict(settings), NevSimConfig))

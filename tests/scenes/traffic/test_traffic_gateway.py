"""The JT/T 808 gateway over a real TCP socket on 127.0.0.1 with the real platform behind it:
register -> 0x8100 with an auth code, auth -> 0x8001, locations acknowledged only once durable,
0x0704 reissue stored as not live, bad frames answered and dropped while the connection lives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from traffic_testkit import T_PEAK, stored, traffic_platform

from citybrain.core.platform import Platform
from citybrain.protocols import jt808
from citybrain.scenes.traffic.config import GatewayConfig
from citybrain.scenes.traffic.events import TrafficPosition, TrafficTerminal
from citybrain.scenes.traffic.gateway import Jt808Gateway, check_auth_code, make_auth_code
from citybrain.scenes.traffic.sim import auth_frame, register_frame
from citybrain.scenes.traffic.simworld import Fix

PHONE = "013912345678"
CLOCK = (T_PEAK + 60_000) / 1000


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = traffic_platform(tmp_path)
    yield p
    p.stop()


def with_gateway(p: Platform, main: Callable[[Jt808Gateway], Awaitable[None]]) -> None:
    async def run() -> None:
        gw = Jt808Gateway(p.batcher.submit, GatewayConfig(port=0), clock=lambda: CLOCK)
        await gw.start()
        try:
            await asyncio.wait_for(main(gw), 20)
        finally:
            await gw.stop()
            await p.batcher.stop()

    asyncio.run(run())


class Client:
    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w = r, w
        self.splitter = jt808.FrameSplitter()
        self.frames: list[bytes] = []
        self.serial = 0

    @classmethod
    async def open(cls, gw: Jt808Gateway) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", gw.port))

    def next(self) -> int:
        self.serial += 1
        return self.serial

    async def reply(self) -> jt808.Message:
        while not self.frames:
            data = await asyncio.wait_for(self.r.read(4096), 5)
            assert data, "connection closed"
            self.frames += self.splitter.feed(data)
        return jt808.decode_frame(self.frames.pop(0))

    async def login(self, plate: str = "赣A12345", color: int = 2) -> str:
        self.w.write(register_frame(PHONE, self.next(), plate, color))
        reg = await self.reply()
        assert isinstance(reg.body, jt808.RegisterResponse) and reg.body.result == 0
        assert reg.body.reply_serial == self.serial and reg.body.auth_code
        self.w.write(auth_frame(PHONE, self.next(), reg.body.auth_code))
        ack = await self.reply()
        assert isinstance(ack.body, jt808.PlatformGeneralResponse)
        assert (ack.body.reply_msg_id, ack.body.reply_serial, ack.body.result) == (0x0102, self.serial, 0)
        return str(reg.body.auth_code)

    def location(self, ts: int, lon: float = 18.05, lat: float = 59.34, serial: int | None = None) -> bytes:
        from citybrain.scenes.traffic.sim import location_frame

        frame: bytes = location_frame(PHONE, serial or self.next(), Fix("x", "bus", ts, lon, lat, 31.5, 90.0))
        return frame

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(OSError):
            await self.w.wait_closed()


def test_register_auth_location_replies_after_durable(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Client.open(gw)
        code = await c.login()
        assert check_auth_code("citybrain-demo-secret", PHONE, code) == ("bus", "赣A12345")
        c.w.write(c.location(T_PEAK))
        ack = await c.reply()
        assert isinstance(ack.body, jt808.PlatformGeneralResponse)
        assert (ack.body.reply_msg_id, ack.body.reply_serial, ack.body.result) == (0x0200, c.serial, 0)
        pos = stored(platform, TrafficPosition)  # the ack came after the event was durable
        assert len(pos) == 1
        ev = pos[0]
        assert (ev.key, ev.ts, ev.vehicle_type, ev.live, ev.terminal) == (
            "赣A12345",
            T_PEAK,
            "bus",
            True,
            PHONE,
        )
        assert ev.lon == pytest.approx(18.05) and ev.lat == pytest.approx(59.34) and ev.speed_kmh == 31.5
        c.w.write(
            jt808.encode_frame(
                jt808.Message(jt808.Header(msg_id=0x0002, phone=PHONE, serial=c.next()), jt808.Heartbeat())
            )
        )
        hb = await c.reply()
        assert isinstance(hb.body, jt808.PlatformGeneralResponse) and hb.body.reply_msg_id == 0x0002
        actions = [e.action for e in stored(platform, TrafficTerminal)]
        assert actions == ["register", "auth"]
        await c.close()

    with_gateway(platform, main)


def test_bad_frame_is_answered_dropped_and_the_connection_lives(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Client.open(gw)
        await c.login()
        good = c.location(T_PEAK)
        bad = bytearray(good)
        bad[-2] ^= 0x55  # corrupt the check code (not 0x7E/0x7D after the flip for this frame)
        assert 0x7E not in bad[1:-1] and 0x7D not in bad[-3:-1]
        c.w.write(bytes(bad) + b"\x00\xff garbage" + c.location(T_PEAK + 10_000))
        nack = await c.reply()
        assert isinstance(nack.body, jt808.PlatformGeneralResponse) and nack.body.result == 2
        ack = await c.reply()
        assert isinstance(ack.body, jt808.PlatformGeneralResponse) and ack.body.result == 0
        assert [e.ts for e in stored(platform, TrafficPosition)] == [T_PEAK + 10_000]
        assert gw.stats.bad_frames >= 1 and gw.stats.connections_open == 1
        await c.close()

    with_gateway(platform, main)


def test_batch_reissue_is_stored_as_not_live(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Client.open(gw)
        await c.login()
        items = tuple(
            jt808.LocationReport(
                alarm=0,
                status=3,
                lat=59.34,
                lon=18.05 + i / 1000,
                altitude_m=0,
                speed_kmh=20.0,
                direction=0,
                time_ms=T_PEAK - 600_000 + i * 10_000,
            )
            for i in range(3)
        )
        for reissue in (1, 0):
            msg = jt808.Message(
                jt808.Header(msg_id=0x0704, phone=PHONE, serial=c.next()),
                jt808.LocationBatch(batch_type=reissue, items=items),
            )
            c.w.write(jt808.encode_frame(msg))
            ack = await c.reply()
            assert isinstance(ack.body, jt808.PlatformGeneralResponse) and ack.body.reply_msg_id == 0x0704
        pos = stored(platform, TrafficPosition)
        assert sorted(e.live for e in pos) == [False] * 3 + [True] * 3
        await c.close()

    with_gateway(platform, main)


def test_locations_before_auth_and_forged_codes_are_refused(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Client.open(gw)
        c.w.write(c.location(T_PEAK))
        nack = await c.reply()
        assert isinstance(nack.body, jt808.PlatformGeneralResponse) and nack.body.result == 1
        forged = make_auth_code("another-secret", PHONE, "bus", "赣A12345")
        c.w.write(auth_frame(PHONE, c.next(), forged))
        nack = await c.reply()
        assert isinstance(nack.body, jt808.PlatformGeneralResponse) and nack.body.result == 1
        assert stored(platform, TrafficPosition) == []
        await c.close()

    with_gateway(platform, main)


def test_identity_from_config_and_plate_colour(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Client.open(gw)
        code = await c.login(plate="赣B99999", color=1)  # blue plate: default type (taxi)
        assert code.startswith("taxi|赣B99999|")
        await c.close()
        c = await Client.open(gw)
        gw.cfg.terminals[PHONE] = {"vehicle_id": "route-12-bus-3", "type": "bus"}
        code = await c.login(plate="赣B99999", color=1)
        assert code.startswith("bus|route-12-bus-3|")
        await c.close()

    with_gateway(platform, main)


def test_split_message_is_reassembled_and_each_package_acknowledged(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Client.open(gw)
        await c.login()
        items = tuple(
            jt808.LocationReport(alarm=0, status=3, lat=59.34, lon=18.05, altitude_m=0, speed_kmh=20.0,
                                 direction=0, time_ms=T_PEAK + i * 1000)
            for i in range(40)
        )  # fmt: skip  # 40 x 30 bytes: more than one 1023-byte package
        msg = jt808.Message(
            jt808.Header(msg_id=0x0704, phone=PHONE, serial=c.next()),
            jt808.LocationBatch(batch_type=0, items=items),
        )
        frames = list(jt808.split_frames(msg))
        assert len(frames) == 2
        c.w.write(b"".join(frames))
        acks = [await c.reply(), await c.reply()]
        assert [a.body.result for a in acks if isinstance(a.body, jt808.PlatformGeneralResponse)] == [0, 0]
        assert len(stored(platform, TrafficPosition)) == 40
        await c.close()

    with_gateway(platform, main)

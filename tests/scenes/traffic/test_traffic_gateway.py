"""The JT/T 808 gateway over a real TCP socket on 127.0.0.1 with the real platform behind it:
register -> 0x8100 with an auth code, auth -> 0x8001, locations acknowledged only once durable,
0x0704 reissue stored as not live, bad frames answered and dropped while the connection lives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from citybrain.core.platform import Platform
from citybrain.protocols import jt808
from citybrain.scenes.traffic.events import TrafficPosition, TrafficTerminal
from citybrain.scenes.traffic.gateway import Jt808Gateway
from citybrain.scenes.traffic.sim import auth_frame
from tests.scenes.traffic.jt808_terminal import PHONE, Terminal, run_terminals
from tests.scenes.traffic.traffic_testkit import T_PEAK, stored, traffic_platform


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = traffic_platform(tmp_path)
    yield p
    p.stop()


def with_gateway(p: Platform, main: Callable[[Jt808Gateway], Awaitable[None]]) -> None:
    run_terminals(p, main, alerts=None)


def test_register_auth_location_replies_after_durable(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Terminal.open(gw)
        code = await c.login()
        grant = gw.terminals.book.check(PHONE, code)
        assert grant is not None and (grant.vehicle_type, grant.vehicle_id) == ("bus", "赣A12345")
        c.w.write(c.location_frame(T_PEAK))
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
        c = await Terminal.open(gw)
        await c.login()
        good = c.location_frame(T_PEAK)
        bad = bytearray(good)
        bad[-2] ^= 0x55  # corrupt the check code (not 0x7E/0x7D after the flip for this frame)
        assert 0x7E not in bad[1:-1] and 0x7D not in bad[-3:-1]
        c.w.write(bytes(bad) + b"\x00\xff garbage" + c.location_frame(T_PEAK + 10_000))
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
        c = await Terminal.open(gw)
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
        c = await Terminal.open(gw)
        c.w.write(c.location_frame(T_PEAK))
        nack = await c.reply()
        assert isinstance(nack.body, jt808.PlatformGeneralResponse) and nack.body.result == 1
        forged = "bus|赣A12345|0123456789abcdef"  # the shape of the codes of old: never issued here
        c.w.write(auth_frame(PHONE, c.next(), forged))
        nack = await c.reply()
        assert isinstance(nack.body, jt808.PlatformGeneralResponse) and nack.body.result == 1
        assert stored(platform, TrafficPosition) == []
        await c.close()

    with_gateway(platform, main)


def test_identity_from_config_and_plate_colour(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Terminal.open(gw)
        code = await c.login(plate="赣B99999", color=1)  # blue plate: default type (taxi)
        grant = gw.terminals.book.check(PHONE, code)
        assert grant is not None and (grant.vehicle_type, grant.vehicle_id) == ("taxi", "赣B99999")
        await c.logout()
        await c.close()
        c = await Terminal.open(gw)
        gw.cfg.terminals[PHONE] = {"vehicle_id": "route-12-bus-3", "type": "bus"}
        code = await c.login(plate="赣B99999", color=1)
        grant = gw.terminals.book.check(PHONE, code)
        assert grant is not None and (grant.vehicle_type, grant.vehicle_id) == ("bus", "route-12-bus-3")
        await c.close()

    with_gateway(platform, main)


def test_split_message_is_reassembled_and_each_package_acknowledged(platform: Platform) -> None:
    async def main(gw: Jt808Gateway) -> None:
        c = await Terminal.open(gw)
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

"""The GB/T 32960 gateway over a real TCP socket on 127.0.0.1 (ephemeral port), with the real
platform behind it: replies byte for byte, durability before acknowledgement, bad frames."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from citybrain.core.platform import Platform
from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.frame import bcc
from citybrain.scenes.nev.events import NevLogin, NevReport
from citybrain.scenes.nev.gateway import Gb32960Gateway
from citybrain.scenes.nev.settings import GatewaySettings
from citybrain.scenes.nev.simvehicle import VirtualVehicle
from citybrain.testing import run_gateway
from tests.scenes.nev.nev_testkit import CLOCK, nev_platform, stored, tsv_frame

Main = Callable[[Gb32960Gateway], Awaitable[None]]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = nev_platform(tmp_path)
    yield p
    p.stop()


def with_gateway(p: Platform, main: Main, **cfg: object) -> None:
    gw = Gb32960Gateway(p.batcher.submit, GatewaySettings(port=0, **cfg), clock=lambda: CLOCK)  # type: ignore[arg-type]
    run_gateway(p, gw, main)


async def connect(gw: Gb32960Gateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gw.port)


async def read_frame(r: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    head = await asyncio.wait_for(r.readexactly(24), timeout)
    return head + await asyncio.wait_for(r.readexactly(int.from_bytes(head[22:24], "big") + 1), timeout)


async def close(w: asyncio.StreamWriter) -> None:
    w.close()
    with contextlib.suppress(OSError):
        await w.wait_closed()


def annex_b_reply(frame: bytes, flag: int) -> bytes:
    """B.3.3.2 by hand: change the response flag and the time, keep the rest, recompute the BCC. A
    request without a data unit (heartbeat) gets the time as its data unit (6.3.2; rtm-con reads
    the time of every reply, issue 12)."""
    now = bytes((CLOCK.year - 2000, CLOCK.month, CLOCK.day, CLOCK.hour, CLOCK.minute, CLOCK.second))
    out = bytearray(frame[:24] + now + frame[30:-1] + b"\x00")
    out[3] = flag
    out[22:24] = (len(out) - 25).to_bytes(2, "big")
    out[-1] = bcc(out[2:-1])
    return bytes(out)


def login_for(vin: str) -> bytes:
    """The real 2016 login GB-SS-02 with another VIN (reports count only after a login, issue 10)."""
    out = bytearray(tsv_frame("GB-SS-02"))
    out[4:21] = vin.encode()
    out[-1] = bcc(out[2:-1])
    return bytes(out)


def test_login_is_answered_as_annex_b_says_once_durable(platform: Platform) -> None:
    login = tsv_frame("GB-SS-02")  # a real 2016 login captured from a gateway log

    async def main(gw: Gb32960Gateway) -> None:
        r, w = await connect(gw)
        w.write(login)
        reply = await read_frame(r)
        assert reply == annex_b_reply(login, 0x01)
        events = stored(platform)  # the reply came after the login was durable
        assert [type(e) for e in events] == [NevLogin]
        assert events[0].key == "H3V21BA29SZ003109"
        await close(w)

    with_gateway(platform, main)


def test_realtime_report_gets_no_reply_and_is_stored(platform: Platform) -> None:
    realtime = tsv_frame("GB-SS-01")  # real 2016 realtime frame, values per its source
    hb = gb.encode(gb.Heartbeat(gb.Header("2016", 0x07, vin="H3V21AA24RZ016158")))

    login = login_for("H3V21AA24RZ016158")  # the VIN of the realtime frame

    async def main(gw: Gb32960Gateway) -> None:
        r, w = await connect(gw)
        w.write(login)
        assert await read_frame(r) == annex_b_reply(login, 0x01)
        w.write(realtime)
        with pytest.raises(TimeoutError):
            await read_frame(r, timeout=0.3)
        w.write(hb)
        ack = await read_frame(r)
        assert ack == annex_b_reply(hb, 0x01)  # the first bytes back: no realtime ack
        back = gb.decode_frame(ack)
        assert isinstance(back, gb.Heartbeat) and back.time == CLOCK  # the platform time (issue 12)
        (ev,) = [e for e in stored(platform) if isinstance(e, NevReport)]
        assert isinstance(ev, NevReport) and not ev.reissue and ev.edition == "2016"
        assert (ev.speed_kmh, ev.odometer_km, ev.total_voltage_v, ev.total_current_a, ev.soc_pct) == (
            4.8, 93266.0, 341.7, 2.5, 50.0)  # fmt: skip
        assert (ev.lon, ev.lat, ev.fix_valid) == (114.366778, 30.591045, True)
        assert (ev.max_cell_v, ev.min_cell_v, ev.max_temp_c, ev.min_temp_c) == (3.284, 3.282, 29.0, 27.0)
        assert gw.counters()["frames_realtime"] == 1 and gw.counters()["frames_heartbeat"] == 1
        await close(w)

    with_gateway(platform, main)


def test_bad_bcc_gets_the_error_reply_and_the_connection_lives(platform: Platform) -> None:
    realtime = tsv_frame("GB-SS-01")
    broken = realtime[:-1] + bytes([realtime[-1] ^ 0x5A])
    login = tsv_frame("GB-SS-02")

    async def main(gw: Gb32960Gateway) -> None:
        r, w = await connect(gw)
        w.write(broken)
        err = await read_frame(r)
        assert err[:4] == b"##\x02\x02" and err[4:21] == realtime[4:21]  # same command, flag 0x02 error
        assert err[-1] == bcc(err[2:-1])
        w.write(login)
        assert await read_frame(r) == annex_b_reply(login, 0x01)
        assert gw.stats.bad_frames == 1 and gw.stats.connections_open == 1
        assert [type(e) for e in stored(platform)] == [NevLogin]  # the bad frame was dropped
        await close(w)

    with_gateway(platform, main)


def test_frames_split_across_reads_and_joined_in_one(platform: Platform) -> None:
    login = tsv_frame("GB-SS-02")
    v = VirtualVehicle(5, 0)
    hb = v.heartbeat()

    async def main(gw: Gb32960Gateway) -> None:
        r, w = await connect(gw)
        for part in (login[:3], login[3:30], login[30:]):
            w.write(part)
            await w.drain()
            await asyncio.sleep(0.05)
        assert await read_frame(r) == annex_b_reply(login, 0x01)
        w.write(b"\x00garbage" + hb + hb)  # garbage is counted, both heartbeats answered
        assert await read_frame(r) == annex_b_reply(hb, 0x01)
        assert await read_frame(r) == annex_b_reply(hb, 0x01)
        assert gw.stats.bad_frames == 1
        await close(w)

    with_gateway(platform, main)


def test_2025_edition_login_reissue_and_logout(platform: Platform) -> None:
    login = tsv_frame("GB-RC-01")  # 2025 ($$) login from rtm_con's vectors
    v = VirtualVehicle(5, 3)
    assert v.edition == "2025"
    ts = int(CLOCK.timestamp() * 1000) - 60_000
    v.step(ts)
    reissue = v.report(ts, reissue=True)[0]

    async def main(gw: Gb32960Gateway) -> None:
        r, w = await connect(gw)
        w.write(login)
        reply = await read_frame(r)
        assert reply[:4] == b"$$\x01\x01" and reply == annex_b_reply(login, 0x01)
        w.write(v.login(ts) + reissue)
        assert (await read_frame(r))[:4] == b"$$\x01\x01"
        logout = v.logout(ts + 1000)
        w.write(logout)
        assert await read_frame(r) == annex_b_reply(logout, 0x01)
        kinds = {type(e).__name__: e for e in stored(platform)}
        rep = kinds["NevReport"]
        assert isinstance(rep, NevReport) and rep.reissue and rep.edition == "2025" and rep.key == v.vin
        assert "NevLogout" in kinds
        await close(w)

    with_gateway(platform, main)


def test_time_only_reply_shape_and_out_of_range_times(platform: Platform) -> None:
    login = tsv_frame("GB-SS-02")
    v = VirtualVehicle(5, 0)
    far = int(CLOCK.timestamp() * 1000) + 3 * 86_400_000  # a broken RTC, three days ahead

    async def main(gw: Gb32960Gateway) -> None:
        r, w = await connect(gw)
        w.write(login)
        reply = await read_frame(r)
        assert int.from_bytes(reply[22:24], "big") == 6  # main-body shape: the time only
        assert gb.decode_frame(reply).header.response == 0x01
        v.step(far)
        w.write(v.report(far)[0])
        err = await read_frame(r)
        assert err[2:4] == b"\x02\x02"
        assert gw.stats.bad_frames == 1 and not [e for e in stored(platform) if isinstance(e, NevReport)]
        await close(w)

    with_gateway(platform, main, reply_shape="time_only")


def test_the_same_vin_logging_in_again_drops_a_quiet_old_link(platform: Platform) -> None:
    """B.2.7 for a dead link: with duplicate_quiet_s 0 every older link counts as quiet (the live
    one is kept and an alert raised otherwise: test_nev_identity.py)."""
    login = tsv_frame("GB-SS-02")

    async def main(gw: Gb32960Gateway) -> None:
        r1, w1 = await connect(gw)
        w1.write(login)
        await read_frame(r1)
        r2, w2 = await connect(gw)
        w2.write(login)
        await read_frame(r2)
        assert await asyncio.wait_for(r1.read(), 5) == b""  # the first link was closed
        assert gw.counters()["vins_replaced"] == 1 and gw.counters()["vins_connected"] == 1
        await close(w1)
        await close(w2)

    with_gateway(platform, main, duplicate_quiet_s=0.0)

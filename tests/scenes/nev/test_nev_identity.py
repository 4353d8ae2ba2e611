"""GB/T 32960 device identity over real TCP with the real platform behind it (issue 10, item 4):
reports and logouts count only for a VIN logged in on that connection, and a second login for a
live VIN is refused with an alert while the real vehicle stays connected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.gateways.alerts import GatewayAlerts
from citybrain.protocols import gb32960 as gb
from citybrain.protocols.gb32960.frame import bcc
from citybrain.scenes.nev.events import NevLogin, NevLogout, NevReport
from citybrain.scenes.nev.gateway import Gb32960Gateway
from citybrain.scenes.nev.settings import GatewaySettings
from citybrain.testing import run_gateway
from tests.scenes.nev.nev_testkit import CLOCK, nev_platform, stored, tsv_frame

VICTIM = "H3V21AA24RZ016158"  # the VIN of the real realtime frame GB-SS-01
OTHER = "H3V21BA29SZ003109"  # the VIN of the real login frame GB-SS-02


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = nev_platform(tmp_path)
    yield p
    p.stop()


def run(p: Platform, main: Callable[[Gb32960Gateway], Awaitable[None]]) -> None:
    alerts = GatewayAlerts(p.runtime("nev"), "nev", "gb32960")
    gw = Gb32960Gateway(p.batcher.submit, GatewaySettings(port=0), clock=lambda: CLOCK, alerts=alerts)
    run_gateway(p, gw, main)


def frame_for(row: str, vin: str) -> bytes:
    out = bytearray(tsv_frame(row))
    out[4:21] = vin.encode()
    out[-1] = bcc(out[2:-1])
    return bytes(out)


def logout_for(vin: str) -> bytes:
    return gb.encode(gb.VehicleLogout(gb.Header("2016", gb.Command.VEHICLE_LOGOUT, vin=vin), CLOCK, 1))


class Link:
    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w = r, w

    @classmethod
    async def open(cls, gw: Gb32960Gateway) -> Link:
        return cls(*await asyncio.open_connection("127.0.0.1", gw.port))

    async def send(self, frame: bytes) -> bytes:
        """Write a frame and read the reply (command, flag): ``b"\\x01\\x01"`` login OK..."""
        self.w.write(frame)
        head = await asyncio.wait_for(self.r.readexactly(24), 5)
        body = await asyncio.wait_for(self.r.readexactly(int.from_bytes(head[22:24], "big") + 1), 5)
        assert head[4:21] == frame[4:21] and (head + body)[-1] == bcc((head + body)[2:-1])
        return head[2:4]

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(OSError):
            await self.w.wait_closed()


def test_reports_and_logouts_without_a_login_on_that_connection_are_refused(platform: Platform) -> None:
    report = tsv_frame("GB-SS-01")

    async def main(gw: Gb32960Gateway) -> None:
        link = await Link.open(gw)
        assert await link.send(report) == b"\x02\x02"  # never logged in: the error reply, flag 0x02
        assert await link.send(logout_for(VICTIM)) == b"\x04\x02"  # nor may it log the victim out
        assert await link.send(frame_for("GB-SS-02", OTHER)) == b"\x01\x01"  # logged in as OTHER...
        link.w.write(frame_for("GB-SS-01", OTHER))  # its own report: stored, not answered (B.2.1)
        assert await link.send(report) == b"\x02\x02"  # ...it still cannot speak for VICTIM
        assert gw.counters()["frames_refused_not_logged_in"] == 3
        kinds = [(type(e), e.key) for e in stored(platform)]
        assert sorted(kinds, key=str) == sorted([(NevLogin, OTHER), (NevReport, OTHER)], key=str)
        assert not [e for e in stored(platform) if isinstance(e, NevLogout)]
        await link.close()

    run(platform, main)


def test_a_second_login_for_a_live_vin_raises_an_alert_and_the_vehicle_stays(platform: Platform) -> None:
    login, report = frame_for("GB-SS-02", VICTIM), tsv_frame("GB-SS-01")
    heartbeat = gb.encode(gb.Heartbeat(gb.Header("2016", gb.Command.HEARTBEAT, vin=VICTIM)))

    async def main(gw: Gb32960Gateway) -> None:
        vehicle = await Link.open(gw)
        assert await vehicle.send(login) == b"\x01\x01"
        impostor = await Link.open(gw)
        assert await impostor.send(login) == b"\x01\x03"  # 0x03: duplicate VIN
        assert await impostor.send(report) == b"\x02\x02"  # its data for the VIN is refused
        assert await vehicle.send(heartbeat) == b"\x07\x01"  # the real vehicle is still connected
        assert [e.key for e in stored(platform) if isinstance(e, NevReport)] == []
        assert gw.counters()["vins_login_refused"] == 1 and gw.counters()["vins_connected"] == 1
        await gw.alerts.drain()
        (alert,) = [
            a for a in platform.store.alerts(AlertQuery(scene="nev")) if a.rule == "gb32960.duplicate_login"
        ]
        assert alert.key == VICTIM and alert.data["live_peer"] != alert.data["new_peer"]
        assert alert.data["new_peer"].endswith(f":{impostor.w.get_extra_info('sockname')[1]}")
        # once the vehicle logs out, a new login for the VIN is accepted
        assert await vehicle.send(logout_for(VICTIM)) == b"\x04\x01"
        assert await impostor.send(login) == b"\x01\x01"
        await impostor.close()
        await vehicle.close()

    run(platform, main)

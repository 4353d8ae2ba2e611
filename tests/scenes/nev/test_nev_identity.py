"""GB/T 32960 device identity over real TCP with the real platform behind it (issue 10, item 4):
reports and logouts count only for a VIN logged in on that connection, and a second login for a
live VIN is refused with an alert while the real vehicle stays connected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.gateways.alerts import GatewayAlerts
from citybrain.protocols import gb32960 as gb
from citybrain.scenes.nev.events import NevLogin, NevLogout, NevReport
from citybrain.scenes.nev.gateway import Gb32960Gateway
from citybrain.scenes.nev.settings import GatewaySettings
from citybrain.testing import run_gateway
from tests.scenes.nev.nev_testkit import CLOCK, Link, frame_for, logout_for, nev_platform, stored, tsv_frame

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

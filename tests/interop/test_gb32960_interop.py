"""GB/T 32960 against a third-party implementation over a real socket: rtm-con (PyPI rtm_con 1.0.4)
plays the vehicle (tests/interop/peers/gb32960_vehicle.py) against the real NEV gateway with the
real platform behind it, in both editions, and parses every reply citybrain sends.

The second GB/T 32960 package in the peers' environment, ``gb32960`` 0.1.0 (matrixji/python-gb32960),
is not driven here: the release on PyPI holds only ``__version__`` (no encoder or decoder).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.platform import Platform
from citybrain.scenes.nev.events import NevLogin, NevLogout, NevReport
from citybrain.scenes.nev.gateway import Gb32960Gateway
from citybrain.scenes.nev.settings import GatewaySettings
from citybrain.testing import run_gateway
from tests.scenes.nev.nev_testkit import CLOCK, nev_platform, stored
from tests.support.peers import require_peers, run_peer

DATA_TIME = CLOCK - timedelta(seconds=30)  # the vehicle's clock, just behind the platform's
VIN = {"2016": "LRTMCON2016000001", "2025": "LRTMCON2025000001"}
#: step -> (command rtm-con reads back, response flag rtm-con reads back)
REPLIES = {
    "login": ("login", "ok"),
    "heartbeat": ("heartbeat", "ok"),
    "heartbeat_bad_bcc": ("heartbeat", "nok"),  # B.2.1: a frame failing its check gets 0x02
    "time_calibration": ("time_sync", "ok"),
    "logout": ("logout", "ok"),
}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    require_peers()
    p = nev_platform(tmp_path)
    yield p
    p.stop()


def drive(platform: Platform, edition: str, shape: str) -> tuple[list[dict[str, Any]], Gb32960Gateway]:
    cfg = GatewaySettings(port=0, reply_shape=shape)
    gw = Gb32960Gateway(platform.batcher.submit, cfg, clock=lambda: CLOCK)
    lines: list[dict[str, Any]] = []

    async def main(g: Gb32960Gateway) -> None:
        lines.extend(
            await run_peer("gb32960_vehicle", "127.0.0.1", str(g.port), edition, VIN[edition],
                           DATA_TIME.isoformat(), timeout=8)
        )  # fmt: skip

    run_gateway(platform, gw, main, timeout=9)
    return lines, gw


@pytest.mark.parametrize("shape", ["echo", "time_only"])
@pytest.mark.parametrize("edition", ["2016", "2025"])
def test_rtm_con_vehicle_is_answered_and_stored(platform: Platform, edition: str, shape: str) -> None:
    lines, gw = drive(platform, edition, shape)
    by_step = {line["step"]: line for line in lines}
    assert list(by_step) == ["login", "realtime", *list(REPLIES)[1:]]

    # every frame that is due one is answered, and rtm-con parses the reply (BCC verified)
    assert by_step["realtime"]["reply"] is None  # B.2.1: no reply; the next frame read was the heartbeat's
    for step, (command, flag) in REPLIES.items():
        got = by_step[step]["rtm_con"]
        assert (got["starter"], got["msg_type"], got["ack"]) == (f"protocol_{edition}", command, flag), step
        assert got["vin"] == VIN[edition] and got["enc"] == "uncrypted"
        assert got["timestamp"] == CLOCK.isoformat(), step  # the platform's time, the 6 bytes rtm-con reads

    # what citybrain stored is what rtm-con sent
    # (a login or logout is acknowledged once durable, so all three are stored; same time, any order)
    events = {type(e): e for e in stored(platform) if e.key == VIN[edition]}
    assert len(stored(platform)) == 3 and set(events) == {NevLogin, NevReport, NevLogout}
    login, report, logout = events[NevLogin], events[NevReport], events[NevLogout]
    assert isinstance(login, NevLogin) and isinstance(report, NevReport) and isinstance(logout, NevLogout)
    data_ms = int(DATA_TIME.timestamp() * 1000)
    assert login.ts == report.ts == logout.ts == data_ms
    assert (login.edition, login.serial, login.iccid, login.packs) == (edition, 1, "89860012345678901234", 1)
    assert (logout.edition, logout.serial) == (edition, 1)
    sent = by_step["realtime"]["values"]
    assert report.edition == edition and not report.reissue
    for field in ("vehicle_state", "charging_state", "running_mode", "alarm_level", "gear", "fix_valid"):
        assert getattr(report, field) == sent[field], field
    numbers = ("speed_kmh", "odometer_km", "total_voltage_v", "total_current_a", "soc_pct", "insulation_kohm",
               "lon", "lat", "max_cell_v", "min_cell_v", "max_temp_c", "min_temp_c")  # fmt: skip
    for field in numbers:
        if field in sent:  # the 2025 frame has no extremes block
            assert getattr(report, field) == pytest.approx(sent[field], abs=1e-6), field
    assert report.max_motor_temp_c == sent["motor_temp_c"]
    assert report.alarms == ["soc_low"]
    if edition == "2025":
        assert report.coordinate_system == 1 and report.max_cell_v is None  # no extremes block in 2025
    # the broken frame was counted and dropped, the connection lived on
    assert gw.stats.bad_frames == 1
    assert gw.counters()["frames_heartbeat"] == 1 and gw.counters()["frames_timecalibration"] == 1

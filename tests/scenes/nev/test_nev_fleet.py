"""Fleet state, vehicle alarms and history metrics on crafted event sequences (no server)."""

from __future__ import annotations

from typing import Any

from citybrain.core.outputs import Outputs
from citybrain.core.processor import AlertBook, Emitter
from citybrain.scenes.nev.events import NevLogin, NevLogout
from citybrain.scenes.nev.processors import FleetEvent, FleetProcessor, mode_of
from citybrain.scenes.nev.settings import NevSettings, VehicleInfo
from tests.scenes.nev.nev_testkit import T0, report

VIN = "LCBEV1A0100000001"


class Run:
    def __init__(self, cfg: NevSettings | None = None) -> None:
        self.proc = FleetProcessor(0, cfg or NevSettings())
        self.book = AlertBook()

    def feed(self, *events: FleetEvent) -> Outputs:
        out = Outputs()
        self.proc.process(list(enumerate(events)), Emitter("nev.fleet", 0, self.book, out))
        return out

    def tick(self, now: int) -> Outputs:
        out = Outputs()
        self.proc.tick(now, Emitter("nev.fleet", 0, self.book, out))
        return out

    def state(self, vin: str = VIN) -> dict[str, Any]:
        v = self.proc.state.vehicles[vin]
        return {f: getattr(v, f) for f in v.__struct_fields__}


def test_login_reports_and_logout_drive_the_live_state() -> None:
    run = Run()
    out = run.feed(NevLogin(key=VIN, ts=T0, edition="2016", serial=1, ingest_ts=T0))
    assert run.state()["online"] and out.states[0].data["online"]
    out = run.feed(report(VIN, T0 + 10_000, speed_kmh=52.5, soc_pct=71.0, odometer_km=12_345.6))
    s = run.state()
    assert (s["mode"], s["speed_kmh"], s["soc_pct"], s["odometer_km"]) == ("driving", 52.5, 71.0, 12_345.6)
    assert (s["lon"], s["lat"], s["region"], s["model"]) == (115.9, 28.68, "360100", "LCBEV1")
    data = out.states[-1].data
    assert data["model_name"]["zh-CN"] == "城市轿车 E1" and data["region_name"]["en"] == "Nanchang"
    run.feed(NevLogout(key=VIN, ts=T0 + 20_000, edition="2016", serial=1, ingest_ts=T0 + 20_000))
    assert not run.state()["online"]


def test_modes() -> None:
    run = Run()
    run.feed(report(VIN, T0, charging_state=1, vehicle_state=2, speed_kmh=0.0))
    assert run.state()["mode"] == "charging"
    run.feed(report(VIN, T0 + 10_000, charging_state=4, vehicle_state=2, speed_kmh=0.0))
    assert run.state()["mode"] == "parked"
    run.feed(report(VIN, T0 + 20_000, charging_state=2, vehicle_state=1))
    assert run.state()["mode"] == "driving"
    assert mode_of(run.proc.state.vehicles[VIN].__class__(vin="x")) == "unknown"


def test_reissue_goes_to_history_but_never_overwrites_the_live_state() -> None:
    run = Run()
    run.feed(report(VIN, T0, soc_pct=50.0))
    out = run.feed(report(VIN, T0 + 5_000, soc_pct=90.0, reissue=True, alarm_level=3, alarms=["insulation"]))
    s = run.state()
    assert s["soc_pct"] == 50.0 and s["alarm_level"] == 0 and s["reissues"] == 1 and s["ts"] == T0
    assert ("nev.soc", T0 + 5_000, 90.0) in [(m.name, m.ts, m.value) for m in out.metrics]
    assert not out.alerts  # a back-dated level-3 alarm is history, not a live alert
    # a live report older than the latest one (reordered) is history too
    run.feed(report(VIN, T0 + 20_000, soc_pct=49.0))
    run.feed(report(VIN, T0 + 15_000, soc_pct=10.0))
    assert run.state()["soc_pct"] == 49.0


def test_absent_blocks_keep_values_and_sentinels_clear_them() -> None:
    run = Run()
    run.feed(report(VIN, T0, soc_pct=64.0, max_temp_c=31.0))
    run.feed(report(VIN, T0 + 10_000, soc_pct=None, max_temp_c=None, invalid={"soc_pct": "invalid"}))
    s = run.state()
    assert s["soc_pct"] is None and s["max_temp_c"] == 31.0  # SOC said invalid; temperature not sent
    run.feed(report(VIN, T0 + 20_000, lon=116.5, lat=28.7, fix_valid=False))
    s = run.state()
    assert (s["lon"], s["fix_valid"]) == (116.5, False)


def test_history_metrics_skip_invalid_fixes_and_honour_the_interval() -> None:
    run = Run(NevSettings(history_min_interval_ms=30_000))
    out = run.feed(report(VIN, T0), report(VIN, T0 + 10_000), report(VIN, T0 + 30_000, fix_valid=False))
    times = sorted({m.ts for m in out.metrics})
    assert times == [T0, T0 + 30_000]
    assert not [m for m in out.metrics if m.ts == T0 + 30_000 and m.name in ("nev.lon", "nev.lat")]


def test_offline_after_the_timeout_on_receive_time() -> None:
    run = Run(NevSettings(offline_after_ms=90_000))
    # the vehicle clock is an hour behind; what counts is when the platform received the frame
    run.feed(report(VIN, T0 - 3_600_000, ingest_ts=T0))
    assert not run.tick(T0 + 60_000).states
    out = run.tick(T0 + 91_000)
    assert not run.state()["online"] and out.states[0].data["online"] is False
    assert not run.tick(T0 + 200_000).states  # reported once


def test_vehicle_alarm_levels_become_alerts_with_words_and_resolve_after_clear_time() -> None:
    run = Run()
    run.feed(report(VIN, T0))
    out = run.feed(report(VIN, T0 + 10_000, alarm_level=2, alarm_flags=0b11, ress_faults=[0x101],
                          alarms=["temperature_difference", "battery_high_temperature"]))  # fmt: skip
    (op,) = out.alerts
    a = op.alert
    assert op.op == "open" and a.rule == "nev.vehicle_alarm" and a.severity == "major" and a.key == VIN
    assert "温度差异报警" in a.message and "battery high temperature" in a.message
    assert a.data["words"]["zh-CN"] == ["温度差异报警", "电池高温报警"] and a.data["faults"]["ress"] == [
        0x101
    ]
    assert run.state()["alarm_level"] == 2 and run.state()["alarm_since"] == T0 + 10_000
    out = run.feed(report(VIN, T0 + 20_000, alarm_level=3, alarms=["insulation"]))
    assert [(o.op, o.alert.severity) for o in out.alerts] == [("update", "critical")]
    assert not run.feed(report(VIN, T0 + 30_000, alarm_level=0)).alerts  # one clean frame: held
    out = run.feed(report(VIN, T0 + 50_000, alarm_level=0))
    assert [o.op for o in out.alerts] == ["resolve"]
    assert run.state()["alarm_level"] == 0 and run.state()["alarm_since"] is None


def test_models_and_regions_from_settings() -> None:
    cfg = NevSettings(vehicles={VIN: VehicleInfo(model="fleet-x", region="360102")})
    run = Run(cfg)
    run.feed(report(VIN, T0), report("ZZZ00000000000001", T0, lon=121.47, lat=31.23))
    assert (run.state()["model"], run.state()["region"]) == ("fleet-x", "360102")
    other = run.state("ZZZ00000000000001")
    assert (other["model"], other["region"]) == ("ZZZ", "other")  # maker code; outside every box

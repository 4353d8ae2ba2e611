"""Platform-side early-warning rules on crafted report sequences, each at and around its threshold."""

from __future__ import annotations

from typing import Any

from citybrain.core.outputs import AlertOp, Outputs
from citybrain.core.processor import AlertBook, Emitter
from citybrain.scenes.nev.events import NevReport
from citybrain.scenes.nev.settings import NevSettings, WarningSettings
from citybrain.scenes.nev.warnings import EarlyWarnings
from tests.scenes.nev.nev_testkit import T0, report

VIN = "LCBEV2B0100000002"


class Run:
    def __init__(self, **cfg: float) -> None:
        self.proc = EarlyWarnings(0, NevSettings(warnings=WarningSettings(**cfg)))  # type: ignore[arg-type]
        self.book = AlertBook()

    def feed(self, *events: NevReport) -> list[AlertOp]:
        out = Outputs()
        self.proc.process(list(enumerate(events)), Emitter("nev.warnings", 0, self.book, out))
        return out.alerts

    def every(self, start: int, step: int, **series: list[float]) -> list[AlertOp]:
        """One report per step with the given values in turn."""
        n = len(next(iter(series.values())))
        ops: list[AlertOp] = []
        for i in range(n):
            values: dict[str, Any] = {k: v[i] for k, v in series.items()}
            ops += self.feed(report(VIN, start + i * step, **values))
        return ops


def opened(ops: list[AlertOp], rule: str) -> list[AlertOp]:
    return [o for o in ops if o.op == "open" and o.alert.rule == rule]


def test_rapid_temperature_rise_within_the_window() -> None:
    run = Run()
    ops = run.every(T0, 10_000, max_temp_c=[30, 31, 32, 33, 34, 35])  # +5 °C in 50 s
    (op,) = opened(ops, "nev.temp_rise")
    assert op.alert.severity == "major" and op.alert.data["rise_c"] == 5.0
    assert "上升" in op.alert.message and "hottest probe" in op.alert.message
    ops = run.every(T0 + 60_000, 10_000, max_temp_c=[38, 41, 44])
    assert [o.alert.severity for o in ops if o.alert.rule == "nev.temp_rise"][-1] == "critical"


def test_slow_warming_is_not_a_rapid_rise() -> None:
    run = Run()
    ops = run.every(T0, 20_000, max_temp_c=[30 + i * 1.5 for i in range(12)])  # 4.5 °C a minute
    assert not opened(ops, "nev.temp_rise")


def test_temperature_rise_threshold_is_configurable() -> None:
    run = Run(temp_rise_c=3.0)
    assert opened(run.every(T0, 10_000, max_temp_c=[30, 31, 33]), "nev.temp_rise")


def test_cell_temperature_spread_needs_two_reports_and_clears() -> None:
    run = Run()
    assert not run.feed(report(VIN, T0, max_temp_c=45.0, min_temp_c=28.0))  # 17 °C once: held
    (op,) = opened(run.feed(report(VIN, T0 + 10_000, max_temp_c=46.0, min_temp_c=28.0)), "nev.temp_spread")
    assert op.alert.severity == "warning" and op.alert.data["spread_c"] == 18.0
    ops = run.feed(report(VIN, T0 + 20_000, max_temp_c=55.0, min_temp_c=28.0))
    assert [o.alert.severity for o in ops if o.alert.rule == "nev.temp_spread"] == ["major"]
    ops = run.every(T0 + 30_000, 10_000, max_temp_c=[31.0] * 8, min_temp_c=[28.0] * 8)
    assert [o.op for o in ops if o.alert.rule == "nev.temp_spread"] == ["resolve"]


def test_temperature_spread_just_below_threshold_is_quiet() -> None:
    run = Run()
    assert not run.every(T0, 10_000, max_temp_c=[42.9] * 5, min_temp_c=[28.0] * 5)


def test_cell_voltage_spread_must_hold() -> None:
    run = Run()
    # a 0.35 V spread for one report is a load step, not a weak cell
    ops = run.every(T0, 10_000, max_cell_v=[3.65, 3.65, 3.65], min_cell_v=[3.30, 3.64, 3.64])
    assert not opened(ops, "nev.voltage_spread")
    ops = run.every(T0 + 30_000, 10_000, max_cell_v=[3.65] * 3, min_cell_v=[3.35] * 3)  # exactly 0.30 V
    (op,) = opened(ops, "nev.voltage_spread")
    assert op.alert.last_ts == T0 + 50_000 and op.alert.data["spread_v"] == 0.3
    ops = run.every(T0 + 60_000, 10_000, max_cell_v=[3.65], min_cell_v=[3.10])
    assert [o.alert.severity for o in ops] == ["major"]


def test_low_insulation_per_volt() -> None:
    run = Run()
    # 350 V pack: 500 Ω/V = 175 kΩ; 100 Ω/V = 35 kΩ
    assert not run.every(T0, 10_000, insulation_kohm=[176.0] * 4)
    ops = run.every(T0 + 40_000, 10_000, insulation_kohm=[170.0] * 3)
    (op,) = opened(ops, "nev.low_insulation")
    assert op.alert.severity == "warning" and round(op.alert.data["ohm_per_v"]) == 486
    ops = run.every(T0 + 70_000, 10_000, insulation_kohm=[30.0])
    assert [o.alert.severity for o in ops] == ["critical"]


def test_insulation_is_not_judged_with_high_voltage_off() -> None:
    run = Run()
    assert not run.every(T0, 10_000, insulation_kohm=[0.0] * 4, total_voltage_v=[0.0] * 4)


def test_soc_jump_between_close_reports_only() -> None:
    run = Run()
    (op,) = opened(run.every(T0, 10_000, soc_pct=[60.0, 59.0, 47.0]), "nev.soc_jump")
    assert op.alert.data["jump"] == -12.0 and "SOC" in op.alert.message
    run2 = Run()
    # the same drop across a 10-minute gap is a drive, not a jump
    assert not run2.every(T0, 600_000, soc_pct=[60.0, 47.0])
    run3 = Run()
    assert not run3.every(T0, 10_000, soc_pct=[60.0, 50.1])


def test_reissued_and_reordered_reports_raise_nothing() -> None:
    run = Run()
    run.feed(report(VIN, T0 + 100_000, max_temp_c=30.0, soc_pct=60.0))
    assert not run.feed(
        report(VIN, T0 + 110_000, max_temp_c=80.0, min_temp_c=20.0, soc_pct=5.0, reissue=True)
    )
    assert not run.feed(report(VIN, T0 + 50_000, max_temp_c=80.0, min_temp_c=20.0, soc_pct=5.0))
    assert run.proc.state.tracks[VIN].soc == 60.0

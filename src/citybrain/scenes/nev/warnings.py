"""Platform-side early warning: rules on the live data that fire before the vehicle's own alarm.

Each rule (:mod:`citybrain.scenes.nev.rules`) is judged here on one report and the few values kept
per VIN. Thresholds come from ``[scenes.nev.warnings]``; the reasons are in each rule's ``doc`` and
in docs/scenes/nev.md. Reissued (back-dated) reports and live reports older than the last one seen
are ignored: a warning is about now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.nev.events import NevReport
from citybrain.scenes.nev.rules import TEMP_RISE, TEMP_SPREAD, configured_rules
from citybrain.scenes.nev.settings import NevSettings


class Track(msgspec.Struct, array_like=True):
    ts: int = 0
    temps: list[tuple[int, float]] = msgspec.field(default_factory=list)  # (ts, hottest probe)
    soc: float | None = None
    soc_ts: int = 0


class WarningState(msgspec.Struct):
    tracks: dict[str, Track] = msgspec.field(default_factory=dict)


class EarlyWarnings(sdk.Processor[WarningState, NevReport]):
    name = "nev.warnings"
    kinds = (NevReport,)
    state_type = WarningState
    config: NevSettings

    def __init__(self, partition: int, settings: NevSettings) -> None:
        super().__init__(partition, settings)
        self.cfg = settings.warnings
        _, _, self.voltage_rule, self.insulation_rule, self.soc_rule = configured_rules(self.cfg)

    def process(self, batch: Sequence[tuple[int, NevReport]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            if ev.reissue:
                continue
            tr = self.state.tracks.get(ev.key)
            if tr is None:
                tr = self.state.tracks[ev.key] = Track()
            elif ev.ts <= tr.ts:
                continue  # reordered or repeated: not "now"
            tr.ts = ev.ts
            self._temperature(ev, tr, out)
            self._voltage(ev, out)
            self._insulation(ev, out)
            self._soc(ev, tr, out)

    def _temperature(self, ev: NevReport, tr: Track, out: sdk.Emitter) -> None:
        c, vin = self.cfg, ev.key
        hot, cold = ev.max_temp_c, ev.min_temp_c
        if hot is not None:
            tr.temps = [(t, v) for t, v in tr.temps if ev.ts - t <= c.temp_rise_window_ms]
            rise = hot - min((v for _, v in tr.temps), default=hot)
            tr.temps.append((ev.ts, hot))
            win = f"{c.temp_rise_window_ms / 1000:g}s"
            _signal(out, TEMP_RISE, vin, ev.ts, rise >= c.temp_rise_c, lambda: {
                "severity": "critical" if rise >= c.temp_rise_critical_c else "major",
                "message": f"{vin} 最高温度 {win} 内上升 {rise:.1f}°C (至 {hot:.0f}°C) · "
                f"hottest probe up {rise:.1f} °C in {win}",
                "data": {"vin": vin, "rise_c": rise, "max_temp_c": hot, "threshold_c": c.temp_rise_c},
            })  # fmt: skip
        if hot is not None and cold is not None:
            spread = hot - cold
            _signal(out, TEMP_SPREAD, vin, ev.ts, spread >= c.temp_spread_c, lambda: {
                "severity": "major" if spread >= c.temp_spread_major_c else "warning",
                "message": f"{vin} 温差 {spread:.0f}°C ({cold:.0f}~{hot:.0f}°C) · "
                f"temperature spread {spread:.0f} °C",
                "data": {"vin": vin, "spread_c": spread, "max_temp_c": hot, "min_temp_c": cold,
                         "threshold_c": c.temp_spread_c},
            })  # fmt: skip

    def _voltage(self, ev: NevReport, out: sdk.Emitter) -> None:
        c, vin, hi, lo = self.cfg, ev.key, ev.max_cell_v, ev.min_cell_v
        if hi is None or lo is None:
            return
        spread = round(hi - lo, 4)  # cell voltages are in mV steps: no float dust at the threshold
        _signal(out, self.voltage_rule, vin, ev.ts, spread >= c.voltage_spread_v, lambda: {
            "severity": "major" if spread >= c.voltage_spread_major_v else "warning",
            "message": f"{vin} 单体压差 {spread * 1000:.0f} mV ({lo:.3f}~{hi:.3f} V) · "
            f"cell voltage spread {spread * 1000:.0f} mV",
            "data": {"vin": vin, "spread_v": spread, "max_cell_v": hi, "min_cell_v": lo,
                     "threshold_v": c.voltage_spread_v},
        })  # fmt: skip

    def _insulation(self, ev: NevReport, out: sdk.Emitter) -> None:
        c, vin, kohm, volts = self.cfg, ev.key, ev.insulation_kohm, ev.total_voltage_v
        if kohm is None or volts is None or volts <= 10.0:
            return
        ohm_per_v = kohm * 1000.0 / volts
        _signal(out, self.insulation_rule, vin, ev.ts, ohm_per_v < c.insulation_warn_ohm_per_v, lambda: {
            "severity": "critical" if ohm_per_v < c.insulation_major_ohm_per_v else "warning",
            "message": f"{vin} 绝缘电阻 {kohm:.0f} kΩ ({ohm_per_v:.0f} Ω/V) · "
            f"insulation {ohm_per_v:.0f} ohm/V",
            "data": {"vin": vin, "insulation_kohm": kohm, "voltage_v": volts, "ohm_per_v": ohm_per_v,
                     "threshold_ohm_per_v": c.insulation_warn_ohm_per_v},
        })  # fmt: skip

    def _soc(self, ev: NevReport, tr: Track, out: sdk.Emitter) -> None:
        c, vin, soc = self.cfg, ev.key, ev.soc_pct
        if soc is None:
            return
        prev, prev_ts = tr.soc, tr.soc_ts
        tr.soc, tr.soc_ts = soc, ev.ts
        jump = 0.0 if prev is None or ev.ts - prev_ts > c.soc_jump_max_gap_ms else soc - prev
        _signal(out, self.soc_rule, vin, ev.ts, abs(jump) >= c.soc_jump_pct, lambda: {
            "message": f"{vin} SOC {prev:.0f}% → {soc:.0f}% ({jump:+.0f}) · SOC jumped {jump:+.0f} points",
            "data": {"vin": vin, "soc_from": prev, "soc_to": soc, "jump": jump, "threshold": c.soc_jump_pct},
        })  # fmt: skip


def _signal(
    out: sdk.Emitter,
    rule: sdk.AlertRule,
    vin: str,
    ts: int,
    active: bool,
    details: Callable[[], dict[str, Any]],
) -> None:
    """Build the message only when the rule holds: most reports are healthy, and this runs for each."""
    if active:
        out.signal(rule, vin, ts, True, **details())
    else:
        out.signal(rule, vin, ts, False)

"""Platform-side early warning: rules on the live data that fire before the vehicle's own alarm.

Each rule is an :class:`AlertRule` (hysteresis by ``for_ms``/``clear_ms``) plus a test on one
report and the few values kept per VIN. Thresholds come from :class:`WarningConfig`; the reasons
are in each rule's ``doc`` and in docs/scenes/nev.md. Reissued (back-dated) reports and live
reports older than the last one seen are ignored: a warning is about now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import msgspec

from citybrain.core.events import Event
from citybrain.core.processor import AlertRule, Emitter, Processor
from citybrain.scenes.nev.config import WarningConfig
from citybrain.scenes.nev.events import NevReport

TEMP_RISE = AlertRule(
    name="nev.temp_rise", scene="nev", title="温升过快预警 / Rapid temperature rise", severity="major",
    clear_ms=120_000,
    doc="The hottest probe rose by temp_rise_c (5 °C; critical at 10 °C) within temp_rise_window_ms "
    "(60 s). Normal driving or fast charging warms a pack by a degree or two a minute; several "
    "degrees in a minute points at an internal short or a cooling failure, the run-up to thermal "
    "runaway, minutes before the vehicle's own high-temperature alarm.",
)  # fmt: skip
TEMP_SPREAD = AlertRule(
    name="nev.temp_spread", scene="nev", title="电池温差过大预警 / Cell temperature spread",
    severity="warning", for_ms=10_000, clear_ms=60_000,
    doc="Hottest minus coolest probe is at least temp_spread_c (15 °C; major at 25 °C) on two "
    "consecutive reports. Thermal management keeps a healthy pack within a few degrees; a wide "
    "spread means a local hot spot or a failed cooling loop, and it ages cells unevenly.",
)  # fmt: skip
VOLTAGE_SPREAD = AlertRule(
    name="nev.voltage_spread", scene="nev", title="单体压差过大预警 / Cell voltage spread",
    severity="warning", clear_ms=60_000,
    doc="Highest minus lowest cell voltage is at least voltage_spread_v (0.3 V; major at 0.5 V) for "
    "voltage_spread_for_ms (20 s). Balanced packs stay within a few tens of millivolts; a lasting "
    "spread of hundreds means a weak or self-discharging cell (micro-short), a known precursor "
    "of thermal events. The hold time skips the short spread of a load step.",
)  # fmt: skip
LOW_INSULATION = AlertRule(
    name="nev.low_insulation", scene="nev", title="绝缘电阻偏低预警 / Low insulation resistance",
    severity="warning", clear_ms=60_000,
    doc="Insulation resistance per volt of pack voltage is below insulation_warn_ohm_per_v (500 Ω/V, "
    "the GB 18384 figure for AC circuits) for insulation_for_ms (20 s); critical below "
    "insulation_major_ohm_per_v (100 Ω/V, the minimum for DC circuits: a shock hazard). Judged "
    "only while the pack voltage is above 10 V, since with high voltage off the ratio is meaningless.",
)  # fmt: skip
SOC_JUMP = AlertRule(
    name="nev.soc_jump", scene="nev", title="SOC跳变预警 / SOC jump", severity="warning", clear_ms=300_000,
    doc="SOC changed by soc_jump_pct (10 points) or more between two live reports at most "
    "soc_jump_max_gap_ms (60 s) apart. Even fast DC charging moves SOC by about 2-3 points a "
    "minute, so a jump means a BMS estimation fault, a sensor fault or a sudden capacity loss. "
    "It stays open for soc_jump_clear_ms (5 min) so an operator sees it.",
)  # fmt: skip

WARNING_RULES = [TEMP_RISE, TEMP_SPREAD, VOLTAGE_SPREAD, LOW_INSULATION, SOC_JUMP]


def configured_rules(c: WarningConfig) -> list[AlertRule]:
    """The rules with the hold and clear times of this configuration."""
    return [
        TEMP_RISE,
        TEMP_SPREAD,
        replace(VOLTAGE_SPREAD, for_ms=c.voltage_spread_for_ms),
        replace(LOW_INSULATION, for_ms=c.insulation_for_ms),
        replace(SOC_JUMP, clear_ms=c.soc_jump_clear_ms),
    ]


class Track(msgspec.Struct, array_like=True):
    ts: int = 0
    temps: list[tuple[int, float]] = msgspec.field(default_factory=list)  # (ts, hottest probe)
    soc: float | None = None
    soc_ts: int = 0


class WarningState(msgspec.Struct):
    tracks: dict[str, Track] = msgspec.field(default_factory=dict)


class EarlyWarnings(Processor[WarningState]):
    name = "nev.warnings"
    kinds = (NevReport,)
    state_type = WarningState

    def __init__(self, partition: int, config: WarningConfig) -> None:
        super().__init__(partition, config)
        self.cfg = config
        _, _, self.voltage_rule, self.insulation_rule, self.soc_rule = configured_rules(config)

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        for _, ev in batch:
            if not isinstance(ev, NevReport) or ev.reissue:
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

    def _temperature(self, ev: NevReport, tr: Track, out: Emitter) -> None:
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

    def _voltage(self, ev: NevReport, out: Emitter) -> None:
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

    def _insulation(self, ev: NevReport, out: Emitter) -> None:
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

    def _soc(self, ev: NevReport, tr: Track, out: Emitter) -> None:
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
    out: Emitter, rule: AlertRule, vin: str, ts: int, active: bool, details: Callable[[], dict[str, Any]]
) -> None:
    """Build the message only when the rule holds: most reports are healthy, and this runs for each."""
    if active:
        out.signal(rule, vin, ts, True, **details())
    else:
        out.signal(rule, vin, ts, False)

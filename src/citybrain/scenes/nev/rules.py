"""NEV alert rules: the vehicle's own alarm and the platform's early warnings (docs/scenes/nev.md).

Each early warning is a rule (hysteresis by ``for_``/``clear``) plus a test in
:mod:`citybrain.scenes.nev.warnings`; the hold and clear times some of them take from the settings
are applied by :func:`configured_rules`.
"""

from __future__ import annotations

from dataclasses import replace

from citybrain import sdk
from citybrain.scenes.nev.settings import WarningSettings

VEHICLE_ALARM = sdk.rule(
    "nev", "vehicle_alarm", "车辆故障报警 / Vehicle alarm", clear="20s",
    doc="The vehicle reports alarm level 1-3 (level 1 -> warning, 2 -> major, 3 -> critical) with "
    "its general alarm flags and fault codes. Raised on the first live report; resolved once the "
    "vehicle has reported level 0 for 20 s (two normal reports), so one clean frame in a fault "
    "does not flap it.",
)  # fmt: skip
TEMP_RISE = sdk.rule(
    "nev", "temp_rise", "温升过快预警 / Rapid temperature rise", severity="major", clear="120s",
    doc="The hottest probe rose by temp_rise_c (5 °C; critical at 10 °C) within temp_rise_window_ms "
    "(60 s). Normal driving or fast charging warms a pack by a degree or two a minute; several "
    "degrees in a minute points at an internal short or a cooling failure, the run-up to thermal "
    "runaway, minutes before the vehicle's own high-temperature alarm.",
)  # fmt: skip
TEMP_SPREAD = sdk.rule(
    "nev", "temp_spread", "电池温差过大预警 / Cell temperature spread", for_="10s", clear="60s",
    doc="Hottest minus coolest probe is at least temp_spread_c (15 °C; major at 25 °C) on two "
    "consecutive reports. Thermal management keeps a healthy pack within a few degrees; a wide "
    "spread means a local hot spot or a failed cooling loop, and it ages cells unevenly.",
)  # fmt: skip
VOLTAGE_SPREAD = sdk.rule(
    "nev", "voltage_spread", "单体压差过大预警 / Cell voltage spread", clear="60s",
    doc="Highest minus lowest cell voltage is at least voltage_spread_v (0.3 V; major at 0.5 V) for "
    "voltage_spread_for_ms (20 s). Balanced packs stay within a few tens of millivolts; a lasting "
    "spread of hundreds means a weak or self-discharging cell (micro-short), a known precursor "
    "of thermal events. The hold time skips the short spread of a load step.",
)  # fmt: skip
LOW_INSULATION = sdk.rule(
    "nev", "low_insulation", "绝缘电阻偏低预警 / Low insulation resistance", clear="60s",
    doc="Insulation resistance per volt of pack voltage is below insulation_warn_ohm_per_v (500 Ω/V, "
    "the GB 18384 figure for AC circuits) for insulation_for_ms (20 s); critical below "
    "insulation_major_ohm_per_v (100 Ω/V, the minimum for DC circuits: a shock hazard). Judged "
    "only while the pack voltage is above 10 V, since with high voltage off the ratio is meaningless.",
)  # fmt: skip
SOC_JUMP = sdk.rule(
    "nev", "soc_jump", "SOC跳变预警 / SOC jump", clear="300s",
    doc="SOC changed by soc_jump_pct (10 points) or more between two live reports at most "
    "soc_jump_max_gap_ms (60 s) apart. Even fast DC charging moves SOC by about 2-3 points a "
    "minute, so a jump means a BMS estimation fault, a sensor fault or a sudden capacity loss. "
    "It stays open for soc_jump_clear_ms (5 min) so an operator sees it.",
)  # fmt: skip

WARNING_RULES = (TEMP_RISE, TEMP_SPREAD, VOLTAGE_SPREAD, LOW_INSULATION, SOC_JUMP)
ALL = (VEHICLE_ALARM, *WARNING_RULES)


def configured_rules(c: WarningSettings) -> list[sdk.AlertRule]:
    """The early-warning rules with the hold and clear times of these settings."""
    return [
        TEMP_RISE,
        TEMP_SPREAD,
        replace(VOLTAGE_SPREAD, for_ms=c.voltage_spread_for_ms),
        replace(LOW_INSULATION, for_ms=c.insulation_for_ms),
        replace(SOC_JUMP, clear_ms=c.soc_jump_clear_ms),
    ]

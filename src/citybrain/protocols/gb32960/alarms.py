"""Alarm block: 2016 type 0x07 (Tables 17/18), 2025 type 0x06 (same start + level pairs).

The general alarm flags are a DWORD; bit 0 is the least significant bit of the big-endian value.
Fault-code counts 0xFE/0xFF carry no list (the list becomes None, the reason is in ``invalid``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._codec import Field, Reader, make, read_count, write_count
from .blocks_common import BlockCodec

ALARM_BITS_2016: dict[int, str] = {
    0: "temperature_difference",
    1: "battery_high_temperature",
    2: "storage_over_voltage",
    3: "storage_under_voltage",
    4: "soc_low",
    5: "cell_over_voltage",
    6: "cell_under_voltage",
    7: "soc_high",
    8: "soc_jump",
    9: "storage_mismatch",
    10: "cell_poor_consistency",
    11: "insulation",
    12: "dcdc_temperature",
    13: "brake_system",
    14: "dcdc_state",
    15: "motor_controller_temperature",
    16: "high_voltage_interlock",
    17: "motor_temperature",
    18: "storage_over_charge",
}
ALARM_BITS_2025: dict[int, str] = {
    **ALARM_BITS_2016,
    19: "motor_over_speed",
    20: "motor_over_current",
    21: "supercap_over_temperature",
    22: "supercap_over_voltage",
    23: "battery_thermal_event",
    24: "hydrogen_leak",
    25: "hydrogen_pressure_abnormal",
    26: "hydrogen_temperature_abnormal",
    27: "stack_over_temperature",
}

LEVEL = Field("max_level", 1)
FAULT_LISTS = ("ress_faults", "motor_faults", "engine_faults", "other_faults")


def flag_names(flags: int, table: dict[int, str]) -> list[str]:
    return [table.get(bit, f"reserved_bit_{bit}") for bit in range(32) if flags >> bit & 1]


@dataclass(slots=True)
class Alarm:
    """Highest level: 0 none, 1 no effect on driving, 2 limits performance, 3 stop at once."""

    NAME: ClassVar[str] = "alarm"
    max_level: int | None
    flags: int
    ress_faults: list[int] | None
    motor_faults: list[int] | None
    engine_faults: list[int] | None
    other_faults: list[int] | None
    invalid: dict[str, str] = field(default_factory=dict)

    @property
    def active_alarms(self) -> list[str]:
        return flag_names(self.flags, ALARM_BITS_2016)


@dataclass(slots=True)
class AlarmLevel:
    bit: int
    level: int


@dataclass(slots=True)
class Alarm2025:
    NAME: ClassVar[str] = "alarm"
    max_level: int | None
    flags: int
    ress_faults: list[int] | None
    motor_faults: list[int] | None
    engine_faults: list[int] | None
    other_faults: list[int] | None
    levels: list[AlarmLevel] | None  # (general alarm bit, its level) pairs
    invalid: dict[str, str] = field(default_factory=dict)

    @property
    def active_alarms(self) -> list[str]:
        return flag_names(self.flags, ALARM_BITS_2025)


def _read_common(r: Reader, invalid: dict[str, str]) -> list[Any]:
    level = LEVEL.decode(r.u8("max_level"), invalid)
    flags = r.u32("flags")
    out: list[Any] = [level, flags]
    for name in FAULT_LISTS:
        n = read_count(r, 1, name, invalid)
        if n is None:
            out.append(None)
            continue
        r.need(4 * n, name)
        out.append([r.u32(name) for _ in range(n)])
    return out


def _write_common(b: Alarm | Alarm2025, out: bytearray) -> None:
    out.append(LEVEL.encode(b.max_level, b.invalid))
    out += (b.flags & 0xFFFFFFFF).to_bytes(4, "big")
    for name in FAULT_LISTS:
        codes: list[int] | None = getattr(b, name)
        write_count(out, 1, codes, name, b.invalid)
        for c in codes or ():
            out += (c & 0xFFFFFFFF).to_bytes(4, "big")


def decode_alarm(r: Reader) -> Alarm:
    invalid: dict[str, str] = {}
    return make(Alarm, _read_common(r, invalid), invalid)


def decode_alarm_2025(r: Reader) -> Alarm2025:
    invalid: dict[str, str] = {}
    common = _read_common(r, invalid)
    n = read_count(r, 1, "levels", invalid)
    levels = None
    if n is not None:
        r.need(2 * n, "levels")
        levels = [AlarmLevel(r.u8("levels"), r.u8("levels")) for _ in range(n)]
    return make(Alarm2025, [*common, levels], invalid)


def encode_alarm(b: Alarm, out: bytearray) -> None:
    _write_common(b, out)


def encode_alarm_2025(b: Alarm2025, out: bytearray) -> None:
    _write_common(b, out)
    write_count(out, 1, b.levels, "levels", b.invalid)
    for lv in b.levels or ():
        out += bytes((lv.bit & 0xFF, lv.level & 0xFF))


ALARM_CODEC = BlockCodec(Alarm, decode_alarm, encode_alarm)
ALARM_2025_CODEC = BlockCodec(Alarm2025, decode_alarm_2025, encode_alarm_2025)

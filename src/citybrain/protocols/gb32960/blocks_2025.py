"""Real-time information blocks of GB/T 32960.3-2025.

We could not read the 2025 text; these layouts are the ones three implementations agree on
(rtm_con, EMQX gbt32960 gateway, sunsky74/gb32960). Type ids: 0x01 vehicle (18 B), 0x02 motors
(10 B each), 0x03 fuel-cell system (12 B), 0x04 engine (2 B), 0x05 location (+ coordinate system),
0x06 alarm (see :mod:`.alarms`), 0x07 cell voltages, 0x08 probe temperatures (shared codec),
0x30 fuel-cell stacks, 0x31 super-capacitor, 0x32 super-capacitor extremes, 0xFF signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ._codec import Field, Layout, Reader, make, read_count, read_values, write_count, write_values
from .blocks_2016 import LonLat, motors_codec
from .blocks_common import TEMP_C, BlockCodec, fixed_codec, gear_name

VEHICLE = Layout(
    Field("vehicle_state", 1),
    Field("charging_state", 1),
    Field("running_mode", 1),
    Field("speed_kmh", 2, div=10),
    Field("odometer_km", 4, div=10),
    Field("total_voltage_v", 2, div=10),
    Field("total_current_a", 2, div=10, offset=3000),  # 2025: offset 3000 A
    Field("soc_pct", 1),
    Field("dcdc_state", 1),
    Field("gear_raw", 1, sentinel=False),  # bit 7 set = gear position invalid
    Field("insulation_kohm", 2),  # 2025 gives insulation sentinels
)


@dataclass(slots=True)
class VehicleData2025:
    NAME: ClassVar[str] = "vehicle"
    vehicle_state: int | None
    charging_state: int | None
    running_mode: int | None
    speed_kmh: float | None
    odometer_km: float | None
    total_voltage_v: float | None
    total_current_a: float | None
    soc_pct: int | None
    dcdc_state: int | None
    gear_raw: int
    insulation_kohm: int | None
    invalid: dict[str, str] = field(default_factory=dict)

    @property
    def gear(self) -> str:
        return gear_name(self.gear_raw)

    @property
    def gear_valid(self) -> bool:
        return not self.gear_raw & 0x80

    @property
    def braking_force(self) -> bool:
        return bool(self.gear_raw & 0x10)

    @property
    def driving_force(self) -> bool:
        return bool(self.gear_raw & 0x20)


MOTOR = Layout(
    Field("number", 1),
    Field("state", 1),
    Field("controller_temp_c", 1, offset=40),
    Field("speed_rpm", 2, offset=32000),  # 2025: offset 32000 r/min
    Field("torque_nm", 4, div=10, offset=20000),  # 2025: DWORD, offset 20000 N·m
    Field("temp_c", 1, offset=40),
)


@dataclass(slots=True)
class DriveMotor2025:
    number: int | None
    state: int | None
    controller_temp_c: int | None
    speed_rpm: int | None
    torque_nm: float | None
    temp_c: int | None
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class DriveMotors2025:
    NAME: ClassVar[str] = "drive_motors"
    motors: list[DriveMotor2025] | None
    invalid: dict[str, str] = field(default_factory=dict)


FUEL_CELL = Layout(
    Field("h2_max_temp_c", 2, offset=40),
    Field("h2_max_temp_probe", 1),
    Field("h2_max_concentration_pct", 2, div=10000),
    Field("h2_max_concentration_sensor", 1),
    Field("h2_max_pressure_mpa", 2, div=10),
    Field("h2_max_pressure_sensor", 1),
    Field("dcdc_state", 1),
    Field("h2_remaining_pct", 1),
    Field("dcdc_controller_temp_c", 1, offset=40),
)


@dataclass(slots=True)
class FuelCell2025:
    NAME: ClassVar[str] = "fuel_cell"
    h2_max_temp_c: int | None
    h2_max_temp_probe: int | None
    h2_max_concentration_pct: float | None
    h2_max_concentration_sensor: int | None
    h2_max_pressure_mpa: float | None
    h2_max_pressure_sensor: int | None
    dcdc_state: int | None
    h2_remaining_pct: int | None
    dcdc_controller_temp_c: int | None
    invalid: dict[str, str] = field(default_factory=dict)


ENGINE = Layout(Field("crank_speed_rpm", 2))


@dataclass(slots=True)
class Engine2025:
    NAME: ClassVar[str] = "engine"
    crank_speed_rpm: int | None
    invalid: dict[str, str] = field(default_factory=dict)


LOCATION = Layout(
    Field("status", 1, sentinel=False),
    Field("coordinate_system", 1),  # 1 WGS-84, 2 GCJ-02, 3 other
    Field("longitude_abs_deg", 4, div=1_000_000),
    Field("latitude_abs_deg", 4, div=1_000_000),
)


@dataclass(slots=True)
class Location2025(LonLat):
    NAME: ClassVar[str] = "location"
    status: int
    coordinate_system: int | None
    longitude_abs_deg: float | None
    latitude_abs_deg: float | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x07 cell voltages: pack no, V, I, cell count WORD, cells (no split index in 2025) ----------

PACK_HEAD = Layout(
    Field("pack", 1),
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10, offset=3000),
)
CELL_V = Field("cell_voltages_v", 2, div=1000)


@dataclass(slots=True)
class PackVoltages:
    pack: int | None
    voltage_v: float | None
    current_a: float | None
    cell_voltages_v: list[float | None] | None
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CellVoltages2025:
    NAME: ClassVar[str] = "cell_voltages"
    packs: list[PackVoltages] | None
    invalid: dict[str, str] = field(default_factory=dict)


def decode_cell_voltages(r: Reader) -> CellVoltages2025:
    invalid: dict[str, str] = {}
    n = read_count(r, 1, "packs", invalid)
    packs = None
    if n is not None:
        packs = []
        for _ in range(n):
            inv: dict[str, str] = {}
            head = PACK_HEAD.read(r, inv)
            m = read_count(r, 2, "cell_voltages_v", inv)
            cells = None if m is None else read_values(r, m, CELL_V, inv)
            packs.append(make(PackVoltages, [*head, cells], inv))
    return CellVoltages2025(packs, invalid)


def encode_cell_voltages(b: CellVoltages2025, out: bytearray) -> None:
    write_count(out, 1, b.packs, "packs", b.invalid)
    for p in b.packs or ():
        PACK_HEAD.write(out, p)
        write_count(out, 2, p.cell_voltages_v, "cell_voltages_v", p.invalid)
        write_values(out, p.cell_voltages_v or [], CELL_V, p.invalid)


# ---- 0x30 fuel-cell stacks ------------------------------------------------------------------------

STACK_HEAD = Layout(
    Field("stack", 1),
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10),
    Field("h2_inlet_pressure_kpa", 2, div=10, offset=100),
    Field("air_inlet_pressure_kpa", 2, div=10, offset=100),
    Field("air_inlet_temp_c", 1, offset=40),
)
COOLANT_T = Field("coolant_temperatures_c", 1, offset=40)


@dataclass(slots=True)
class FuelCellStack:
    stack: int | None
    voltage_v: float | None
    current_a: float | None
    h2_inlet_pressure_kpa: float | None
    air_inlet_pressure_kpa: float | None
    air_inlet_temp_c: int | None
    coolant_temperatures_c: list[int | None] | None
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class FuelCellStacks:
    NAME: ClassVar[str] = "fuel_cell_stacks"
    stacks: list[FuelCellStack] | None
    invalid: dict[str, str] = field(default_factory=dict)


def decode_stacks(r: Reader) -> FuelCellStacks:
    invalid: dict[str, str] = {}
    n = read_count(r, 1, "stacks", invalid)
    stacks = None
    if n is not None:
        stacks = []
        for _ in range(n):
            inv: dict[str, str] = {}
            head = STACK_HEAD.read(r, inv)
            m = read_count(r, 2, "coolant_temperatures_c", inv)
            temps = None if m is None else read_values(r, m, COOLANT_T, inv)
            stacks.append(make(FuelCellStack, [*head, temps], inv))
    return FuelCellStacks(stacks, invalid)


def encode_stacks(b: FuelCellStacks, out: bytearray) -> None:
    write_count(out, 1, b.stacks, "stacks", b.invalid)
    for s in b.stacks or ():
        STACK_HEAD.write(out, s)
        write_count(out, 2, s.coolant_temperatures_c, "coolant_temperatures_c", s.invalid)
        write_values(out, s.coolant_temperatures_c or [], COOLANT_T, s.invalid)


# ---- 0x31 super-capacitor -------------------------------------------------------------------------

SUPERCAP_HEAD = Layout(
    Field("system", 1),
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10, offset=3000),
)
SUPERCAP_V = Field("cell_voltages_v", 2, div=1000)


@dataclass(slots=True)
class SuperCapacitor:
    NAME: ClassVar[str] = "supercapacitor"
    system: int | None
    voltage_v: float | None
    current_a: float | None
    cell_voltages_v: list[float | None] | None
    temperatures_c: list[int | None] | None
    invalid: dict[str, str] = field(default_factory=dict)


def decode_supercap(r: Reader) -> SuperCapacitor:
    inv: dict[str, str] = {}
    head = SUPERCAP_HEAD.read(r, inv)
    m = read_count(r, 2, "cell_voltages_v", inv)
    cells = None if m is None else read_values(r, m, SUPERCAP_V, inv)
    n = read_count(r, 2, "temperatures_c", inv)
    temps = None if n is None else read_values(r, n, TEMP_C, inv)
    return make(SuperCapacitor, [*head, cells, temps], inv)


def encode_supercap(b: SuperCapacitor, out: bytearray) -> None:
    SUPERCAP_HEAD.write(out, b)
    write_count(out, 2, b.cell_voltages_v, "cell_voltages_v", b.invalid)
    write_values(out, b.cell_voltages_v or [], SUPERCAP_V, b.invalid)
    write_count(out, 2, b.temperatures_c, "temperatures_c", b.invalid)
    write_values(out, b.temperatures_c or [], TEMP_C, b.invalid)


# ---- 0x32 super-capacitor extremes (cell/probe numbers are WORDs here) ------------------------------

SUPERCAP_EXTREMES = Layout(
    Field("max_voltage_system", 1),
    Field("max_voltage_cell", 2),
    Field("max_cell_voltage_v", 2, div=1000),
    Field("min_voltage_system", 1),
    Field("min_voltage_cell", 2),
    Field("min_cell_voltage_v", 2, div=1000),
    Field("max_temp_system", 1),
    Field("max_temp_probe", 2),
    Field("max_temp_c", 1, offset=40),
    Field("min_temp_system", 1),
    Field("min_temp_probe", 2),
    Field("min_temp_c", 1, offset=40),
)


@dataclass(slots=True)
class SuperCapacitorExtremes:
    NAME: ClassVar[str] = "supercapacitor_extremes"
    max_voltage_system: int | None
    max_voltage_cell: int | None
    max_cell_voltage_v: float | None
    min_voltage_system: int | None
    min_voltage_cell: int | None
    min_cell_voltage_v: float | None
    max_temp_system: int | None
    max_temp_probe: int | None
    max_temp_c: int | None
    min_temp_system: int | None
    min_temp_probe: int | None
    min_temp_c: int | None
    invalid: dict[str, str] = field(default_factory=dict)


VEHICLE_CODEC = fixed_codec(VehicleData2025, VEHICLE)
MOTORS_CODEC = motors_codec(DriveMotors2025, DriveMotor2025, MOTOR)
FUEL_CELL_CODEC = fixed_codec(FuelCell2025, FUEL_CELL)
ENGINE_CODEC = fixed_codec(Engine2025, ENGINE)
LOCATION_CODEC = fixed_codec(Location2025, LOCATION)
CELL_VOLTAGES_CODEC = BlockCodec(CellVoltages2025, decode_cell_voltages, encode_cell_voltages)
STACKS_CODEC = BlockCodec(FuelCellStacks, decode_stacks, encode_stacks)
SUPERCAP_CODEC = BlockCodec(SuperCapacitor, decode_supercap, encode_supercap)
SUPERCAP_EXTREMES_CODEC = fixed_codec(SuperCapacitorExtremes, SUPERCAP_EXTREMES)

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

from . import blocks_2016 as b16
from ._codec import Field, Layout, ListOf, Record
from .blocks_common import TEMP_C, GearByte, extremes_layout, fixed_codec, list_codec, record_codec

# 2025 edition of the 2016 tables: what changed is data, the reader/writer is the same.
VEHICLE = b16.VEHICLE.derive(
    total_current_a={"offset": 3000},  # 2025: offset 3000 A
    insulation_kohm={"sentinel": True},  # 2025 gives insulation sentinels
    drop=("accelerator_pedal_pct", "brake_pedal_pct"),  # no pedal bytes: 18 bytes
)


@dataclass(slots=True)
class VehicleData2025(GearByte):
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
    def gear_valid(self) -> bool:
        """2025: gear byte bit 7 set = gear position invalid."""
        return not self.gear_raw & 0x80


MOTOR = b16.MOTOR.derive(
    speed_rpm={"offset": 32000},  # 2025: offset 32000 r/min
    torque_nm={"width": 4, "offset": 20000},  # 2025: DWORD, offset 20000 N·m
    drop=("controller_voltage_v", "controller_current_a"),  # 10 bytes each
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
class Location2025(b16.LonLat):
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
CELL_VOLTAGES = ListOf(2, Field("cell_voltages_v", 2, div=1000))


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


# ---- 0x30 fuel-cell stacks ------------------------------------------------------------------------

STACK_HEAD = Layout(
    Field("stack", 1),
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10),
    Field("h2_inlet_pressure_kpa", 2, div=10, offset=100),
    Field("air_inlet_pressure_kpa", 2, div=10, offset=100),
    Field("air_inlet_temp_c", 1, offset=40),
)
COOLANT_TEMPERATURES = ListOf(2, Field("coolant_temperatures_c", 1, offset=40))


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


# ---- 0x31 super-capacitor -------------------------------------------------------------------------

SUPERCAP_HEAD = Layout(
    Field("system", 1),
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10, offset=3000),
)


@dataclass(slots=True)
class SuperCapacitor:
    NAME: ClassVar[str] = "supercapacitor"
    system: int | None
    voltage_v: float | None
    current_a: float | None
    cell_voltages_v: list[float | None] | None
    temperatures_c: list[int | None] | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x32 super-capacitor extremes (cell/probe numbers are WORDs here) ------------------------------

SUPERCAP_EXTREMES = extremes_layout("system", 2)  # cell/probe numbers are WORDs here


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
MOTORS_CODEC = list_codec(DriveMotors2025, "motors", 1, Record(DriveMotor2025, MOTOR))
FUEL_CELL_CODEC = fixed_codec(FuelCell2025, FUEL_CELL)
ENGINE_CODEC = fixed_codec(Engine2025, ENGINE)
LOCATION_CODEC = fixed_codec(Location2025, LOCATION)
CELL_VOLTAGES_CODEC = list_codec(CellVoltages2025, "packs", 1, Record(PackVoltages, PACK_HEAD, CELL_VOLTAGES))
STACKS_CODEC = list_codec(
    FuelCellStacks, "stacks", 1, Record(FuelCellStack, STACK_HEAD, COOLANT_TEMPERATURES)
)
SUPERCAP_CODEC = record_codec(SuperCapacitor, SUPERCAP_HEAD, CELL_VOLTAGES, ListOf(2, TEMP_C))
SUPERCAP_EXTREMES_CODEC = fixed_codec(SuperCapacitorExtremes, SUPERCAP_EXTREMES)

"""Real-time information blocks of GB/T 32960.3-2016 (terminal side, Annex B).

Type ids: 0x01 vehicle, 0x02 drive motors, 0x03 fuel cell, 0x04 engine, 0x05 location,
0x06 extremes, 0x07 alarm, 0x08 RESS voltages, 0x09 RESS temperatures (shared codec).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ._codec import Field, Layout, ListOf, Record
from .blocks_common import GearByte, extremes_layout, fixed_codec, list_codec, record_codec

# ---- 0x01 whole vehicle, 20 bytes (Table 9 / B.4) --------------------------------------------------

VEHICLE = Layout(
    Field("vehicle_state", 1),
    Field("charging_state", 1),
    Field("running_mode", 1),
    Field("speed_kmh", 2, div=10),
    Field("odometer_km", 4, div=10),
    Field("total_voltage_v", 2, div=10),
    Field("total_current_a", 2, div=10, offset=1000),
    Field("soc_pct", 1),
    Field("dcdc_state", 1),
    Field("gear_raw", 1, sentinel=False),
    # 2016 Table 9 gives insulation no abnormal/invalid value (0..60000 kΩ): kept as a number.
    Field("insulation_kohm", 2, sentinel=False),
    # Annex B: bytes 18-19 are the pedals; the main body calls them a reserved WORD.
    Field("accelerator_pedal_pct", 1),
    Field("brake_pedal_pct", 1),
)


@dataclass(slots=True)
class VehicleData(GearByte):
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
    insulation_kohm: int
    accelerator_pedal_pct: int | None
    brake_pedal_pct: int | None  # 101 (0x65) = braking, no travel value available
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x02 drive motors, count + 12 bytes each (Tables 10/11) -------------------------------------

MOTOR = Layout(
    Field("number", 1),
    Field("state", 1),
    Field("controller_temp_c", 1, offset=40),
    Field("speed_rpm", 2, offset=20000),
    Field("torque_nm", 2, div=10, offset=2000),
    Field("temp_c", 1, offset=40),
    Field("controller_voltage_v", 2, div=10),
    Field("controller_current_a", 2, div=10, offset=1000),
)


@dataclass(slots=True)
class DriveMotor:
    number: int | None
    state: int | None
    controller_temp_c: int | None
    speed_rpm: int | None
    torque_nm: float | None
    temp_c: int | None
    controller_voltage_v: float | None
    controller_current_a: float | None
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class DriveMotors:
    NAME: ClassVar[str] = "drive_motors"
    motors: list[DriveMotor] | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x03 fuel cell (Table 12) ---------------------------------------------------------------------

FUEL_HEAD = Layout(
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10),  # no offset in 2016 Table 12
    Field("h2_consumption_kg_per_100km", 2, div=100),
)
FUEL_PROBES = ListOf(2, Field("probe_temperatures_c", 1, offset=40))
FUEL_TAIL = Layout(
    Field("h2_max_temp_c", 2, div=10, offset=40),
    Field("h2_max_temp_probe", 1),
    Field("h2_max_concentration_ppm", 2),  # printed as mg/kg, unit 1
    Field("h2_max_concentration_sensor", 1),
    Field("h2_max_pressure_mpa", 2, div=10),
    Field("h2_max_pressure_sensor", 1),
    Field("dcdc_state", 1),
)


@dataclass(slots=True)
class FuelCell:
    NAME: ClassVar[str] = "fuel_cell"
    voltage_v: float | None
    current_a: float | None
    h2_consumption_kg_per_100km: float | None
    probe_temperatures_c: list[int | None] | None
    h2_max_temp_c: float | None
    h2_max_temp_probe: int | None
    h2_max_concentration_ppm: int | None
    h2_max_concentration_sensor: int | None
    h2_max_pressure_mpa: float | None
    h2_max_pressure_sensor: int | None
    dcdc_state: int | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x04 engine, 5 bytes (Table 13) -----------------------------------------------------------------

ENGINE = Layout(
    Field("state", 1),
    Field("crank_speed_rpm", 2),
    Field("fuel_consumption_l_per_100km", 2, div=100),
)


@dataclass(slots=True)
class Engine:
    NAME: ClassVar[str] = "engine"
    state: int | None
    crank_speed_rpm: int | None
    fuel_consumption_l_per_100km: float | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x05 location, 9 bytes (Tables 14/15) ---------------------------------------------------------

LOCATION = Layout(
    Field("status", 1, sentinel=False),
    Field("longitude_abs_deg", 4, div=1_000_000),  # longitude comes first
    Field("latitude_abs_deg", 4, div=1_000_000),
)


class LonLat:
    """Signed coordinates from the status bits: bit 0 set = fix invalid; bit 1 south; bit 2 west."""

    __slots__ = ()
    status: int
    longitude_abs_deg: float | None
    latitude_abs_deg: float | None

    @property
    def fix_valid(self) -> bool:
        return not self.status & 0x01

    @property
    def longitude_deg(self) -> float | None:
        v = self.longitude_abs_deg
        return None if v is None else (-v if self.status & 0x04 else v)

    @property
    def latitude_deg(self) -> float | None:
        v = self.latitude_abs_deg
        return None if v is None else (-v if self.status & 0x02 else v)


@dataclass(slots=True)
class Location(LonLat):
    NAME: ClassVar[str] = "location"
    status: int
    longitude_abs_deg: float | None
    latitude_abs_deg: float | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x06 extremes, 14 bytes (Table 16) ------------------------------------------------------------

EXTREMES = extremes_layout("subsystem", 1)


@dataclass(slots=True)
class Extremes:
    NAME: ClassVar[str] = "extremes"
    max_voltage_subsystem: int | None
    max_voltage_cell: int | None
    max_cell_voltage_v: float | None
    min_voltage_subsystem: int | None
    min_voltage_cell: int | None
    min_cell_voltage_v: float | None
    max_temp_subsystem: int | None
    max_temp_probe: int | None
    max_temp_c: int | None
    min_temp_subsystem: int | None
    min_temp_probe: int | None
    min_temp_c: int | None
    invalid: dict[str, str] = field(default_factory=dict)


# ---- 0x08 RESS voltages (Tables B.5/B.6) -------------------------------------------------------------

RESS_HEAD = Layout(
    Field("subsystem", 1),
    Field("voltage_v", 2, div=10),
    Field("current_a", 2, div=10, offset=1000),  # Table B.6: offset 1000 A (rtm_con wrongly uses 3000)
    Field("cell_total", 2),
    Field("first_cell", 2),  # 1-based; packs over 200 cells are split across frames
)
CELL_VOLTAGES = ListOf(1, Field("cell_voltages_v", 2, div=1000))


@dataclass(slots=True)
class SubsystemVoltages:
    subsystem: int | None
    voltage_v: float | None
    current_a: float | None
    cell_total: int | None
    first_cell: int | None
    cell_voltages_v: list[float | None] | None
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CellVoltages:
    NAME: ClassVar[str] = "cell_voltages"
    subsystems: list[SubsystemVoltages] | None
    invalid: dict[str, str] = field(default_factory=dict)


VEHICLE_CODEC = fixed_codec(VehicleData, VEHICLE)
MOTORS_CODEC = list_codec(DriveMotors, "motors", 1, Record(DriveMotor, MOTOR))
FUEL_CELL_CODEC = record_codec(FuelCell, FUEL_HEAD, FUEL_PROBES, FUEL_TAIL)
ENGINE_CODEC = fixed_codec(Engine, ENGINE)
LOCATION_CODEC = fixed_codec(Location, LOCATION)
EXTREMES_CODEC = fixed_codec(Extremes, EXTREMES)
CELL_VOLTAGES_CODEC = list_codec(
    CellVoltages, "subsystems", 1, Record(SubsystemVoltages, RESS_HEAD, CELL_VOLTAGES)
)

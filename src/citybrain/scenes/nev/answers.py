"""The answers of the NEV API as response models (they are its OpenAPI schema, and the panel is
checked against them). Most are read straight from a vehicle's state (``processors.public``):
a field named differently in the state says where it comes from (``validation_alias``)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, Field

from citybrain.sdk import AlertAnswer

Words = dict[str, str]  # by locale: {"zh-CN": ..., "en": ...}
Points = list[list[int | float]]  # [ts, value] or [ts, lon, lat]; times stay integers


def _from(state_field: str, name: str) -> Any:
    """A field read from ``state_field`` of the vehicle's state. FastAPI validates the answer a
    second time from its own dump, so the field's ``name`` is accepted too (after the state's
    name: a state holds both ``ts`` and ``position_ts``)."""
    return Field(validation_alias=AliasChoices(state_field, name))


class Vehicle(BaseModel):
    """What the list and the detail both say of a vehicle."""

    vin: str
    plate: str = ""  # from [scenes.nev.vehicles.<VIN>]; masked for roles that mask it
    model: str
    model_name: Words
    region: str
    region_name: Words
    edition: str
    online: bool
    mode: str
    ts: int
    last_seen: int


class VehicleRow(Vehicle):
    """One vehicle of the list and the map."""

    soc_pct: float | None
    speed_kmh: float | None
    odometer_km: float | None
    lon: float | None
    lat: float | None
    fix_valid: bool | None
    alarm_level: int
    alarms: list[str]


class VehicleList(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[VehicleRow]


class Driving(BaseModel):
    speed_kmh: float | None
    odometer_km: float | None
    gear: str | None
    vehicle_state: int | None


class Battery(BaseModel):
    soc_pct: float | None
    voltage_v: float | None = _from("total_voltage_v", "voltage_v")
    current_a: float | None = _from("total_current_a", "current_a")
    charging_state: int | None
    max_cell_v: float | None
    min_cell_v: float | None
    max_temp_c: float | None
    min_temp_c: float | None
    insulation_kohm: float | None


class Position(BaseModel):
    lon: float | None
    lat: float | None
    fix_valid: bool | None
    ts: int | None = _from("position_ts", "ts")


class AlarmNow(BaseModel):
    level: int = _from("alarm_level", "level")
    level_words: Words = _from("alarm_level_words", "level_words")
    flags: int = _from("alarm_flags", "flags")
    alarms: list[str]
    words: dict[str, list[str]] = _from("alarm_words", "words")
    faults: int
    since: int | None = _from("alarm_since", "since")


class Counts(BaseModel):
    reports: int
    reissues: int


class VehicleDetail(Vehicle):
    driving: Driving
    battery: Battery
    position: Position
    alarm: AlarmNow
    alerts: list[AlertAnswer]
    counts: Counts


class Series(BaseModel):
    unit: str
    label: Words
    agg: str  # "raw", or the aggregate of each bucket
    points: Points


class History(BaseModel):
    vin: str
    start: int
    end: int
    bucket_ms: int
    downsampled: bool
    signals: dict[str, Series]
    track: Points


class FleetCounts(BaseModel):
    """Driving/charging/parked count online vehicles; ``in_alarm`` every vehicle in alarm."""

    total: int
    online: int
    driving: int
    charging: int
    parked: int
    in_alarm: int
    level_3: int


class ModelCounts(FleetCounts):
    model: str
    name: Words


class RegionCounts(FleetCounts):
    region: str
    name: Words


class FleetSummary(FleetCounts):
    offline: int
    avg_soc_online: float | None
    by_model: list[ModelCounts]
    by_region: list[RegionCounts]
    open_alerts: int


class RuleOut(BaseModel):
    name: str
    title: str
    severity: str
    for_ms: int
    clear_ms: int
    doc: str


class RulesAnswer(BaseModel):
    thresholds: dict[str, int | float]  # [scenes.nev.warnings] as in force
    offline_after_ms: int
    rules: list[RuleOut]

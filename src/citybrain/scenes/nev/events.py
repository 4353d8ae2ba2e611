"""NEV monitoring events: what the GB/T 32960 gateway turns vehicle frames into.

``key`` is the VIN. ``ts`` is the vehicle's data-acquisition time (the frame's GMT+8 time, as
epoch ms). Values the vehicle sent as abnormal/invalid (0xFE/0xFF sentinels) are null, and
``invalid`` says which and why ("abnormal" or "invalid"): a null is never a scaled number.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from citybrain.sdk import Event

Edition = Literal["2016", "2025"]
SignatureMark = Literal["verified", "unchecked", "unsigned"]
Vin = Annotated[str, msgspec.Meta(min_length=1, max_length=17, description="vehicle identification number")]


class NevLogin(Event, tag="nev.login"):
    """Vehicle login (command 0x01): the vehicle (re)connected and identified itself."""

    scene: ClassVar[str] = "nev"
    edition: Edition
    serial: int  # +1 per login, daily cycle
    iccid: str = ""
    packs: int = 0  # energy-storage systems (2016) or battery packs (2025) the vehicle declared


class NevLogout(Event, tag="nev.logout"):
    """Vehicle logout (command 0x04): the vehicle said goodbye (ignition off, usually)."""

    scene: ClassVar[str] = "nev"
    edition: Edition
    serial: int


class NevReport(Event, tag="nev.report"):
    """One real-time (0x02) or reissue (0x03) report, reduced to the fields a monitoring centre uses.

    ``reissue`` reports are back-dated data the vehicle buffered while offline: stored and kept in
    history, never treated as the live state. Units are in the field names.
    """

    scene: ClassVar[str] = "nev"
    edition: Edition
    reissue: bool = False
    # whole vehicle (0x01)
    vehicle_state: int | None = None  # 1 started, 2 off, 3 other
    charging_state: int | None = None  # 1 parked charging, 2 charging while driving, 3 not, 4 complete
    running_mode: int | None = None  # 1 pure electric, 2 hybrid, 3 fuel
    speed_kmh: float | None = None
    odometer_km: float | None = None
    total_voltage_v: float | None = None
    total_current_a: float | None = None
    soc_pct: float | None = None
    gear: str | None = None
    insulation_kohm: float | None = None
    # location (0x05)
    lon: float | None = None  # signed degrees, WGS-84 or GCJ-02 (see ``coordinate_system``)
    lat: float | None = None
    fix_valid: bool | None = None  # status bit 0 clear; when False lon/lat are the last valid fix
    coordinate_system: int | None = None  # 2025 only: 1 WGS-84, 2 GCJ-02, 3 other
    # extremes (2016 block 0x06, else computed from the cell voltages and probe temperatures)
    max_cell_v: float | None = None
    min_cell_v: float | None = None
    max_temp_c: float | None = None
    min_temp_c: float | None = None
    max_motor_temp_c: float | None = None
    # alarm (2016 0x07, 2025 0x06)
    alarm_level: int | None = None  # 0 none .. 3 stop at once
    alarm_flags: int = 0  # general alarm flag bits
    alarms: list[str] = msgspec.field(default_factory=list)  # names of the set bits
    ress_faults: list[int] = msgspec.field(default_factory=list)
    motor_faults: list[int] = msgspec.field(default_factory=list)
    engine_faults: list[int] = msgspec.field(default_factory=list)
    other_faults: list[int] = msgspec.field(default_factory=list)
    invalid: dict[str, str] = msgspec.field(default_factory=dict)  # field -> "abnormal" | "invalid"
    # 2025 SM2 signature: "verified" with the vehicle's configured key; "unchecked" signed but no key
    # is configured for the VIN; "unsigned" the vehicle has a key but sent none (accepted by policy)
    signature: SignatureMark | None = None


EVENTS: list[type[Event]] = [NevLogin, NevLogout, NevReport]

"""Decoded GB/T 32960 messages -> NEV events. Pure functions; the gateway session calls them.

Both editions map onto one event shape. The 2025 edition has no extremes block, so the highest and
lowest cell voltage and temperature are computed from the cell-voltage and probe blocks; a 2016
frame that carries its own extremes block keeps the vehicle's figures. 2016 packs of more than 200
cells arrive split over several frames: their extremes count only once the pack is whole.
"""

from __future__ import annotations

from datetime import datetime

from citybrain.protocols import gb32960 as gb
from citybrain.scenes.nev.events import NevLogin, NevLogout, NevReport

# codec field name -> event field name, where they differ
_RENAME = {
    "longitude_abs_deg": "lon",
    "latitude_abs_deg": "lat",
    "max_cell_voltage_v": "max_cell_v",
    "min_cell_voltage_v": "min_cell_v",
    "max_level": "alarm_level",
}
_VEHICLE_FIELDS = (
    "vehicle_state", "charging_state", "running_mode", "speed_kmh", "odometer_km", "total_voltage_v",
    "total_current_a", "soc_pct", "insulation_kohm",
)  # fmt: skip


def epoch_ms(t: datetime) -> int:
    """A frame time (GMT+8 wall clock, tz-aware from the codec) as epoch milliseconds."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=gb.BJT)
    return int(t.timestamp() * 1000)


def login_event(msg: gb.VehicleLogin | gb.VehicleLogin2025, source: str) -> NevLogin:
    packs = msg.ress_count if isinstance(msg, gb.VehicleLogin) else sum(msg.packs_per_bms)
    return NevLogin(
        key=msg.header.vin, ts=epoch_ms(msg.time), source=source, edition=msg.header.edition,
        serial=msg.serial, iccid=msg.iccid.strip("\x00 "), packs=packs,
    )  # fmt: skip


def logout_event(msg: gb.VehicleLogout, source: str) -> NevLogout:
    h = msg.header
    return NevLogout(key=h.vin, ts=epoch_ms(msg.time), source=source, edition=h.edition, serial=msg.serial)


def _span(lists: list[list[float | None]] | list[list[int | None]]) -> tuple[float, float] | None:
    """(lowest, highest) over every known value of the lists, or None when there is none."""
    known = [v for values in lists for v in values if v is not None]
    return (float(min(known)), float(max(known))) if known else None


def _note_invalid(ev: NevReport, invalid: dict[str, str], prefix: str = "") -> None:
    for name, why in invalid.items():
        ev.invalid[prefix + _RENAME.get(name, name)] = why


def report_event(
    msg: gb.RealtimeReport, source: str, reassembler: gb.CellVoltageReassembler | None = None
) -> NevReport:
    h = msg.header
    ev = NevReport(key=h.vin, ts=epoch_ms(msg.time), source=source, edition=h.edition, reissue=msg.reissue)
    volts: list[list[float | None]] = []  # judged only when no extremes block came
    temps: list[list[int | None]] = []
    have_extremes = False
    for b in msg.blocks:
        if isinstance(b, gb.VehicleData | gb.VehicleData2025):
            for name in _VEHICLE_FIELDS:
                setattr(ev, name, getattr(b, name))
            if b.soc_pct is not None:
                ev.soc_pct = float(b.soc_pct)
            if b.insulation_kohm is not None:
                ev.insulation_kohm = float(b.insulation_kohm)
            ev.gear = None if isinstance(b, gb.VehicleData2025) and not b.gear_valid else b.gear
            _note_invalid(ev, b.invalid)
        elif isinstance(b, gb.Location | gb.Location2025):
            ev.lon, ev.lat, ev.fix_valid = b.longitude_deg, b.latitude_deg, b.fix_valid
            if isinstance(b, gb.Location2025):
                ev.coordinate_system = b.coordinate_system
            _note_invalid(ev, b.invalid)
        elif isinstance(b, gb.Extremes):
            have_extremes = True
            ev.max_cell_v, ev.min_cell_v = b.max_cell_voltage_v, b.min_cell_voltage_v
            ev.max_temp_c = None if b.max_temp_c is None else float(b.max_temp_c)
            ev.min_temp_c = None if b.min_temp_c is None else float(b.min_temp_c)
            _note_invalid(ev, {k: v for k, v in b.invalid.items() if k.endswith(("_v", "_c"))})
        elif isinstance(b, gb.Alarm | gb.Alarm2025):
            ev.alarm_level, ev.alarm_flags, ev.alarms = b.max_level, b.flags, b.active_alarms
            ev.ress_faults, ev.motor_faults = b.ress_faults or [], b.motor_faults or []
            ev.engine_faults, ev.other_faults = b.engine_faults or [], b.other_faults or []
            _note_invalid(ev, b.invalid, "alarm.")
        elif isinstance(b, gb.CellVoltages):
            for sub in b.subsystems or ():
                volts.append(_whole_pack(h.vin, msg.time, sub, reassembler))
        elif isinstance(b, gb.CellVoltages2025):
            for pack in b.packs or ():
                volts.append(pack.cell_voltages_v or [])
        elif isinstance(b, gb.ProbeTemperatures):
            for s in b.subsystems or ():
                temps.append(s.temperatures_c or [])
        elif isinstance(b, gb.DriveMotors | gb.DriveMotors2025):
            hot = [m.temp_c for m in b.motors or () if m.temp_c is not None]
            ev.max_motor_temp_c = float(max(hot)) if hot else None
    if not have_extremes:
        if v_span := _span(volts):
            ev.min_cell_v, ev.max_cell_v = v_span
        if t_span := _span(temps):
            ev.min_temp_c, ev.max_temp_c = t_span
    return ev


def _whole_pack(
    vin: str, t: datetime, sub: gb.SubsystemVoltages, reassembler: gb.CellVoltageReassembler | None
) -> list[float | None]:
    """The cells of a pack sent whole, or of a split pack once its last part arrived."""
    cells = sub.cell_voltages_v or []
    whole = sub.first_cell == 1 and sub.cell_total is not None and len(cells) >= sub.cell_total
    if whole or reassembler is None:
        return list(cells)
    done = reassembler.add(vin, t, sub)
    return done.cell_voltages_v if done is not None else []

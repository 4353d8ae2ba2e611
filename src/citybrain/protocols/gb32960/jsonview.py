"""JSON-ready view of decoded messages (``citybrain decode gb32960 HEX``).

Field names carry their units (``speed_kmh``, ``total_current_a``, ``cell_voltages_v``...).
Abnormal/invalid values are ``null`` and listed in the owner's ``invalid`` object. Derived
values (gear name, signed coordinates, active alarm names) and enum names are added next to the
raw fields; bytes become lowercase hex; times are ISO 8601 with the +08:00 offset.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import IntEnum
from typing import Any

from . import blocks_2016 as b16
from . import blocks_2025 as b25
from .alarms import Alarm, Alarm2025
from .blocks_common import SIGNATURE_ALGORITHMS, CustomBlock, Signature
from .decoder import decode_hex_frame
from .frame import Command, Encryption, Header, ResponseFlag
from .messages import Message, RealtimeReport
from .realtime import TYPE_IDS

DERIVED: dict[type, tuple[str, ...]] = {
    b16.VehicleData: ("gear", "braking_force", "driving_force"),
    b25.VehicleData2025: ("gear", "gear_valid", "braking_force", "driving_force"),
    b16.Location: ("fix_valid", "longitude_deg", "latitude_deg"),
    b25.Location2025: ("fix_valid", "longitude_deg", "latitude_deg"),
    Alarm: ("active_alarms",),
    Alarm2025: ("active_alarms",),
}

_VEHICLE_ENUMS = {
    "vehicle_state": {1: "started", 2: "off", 3: "other"},
    "charging_state": {1: "parked_charging", 2: "driving_charging", 3: "not_charging", 4: "charge_complete"},
    "running_mode": {1: "electric", 2: "hybrid", 3: "fuel"},
    "dcdc_state": {1: "working", 2: "off"},
}
_MOTOR_ENUMS = {"state": {1: "consuming", 2: "generating", 3: "off", 4: "ready"}}
ENUMS: dict[type, dict[str, dict[int, str]]] = {
    b16.VehicleData: _VEHICLE_ENUMS,
    b25.VehicleData2025: _VEHICLE_ENUMS,
    b16.DriveMotor: _MOTOR_ENUMS,
    b25.DriveMotor2025: _MOTOR_ENUMS,
    b16.Engine: {"state": {1: "on", 2: "off"}},
    b16.FuelCell: {"dcdc_state": {1: "working", 2: "off"}},
    b25.FuelCell2025: {"dcdc_state": {1: "working", 2: "off"}},
    b25.Location2025: {"coordinate_system": {1: "WGS-84", 2: "GCJ-02", 3: "other"}},
    Signature: {"algorithm": SIGNATURE_ALGORITHMS},
}


def _name(enum: type[IntEnum], v: int) -> str:
    try:
        return enum(v).name.lower()
    except ValueError:
        return f"0x{v:02X}"


def to_json(value: Any) -> Any:
    """Turn a message, block or value into JSON-ready data."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, IntEnum):
        return int(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        out: dict[str, Any] = {}
        enums = ENUMS.get(cls, {})
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            out[f.name] = to_json(v)
            if f.name in enums and isinstance(v, int):
                out[f.name + "_name"] = enums[f.name].get(v, "unknown")
        for prop in DERIVED.get(cls, ()):
            out[prop] = to_json(getattr(value, prop))
        return out
    return value


def header_json(h: Header) -> dict[str, Any]:
    return {
        "edition": h.edition,
        "command": h.command,
        "command_name": _name(Command, h.command),
        "response": h.response,
        "response_name": _name(ResponseFlag, h.response),
        "vin": h.vin,
        "encryption": h.encryption,
        "encryption_name": _name(Encryption, h.encryption),
    }


def message_json(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {**header_json(msg.header), "message": type(msg).__name__}
    body = to_json(msg)
    del body["header"]
    if isinstance(msg, RealtimeReport):
        ids = TYPE_IDS[msg.header.edition]
        blocks = []
        for b, j in zip(msg.blocks, body["blocks"], strict=True):
            type_id = b.type_id if isinstance(b, CustomBlock) else ids[type(b)]
            blocks.append({"type": type_id, "block": b.NAME, **j})
        body["blocks"] = blocks
        body["reissue"] = msg.reissue
    out.update(body)
    return out


def decode_hex(hex_str: str) -> dict[str, Any]:
    """Decode one frame given as hex (spaces allowed) into a JSON-ready dict."""
    return message_json(decode_hex_frame(hex_str))

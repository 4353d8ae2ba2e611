"""JSON-ready view of decoded JT/T 808 messages (used by ``citybrain decode jt808 HEX``).

Field names carry their units (``_deg``, ``_m``, ``_kmh``, ``_km``, ``_l``, ``_s``, ``_ms``);
message ids and flag words are hex strings. The field list is in docs/protocols/jt808.md.
"""

from __future__ import annotations

import re
from typing import Any

from citybrain.core.errors import DecodeError
from citybrain.protocols.jt808 import flags
from citybrain.protocols.jt808 import messages as msgs
from citybrain.protocols.jt808.decode import decode_frame
from citybrain.protocols.jt808.extras import (
    ITEMS,
    AreaInOut,
    ExtraItem,
    IoStatus,
    Overspeed,
    RawItem,
    RoadSectionTime,
    TruncatedItem,
    VehicleSignals,
)
from citybrain.protocols.jt808.fields import gmt8_text, normalise_phone, utc_text
from citybrain.protocols.jt808.framing import FrameSplitter
from citybrain.protocols.jt808.header import ENCRYPTION_NAMES, Header

GENERAL_RESULTS = {0: "ok", 1: "failed", 2: "bad_message", 3: "unsupported", 4: "alarm_confirmed"}
REGISTER_RESULTS = {
    0: "ok",
    1: "vehicle_already_registered",
    2: "no_such_vehicle",
    3: "terminal_already_registered",
    4: "no_such_terminal",
}
_NOT_HEX = re.compile(r"[\s:,-]|0x", re.IGNORECASE)


def _hex_id(value: int, width: int = 4) -> str:
    return f"0x{value:0{width}X}"


def header_json(h: Header) -> dict[str, Any]:
    return {
        "msg_id": _hex_id(h.msg_id),
        "edition": h.edition,
        "version_flag": h.version_flag,
        "protocol_version": h.protocol_version,
        "phone": h.phone,
        "terminal_key": normalise_phone(h.phone),
        "serial": h.serial,
        "encryption": ENCRYPTION_NAMES.get(h.encryption, f"reserved_{h.encryption}"),
        "package": None if h.pkg_total is None else {"total": h.pkg_total, "index": h.pkg_index},
    }


#: Plain items, viewed straight from the extras table: class -> (hex id, spec).
_PLAIN_ITEMS = {spec.cls: (_hex_id(item_id, 2), spec) for item_id, spec in ITEMS.items() if spec.json}


def extra_json(item: ExtraItem) -> dict[str, Any]:
    plain = _PLAIN_ITEMS.get(type(item))
    if plain is not None:
        hex_id, spec = plain
        return {"id": hex_id, "name": spec.name} | {key: getattr(item, name) for name, key in spec.json}
    match item:
        case Overspeed(location_type=t, area_id=area):
            return {
                "id": "0x11",
                "name": "overspeed",
                "location_type": flags.LOCATION_TYPES.get(t, f"reserved_{t}"),
                "area_id": area,
            }
        case AreaInOut(location_type=t, area_id=area, direction=d):
            return {
                "id": "0x12",
                "name": "area_in_out",
                "location_type": flags.LOCATION_TYPES.get(t, f"reserved_{t}"),
                "area_id": area,
                "direction": {0: "in", 1: "out"}.get(d, f"reserved_{d}"),
            }
        case RoadSectionTime(section_id=sid, drive_time_s=secs, result=r):
            return {
                "id": "0x13",
                "name": "road_section_time",
                "section_id": sid,
                "drive_time_s": secs,
                "result": {0: "too_short", 1: "too_long"}.get(r, f"reserved_{r}"),
            }
        case VehicleSignals(bits=bits):
            return {
                "id": "0x25",
                "name": "vehicle_signals",
                "signals_raw": _hex_id(bits, 8),
                "signals": flags.bit_names(bits, flags.VEHICLE_SIGNAL_BITS),
            }
        case IoStatus(bits=bits):
            return {
                "id": "0x2A",
                "name": "io_status",
                "io_raw": _hex_id(bits),
                "io": flags.bit_names(bits, flags.IO_STATUS_BITS),
            }
        case RawItem(item_id=iid, data=data):
            return {"id": _hex_id(iid, 2), "name": "raw", "length_bytes": len(data), "hex": data.hex()}
        case TruncatedItem(item_id=iid, declared_length=dl, data=data):
            return {
                "id": _hex_id(iid, 2),
                "name": "truncated",
                "declared_length_bytes": dl,
                "hex": data.hex(),
            }
    raise TypeError(f"unknown extra item {item!r}")  # pragma: no cover - the union is exhaustive


def location_json(loc: msgs.LocationReport) -> dict[str, Any]:
    return {
        "alarm_raw": _hex_id(loc.alarm, 8),
        "alarms": loc.alarms,
        "status_raw": _hex_id(loc.status, 8),
        "status_flags": loc.status_flags,
        "acc_on": loc.acc_on,
        "positioned": loc.positioned,
        "load": flags.load_state(loc.status),
        "lat_deg": loc.lat,
        "lon_deg": loc.lon,
        "altitude_m": loc.altitude_m,
        "speed_kmh": loc.speed_kmh,
        "direction_deg": loc.direction,
        "time_utc_ms": loc.time_ms,
        "time_utc": None if loc.time_ms is None else utc_text(loc.time_ms),
        "time_gmt8": None if loc.time_ms is None else gmt8_text(loc.time_ms),
        "extras": [extra_json(i) for i in loc.extras],
    }


def body_json(body: msgs.Body) -> dict[str, Any]:
    match body:
        case msgs.LocationReport():
            return location_json(body)
        case msgs.LocationBatch(batch_type=t, items=items):
            return {
                "batch_type": t,
                "reissue": body.reissue,
                "count": len(items),
                "items": [location_json(i) for i in items],
            }
        case msgs.TerminalGeneralResponse() | msgs.PlatformGeneralResponse():
            return {
                "reply_serial": body.reply_serial,
                "reply_msg_id": _hex_id(body.reply_msg_id),
                "result": body.result,
                "result_name": GENERAL_RESULTS.get(body.result, f"reserved_{body.result}"),
            }
        case msgs.Heartbeat() | msgs.Logout():
            return {}
        case msgs.Register():
            return {
                "layout": body.layout,
                "province_id": body.province,
                "city_id": body.city,
                "maker_id": body.maker,
                "model": body.model,
                "terminal_id": body.terminal_id,
                "plate_color": body.plate_color,
                "plate": body.plate,
            }
        case msgs.RegisterResponse():
            return {
                "reply_serial": body.reply_serial,
                "result": body.result,
                "result_name": REGISTER_RESULTS.get(body.result, f"reserved_{body.result}"),
                "auth_code": body.auth_code,
            }
        case msgs.Authenticate():
            return {
                "auth_code": body.auth_code,
                "imei": body.imei,
                "software_version": body.software_version,
            }
        case msgs.RawBody(data=data):
            return {"length_bytes": len(data), "hex": data.hex()}
    raise TypeError(f"unknown body {body!r}")  # pragma: no cover - the union is exhaustive


def to_json(msg: msgs.Message) -> dict[str, Any]:
    """A decoded message as a JSON-ready dict."""
    return {
        "protocol": "jt808",
        "msg_id": _hex_id(msg.header.msg_id),
        "name": msg.name,
        "header": header_json(msg.header),
        "body": body_json(msg.body),
        "quirks": list(msg.quirks),
    }


def parse_hex(hex_str: str) -> bytes:
    """Hex text (spaces, colons, dashes and 0x prefixes allowed) -> bytes."""
    cleaned = _NOT_HEX.sub("", hex_str)
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise DecodeError(f"jt808 hex input: {exc}") from exc


def decode_hex(hex_str: str, *, strict: bool = True) -> dict[str, Any]:
    """Decode one frame given as hex (with or without its 0x7E delimiters) to a JSON-ready dict."""
    data = parse_hex(hex_str)
    if not data:
        raise DecodeError("jt808 hex input is empty")
    if data[0] != 0x7E:
        data = b"\x7e" + data
    if data[-1] != 0x7E or len(data) == 1:
        data = data + b"\x7e"
    frames = FrameSplitter(max_frame=len(data)).feed(data)
    if len(frames) != 1:
        raise DecodeError(f"jt808 hex input holds {len(frames)} frames; pass exactly one")
    return to_json(decode_frame(frames[0], strict=strict))

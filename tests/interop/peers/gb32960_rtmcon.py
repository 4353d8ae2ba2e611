"""Frames built and parsed by rtm-con (PyPI ``rtm_con``), shared by the GB/T 32960 peer scripts.

Runs in the peers' environment (.interop/) only; everything here is rtm-con's own encoder and
decoder (``rtm_con.msg_checked``), driven with plain values. Times are Beijing time (GMT+8).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import rtm_con

BJT = timezone(timedelta(hours=8))
STARTER = {"2016": "protocol_2016", "2025": "protocol_2025"}
ICCID = "89860012345678901234"

#: What the vehicle reports in its real-time frame; the same physical values in both editions.
VALUES: dict[str, Any] = {
    "vehicle_state": 1,  # started
    "charging_state": 3,  # not charging
    "running_mode": 1,  # pure electric
    "speed_kmh": 63.4,
    "odometer_km": 12345.6,
    "total_voltage_v": 356.8,
    "total_current_a": -12.5,
    "soc_pct": 77,
    "insulation_kohm": 5000,
    "lon": 121.473701,
    "lat": 31.230416,
    "motor_temp_c": 55,
    "alarm_level": 1,
    "max_cell_v": 3.712,
    "min_cell_v": 3.701,
    "max_temp_c": 31,
    "min_temp_c": 28,
}


def frame(edition: str, msg_type: str, vin: str, payload: Any, ack: str = "command") -> bytes:
    """One whole frame (start to BCC) as rtm-con builds it."""
    return bytes(
        rtm_con.msg_checked.build(
            {
                "starter": STARTER[edition],
                "msg_type": msg_type,
                "ack": ack,
                "vin": vin,
                "enc": "uncrypted",
                "payload": payload,
            }
        )
    )


def login(edition: str, vin: str, t: datetime, serial: int) -> bytes:
    if edition == "2016":
        body = {
            "timestamp": t,
            "session_id": serial,
            "iccid": ICCID,
            "bms_total": 1,
            "pack_sn_len": 24,
            "pack_sn": ["PACK2016000000000000001A"],
        }
    else:
        body = {
            "timestamp": t,
            "session_id": serial,
            "iccid": ICCID,
            "bms_total": 1,
            "pack_per_bms": [1],
            "pack_sn_list": [["PACK2025000000000000001A"]],
        }
    return frame(edition, "login", vin, body)


def logout(edition: str, vin: str, t: datetime, serial: int) -> bytes:
    return frame(edition, "logout", vin, {"timestamp": t, "session_id": serial})


def platform_login(edition: str, vin: str, t: datetime, serial: int) -> bytes:
    body = {
        "timestamp": t,
        "session_id": serial,
        "username": "platform01",
        "password": "secret",
        "enc": "uncrypted",
    }
    return frame(edition, "plt_login", vin, body)


def platform_logout(edition: str, vin: str, t: datetime, serial: int) -> bytes:
    return frame(edition, "plt_logout", vin, {"timestamp": t, "session_id": serial})


def _warnings(edition: str, level: int) -> dict[str, Any]:
    names = (
        rtm_con.data_warnings.general_warnings_2025
        if edition == "2025"
        else rtm_con.data_warnings.general_warnings_2016
    )
    flags = {name: name == "soc_low_warning" for name in names.values()}
    out: dict[str, Any] = {
        "max_warning_level": level,
        "general_warnings": flags,
        "pack_failures": [],
        "emotor_failures": [],
        "engine_failures": [],
        "other_failures": [],
    }
    if edition == "2025":
        out["general_warning_list"] = [{"warning": "soc_low_warning", "level": level}]
    return out


def realtime(edition: str, vin: str, t: datetime, v: dict[str, Any] = VALUES) -> bytes:
    """A real-time report (0x02): whole vehicle, one drive motor, location, alarm; 2016 adds the
    extremes block, 2025 ends with a (dummy, unverified) SM2 signature block."""
    vehicle: dict[str, Any] = {
        "vehicle_state": "on",
        "charge_state": "uncharged",
        "operate_state": "pure_electric",
        "vehicle_speed": v["speed_kmh"],
        "mileage_total": v["odometer_km"],
        "voltage_total": v["total_voltage_v"],
        "current_total": v["total_current_a"],
        "soc": v["soc_pct"],
        "dcdc_state": "on",
        "gear_state": {"driving_force": True, "braking_force": False, "gear": "D"},
        "insulation_resistance": v["insulation_kohm"],
    }
    motor: dict[str, Any] = {
        "index": 1,
        "state": "consuming_power",
        "ctrl_temp": 45,
        "speed": 3000,
        "torque": 120.5,
        "temp": v["motor_temp_c"],
    }
    gnss: dict[str, Any] = {
        "gnss_state": {"gnss_e_w": "e", "gnss_n_s": "n", "gnss_valid": True},
        "gnss_lng": v["lon"],
        "gnss_lat": v["lat"],
    }
    items: list[dict[str, Any]] = [
        {"data_type": "whole_vehicle", "data_content": vehicle},
        {"data_type": "emotor", "data_content": [motor]},
        {"data_type": "gnss", "data_content": gnss},
        {"data_type": "warnings", "data_content": _warnings(edition, v["alarm_level"])},
    ]
    if edition == "2016":
        vehicle |= {"accelerator_padel": 30, "brake_padel": 0}
        motor |= {"ctrl_volt": 356.0, "ctrl_curr": 20.0}
        extremes = {
            "max_volt_pack_index": 1, "max_volt_cell_index": 7, "max_cell_volt": v["max_cell_v"],
            "min_volt_pack_index": 1, "min_volt_cell_index": 9, "min_cell_volt": v["min_cell_v"],
            "max_temp_pack_index": 1, "max_temp_cell_index": 2, "max_cell_temp": v["max_temp_c"],
            "min_temp_pack_index": 1, "min_temp_cell_index": 4, "min_cell_temp": v["min_temp_c"],
        }  # fmt: skip
        items.insert(3, {"data_type": "pack_extrema", "data_content": extremes})
        return frame(edition, "realtime", vin, {"timestamp": t, "data_list": items})
    vehicle["gear_state"]["gear_postion_validity"] = "valid"  # (sic) rtm-con's field name
    gnss["gnss_gcs"] = "wgs84"
    sig = {"algo": "sm2", "r_value": "11" * 32, "s_value": "22" * 32}
    body = {"timestamp": t, "data_list": items, "sig_starter": "ff", "sig": sig}
    return frame(edition, "realtime", vin, body)


def parse_reply(raw: bytes) -> dict[str, Any]:
    """rtm-con's reading of a platform reply: header fields and, for a response, its time (BJT)."""
    msg = rtm_con.msg_checked.parse(raw)  # raises when the frame or its BCC does not parse
    out: dict[str, Any] = {
        "starter": str(msg.starter),
        "msg_type": str(msg.msg_type),
        "ack": str(msg.ack),
        "vin": msg.vin,
        "enc": str(msg.enc),
    }
    if str(msg.ack) == "command":
        out["payload"] = rtm_con.con_to_pyobj(msg.payload)
    else:
        # rtm-con gives a naive local time; make it an explicit Beijing time
        out["timestamp"] = msg.payload.timestamp.astimezone(BJT).isoformat()
    return out


#: rtm-con block -> our field -> (path in rtm-con's parse of the block, type)
READ_BACK: dict[str, dict[str, tuple[str, type]]] = {
    "whole_vehicle": {
        "speed_kmh": ("vehicle_speed", float), "odometer_km": ("mileage_total", float),
        "total_voltage_v": ("voltage_total", float), "total_current_a": ("current_total", float),
        "soc_pct": ("soc", float), "insulation_kohm": ("insulation_resistance", float),
        "vehicle_state": ("vehicle_state", int), "charging_state": ("charge_state", int),
        "running_mode": ("operate_state", int), "gear": ("gear_state.gear", str),
    },
    "gnss": {
        "lon": ("gnss_lng", float), "lat": ("gnss_lat", float), "fix_valid": ("gnss_state.gnss_valid", bool),
    },
    "emotor": {"motor_temp_c": ("0.temp", float)},
    "pack_extrema": {
        "max_cell_v": ("max_cell_volt", float), "min_cell_v": ("min_cell_volt", float),
        "max_temp_c": ("max_cell_temp", float), "min_temp_c": ("min_cell_temp", float),
    },
    "warnings": {"alarm_level": ("max_warning_level", int)},
}  # fmt: skip


def _at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def parse_request_values(raw: bytes) -> dict[str, Any]:
    """rtm-con's own decoding of the real-time frame it built: the physical values it carries."""
    msg = rtm_con.msg_checked.parse(raw)
    got: dict[str, Any] = {}
    for item in msg.payload.data_list:
        for name, (path, kind) in READ_BACK.get(str(item.data_type), {}).items():
            got[name] = kind(_at(item.data_content, path))
    return got

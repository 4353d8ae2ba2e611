"""Message -> frame bytes. Every decoded message encodes back to the bytes it came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import messages as msgs
from ._codec import EncodeError, put_text, put_time, put_uint
from .blocks_common import encode_signature
from .frame import build_frame
from .realtime import RealtimeBody, encode_realtime


def _login(m: msgs.VehicleLogin, out: bytearray) -> None:
    put_time(out, m.time)
    put_uint(out, 2, m.serial, "serial")
    put_text(out, m.iccid, 20, "iccid")
    put_uint(out, 1, m.ress_count, "ress_count")
    put_uint(out, 1, m.code_length, "code_length")
    if m.code_length and len(m.ress_codes) != m.ress_count:
        raise EncodeError(f"gb32960: ress_count {m.ress_count} but {len(m.ress_codes)} codes")
    for code in m.ress_codes if m.code_length else ():
        put_text(out, code, m.code_length, "ress_codes")


def _login_2025(m: msgs.VehicleLogin2025, out: bytearray) -> None:
    put_time(out, m.time)
    put_uint(out, 2, m.serial, "serial")
    put_text(out, m.iccid, 20, "iccid")
    put_uint(out, 1, len(m.packs_per_bms), "bms_count")
    for n in m.packs_per_bms:
        put_uint(out, 1, n, "packs_per_bms")
    if len(m.pack_codes) != sum(m.packs_per_bms):
        raise EncodeError(f"gb32960: {sum(m.packs_per_bms)} packs declared, {len(m.pack_codes)} codes")
    for code in m.pack_codes:
        put_text(out, code, 24, "pack_codes")


def _realtime(m: msgs.RealtimeReport, out: bytearray) -> None:
    encode_realtime(RealtimeBody(m.time, m.blocks, m.unparsed), m.header.edition, out)


def _serial_message(m: msgs.VehicleLogout | msgs.PlatformLogout, out: bytearray) -> None:
    put_time(out, m.time)
    put_uint(out, 2, m.serial, "serial")


def _platform_login(m: msgs.PlatformLogin, out: bytearray) -> None:
    put_time(out, m.time)
    put_uint(out, 2, m.serial, "serial")
    put_text(out, m.username, 12, "username")
    put_text(out, m.password, 20, "password")
    put_uint(out, 1, m.encryption_rule, "encryption_rule")


def _optional_time(m: msgs.Heartbeat | msgs.TimeCalibration | msgs.Ack, out: bytearray) -> None:
    if m.time is not None:
        put_time(out, m.time)


def _activation(m: msgs.Activation, out: bytearray) -> None:
    put_time(out, m.time)
    put_text(out, m.chip_id, 16, "chip_id")
    put_uint(out, 2, len(m.public_key), "public_key_length")
    out += m.public_key
    put_text(out, m.vin, 17, "vin")
    encode_signature(m.signature, out)


def _activation_response(m: msgs.ActivationResponse, out: bytearray) -> None:
    put_uint(out, 1, m.result, "result")
    put_uint(out, 1, m.info, "info")


def _key_exchange(m: msgs.KeyExchange, out: bytearray) -> None:
    put_uint(out, 1, m.algorithm, "algorithm")
    put_uint(out, 2, len(m.key), "key_length")
    out += m.key
    put_time(out, m.valid_from, "valid_from")
    put_time(out, m.valid_to, "valid_to")


def _raw(m: msgs.RawMessage, out: bytearray) -> None:
    out += m.data


ENCODERS: dict[type, Callable[[Any, bytearray], None]] = {
    msgs.VehicleLogin: _login,
    msgs.VehicleLogin2025: _login_2025,
    msgs.RealtimeReport: _realtime,
    msgs.VehicleLogout: _serial_message,
    msgs.PlatformLogin: _platform_login,
    msgs.PlatformLogout: _serial_message,
    msgs.Heartbeat: _optional_time,
    msgs.TimeCalibration: _optional_time,
    msgs.Ack: _optional_time,
    msgs.Activation: _activation,
    msgs.ActivationResponse: _activation_response,
    msgs.KeyExchange: _key_exchange,
    msgs.RawMessage: _raw,
}


def encode_data_unit(msg: msgs.Message) -> bytes:
    out = bytearray()
    ENCODERS[type(msg)](msg, out)
    return bytes(out)


def encode(msg: msgs.Message) -> bytes:
    """The complete frame for ``msg`` (start bytes, header, data unit, BCC).

    Raises :class:`EncodeError` when a value cannot be represented on the wire.
    """
    return build_frame(msg.header, encode_data_unit(msg))

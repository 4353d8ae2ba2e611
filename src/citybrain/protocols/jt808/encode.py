"""JT/T 808 encoding: message -> body bytes -> header + body -> check code -> escape -> frame.

Every decoded message encodes back; for well-formed frames the bytes are identical (register
bodies are re-padded the standard's way: 2011/2013 at the end, 2019 at the front).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from citybrain.protocols.jt808 import messages as msgs
from citybrain.protocols.jt808.extras import encode_extras
from citybrain.protocols.jt808.fields import EncodeError, encode_text, fixed_text, ms_to_bcd_time
from citybrain.protocols.jt808.framing import wrap
from citybrain.protocols.jt808.header import MAX_BODY, Header, encode_header

_BASIC = struct.Struct(">IIIIHHH")
_HHB = struct.Struct(">HHB")
_HB = struct.Struct(">HB")
_HH = struct.Struct(">HH")
_H = struct.Struct(">H")

_REGISTER_WIDTHS = {"2011": (5, 8, 7), "2013": (5, 20, 7), "2019": (11, 30, 30)}


def _status_with_hemisphere(loc: msgs.LocationReport) -> int:
    """The sign of lat/lon decides status bits 2/3; at exactly 0 the given bit is kept."""
    status = loc.status
    if loc.lat < 0:
        status |= 4
    elif loc.lat > 0:
        status &= ~4
    if loc.lon < 0:
        status |= 8
    elif loc.lon > 0:
        status &= ~8
    return status


def encode_location(loc: msgs.LocationReport) -> bytes:
    """A 0x0200 body (also used for each 0x0704 item)."""
    try:
        basic = _BASIC.pack(
            loc.alarm,
            _status_with_hemisphere(loc),
            round(abs(loc.lat) * 1e6),
            round(abs(loc.lon) * 1e6),
            loc.altitude_m,
            round(loc.speed_kmh * 10),
            loc.direction,
        )
    except struct.error as exc:
        raise EncodeError(f"jt808 location field out of range: {exc}") from exc
    return basic + ms_to_bcd_time(loc.time_ms) + encode_extras(loc.extras)


def _batch(b: msgs.LocationBatch) -> bytes:
    parts = [_HB.pack(len(b.items), b.batch_type)]
    for item in b.items:
        raw = encode_location(item)
        parts.append(_H.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _register(r: msgs.Register) -> bytes:
    widths = _REGISTER_WIDTHS.get(r.layout)
    if widths is None:
        raise EncodeError(f"jt808 register layout {r.layout!r} is not one of 2011, 2013, 2019")
    front = r.layout == "2019"
    return (
        _HH.pack(r.province, r.city)
        + fixed_text(r.maker, widths[0], "maker", pad_front=front)
        + fixed_text(r.model, widths[1], "model", pad_front=front)
        + fixed_text(r.terminal_id, widths[2], "terminal_id", pad_front=front)
        + bytes((r.plate_color,))
        + encode_text(r.plate)
    )


def _authenticate(a: msgs.Authenticate) -> bytes:
    code = encode_text(a.auth_code)
    if a.imei is None:
        return code
    if len(code) > 255:
        raise EncodeError(f"jt808 auth code is {len(code)} bytes; the 2019 length byte holds 255")
    return (
        bytes((len(code),))
        + code
        + fixed_text(a.imei, 15, "imei", pad_front=True)
        + fixed_text(a.software_version or "", 20, "software_version", pad_front=True)
    )


def encode_body(body: msgs.Body) -> bytes:
    """Body struct -> body bytes."""
    try:
        match body:
            case msgs.LocationReport():
                return encode_location(body)
            case msgs.TerminalGeneralResponse() | msgs.PlatformGeneralResponse():
                return _HHB.pack(body.reply_serial, body.reply_msg_id, body.result)
            case msgs.Heartbeat() | msgs.Logout():
                return b""
            case msgs.LocationBatch():
                return _batch(body)
            case msgs.Register():
                return _register(body)
            case msgs.RegisterResponse():
                code = b"" if body.auth_code is None else encode_text(body.auth_code)
                return _HB.pack(body.reply_serial, body.result) + code
            case msgs.Authenticate():
                return _authenticate(body)
            case msgs.RawBody():
                return body.data
    except struct.error as exc:
        raise EncodeError(f"jt808 {type(body).__name__} field out of range: {exc}") from exc
    raise EncodeError(f"jt808 cannot encode body of type {type(body).__name__}")


def _check_id(msg: msgs.Message) -> None:
    expected = getattr(msg.body, "MSG_ID", None)
    if expected is not None and expected != msg.header.msg_id:
        raise EncodeError(
            f"jt808 header msg id 0x{msg.header.msg_id:04X} does not match body "
            f"{type(msg.body).__name__} (0x{expected:04X})"
        )


def encode_message(msg: msgs.Message) -> bytes:
    """Message -> header + body bytes (un-escaped, no check code, no delimiters)."""
    _check_id(msg)
    body = encode_body(msg.body)
    return encode_header(msg.header, len(body)) + body


def encode_frame(msg: msgs.Message) -> bytes:
    """Message -> wire frame: ``7E escaped(header + body + check) 7E``."""
    return wrap(encode_message(msg))


def split_frames(msg: msgs.Message, max_body: int = MAX_BODY) -> Iterator[bytes]:
    """Encode a message whose body may exceed 1023 bytes as numbered packages (§4.4).

    Package ``i`` (from 1) carries serial ``header.serial + i - 1``. A body that fits is sent as
    one ordinary frame.
    """
    _check_id(msg)
    body = encode_body(msg.body)
    if len(body) <= max_body:
        yield wrap(encode_header(msg.header, len(body)) + body)
        return
    chunks = [body[i : i + max_body] for i in range(0, len(body), max_body)]
    h = msg.header
    for i, chunk in enumerate(chunks, start=1):
        ph = Header(
            msg_id=h.msg_id,
            phone=h.phone,
            serial=(h.serial + i - 1) & 0xFFFF,
            protocol_version=h.protocol_version,
            version_flag=h.version_flag,
            encryption=h.encryption,
            pkg_total=len(chunks),
            pkg_index=i,
            reserved_bit15=h.reserved_bit15,
        )
        yield wrap(encode_header(ph, len(chunk)) + chunk)

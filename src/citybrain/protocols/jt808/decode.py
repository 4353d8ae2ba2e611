"""JT/T 808 decoding: wire frame -> un-escape -> check code -> header -> body handler.

One small handler per message id (the dispatch table :data:`BODY_DECODERS`). Unknown ids,
encrypted bodies and fragments of split messages decode to :class:`RawBody`, not an error.
Every failure is a :class:`DecodeError` naming the message id, field and offset.

``strict=True`` (the default) rejects a bad check code, a declared body length that disagrees
with the bytes present, and a 0x7D not followed by 01/02. ``strict=False`` accepts them and
records each in :attr:`Message.quirks` (Traccar-style tolerance, e.g. for replaying old logs).
Quirks that do not suggest corruption are accepted in both modes and also recorded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from citybrain.core.errors import DecodeError
from citybrain.protocols.jt808 import messages as msgs
from citybrain.protocols.jt808.extras import decode_extras
from citybrain.protocols.jt808.fields import bcd_time_to_ms, decode_text
from citybrain.protocols.jt808.framing import strip_delimiters, unescape, xor_check
from citybrain.protocols.jt808.header import Header, parse_header

_BASIC = struct.Struct(">IIIIHHH6s")  # 28-byte basic location block
_HHB = struct.Struct(">HHB")
_HB = struct.Struct(">HB")
_H = struct.Struct(">H")
_HH = struct.Struct(">HH")

Handler = Callable[[bytes, Header, list[str]], msgs.Body]


def parse_location(body: bytes, quirks: list[str], where: str = "msg 0x0200") -> msgs.LocationReport:
    """A 0x0200 body (also each 0x0704 item): 28-byte basic block, then additional items."""
    if len(body) < 28:
        raise DecodeError(f"jt808 {where}: {len(body)} bytes, the basic location block needs 28")
    alarm, status, lat, lon, alt, speed, direction, bcd = _BASIC.unpack_from(body, 0)
    time_ms = bcd_time_to_ms(bcd)
    if time_ms is None:
        quirks.append(f"invalid_time:{bcd.hex()}")
    return msgs.LocationReport(
        alarm=alarm,
        status=status,
        lat=-lat / 1e6 if status & 4 else lat / 1e6,
        lon=-lon / 1e6 if status & 8 else lon / 1e6,
        altitude_m=alt,
        speed_kmh=speed / 10,
        direction=direction,
        time_ms=time_ms,
        extras=decode_extras(body, 28, quirks) if len(body) > 28 else (),
    )


def _location(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    return parse_location(body, quirks)


def _batch(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    n = len(body)
    if n < 3:
        raise DecodeError(f"jt808 msg 0x0704: {n} bytes, needs item count WORD and type BYTE")
    count, batch_type = _HB.unpack_from(body, 0)
    items: list[msgs.LocationReport] = []
    pos = 3
    while pos < n:
        if pos + 2 > n:
            raise DecodeError(f"jt808 msg 0x0704 item {len(items) + 1}: length WORD cut off at offset {pos}")
        (length,) = _H.unpack_from(body, pos)
        pos += 2
        if pos + length > n:
            raise DecodeError(
                f"jt808 msg 0x0704 item {len(items) + 1} at offset {pos}: declares {length} bytes, "
                f"{n - pos} remain"
            )
        where = f"msg 0x0704 item {len(items) + 1} at offset {pos}"
        items.append(parse_location(body[pos : pos + length], quirks, where))
        pos += length
    if count != len(items):
        quirks.append(f"batch_count_mismatch:declared={count},actual={len(items)}")
    return msgs.LocationBatch(batch_type=batch_type, items=tuple(items))


def _general(body: bytes, header: Header, quirks: list[str]) -> tuple[int, int, int]:
    if len(body) < 5:
        raise DecodeError(
            f"jt808 msg 0x{header.msg_id:04X}: {len(body)} bytes, needs reply serial, reply id, result (5)"
        )
    if len(body) > 5:
        quirks.append(f"trailing_bytes:{len(body) - 5}")
    serial, msg_id, result = _HHB.unpack_from(body, 0)
    return serial, msg_id, result


def _terminal_response(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    return msgs.TerminalGeneralResponse(*_general(body, header, quirks))


def _platform_response(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    return msgs.PlatformGeneralResponse(*_general(body, header, quirks))


def _empty(kind: type[msgs.Heartbeat] | type[msgs.Logout]) -> Handler:
    def handler(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
        if body:
            quirks.append(f"trailing_bytes:{len(body)}")
        return kind()

    return handler


# Register layouts: (maker, model, terminal id) widths; the fixed part ends with the plate colour.
_REGISTER_WIDTHS = {"2011": (5, 8, 7), "2013": (5, 20, 7), "2019": (11, 30, 30)}


def _register_layout(body: bytes, header: Header, quirks: list[str]) -> str:
    n = len(body)
    if header.is_2019 or header.version_flag:
        if n >= 76:
            return "2019"
        quirks.append("register_body_not_2019")
    # 2011 and 2013 share the header; the body tells them apart. In 2013 the plate colour sits at
    # offset 36 and is a small code (0-9); in 2011 bodies offset 36 is inside the plate text.
    if n >= 37 and body[36] < 0x20:
        return "2013"
    if n >= 25:
        return "2011"
    raise DecodeError(f"jt808 msg 0x0100: {n} bytes, shorter than the 25-byte 2011 register body")


def _register(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    layout = _register_layout(body, header, quirks)
    w_maker, w_model, w_id = _REGISTER_WIDTHS[layout]
    province, city = _HH.unpack_from(body, 0)
    pos = 4
    maker = decode_text(body[pos : pos + w_maker], "maker", quirks)
    pos += w_maker
    model = decode_text(body[pos : pos + w_model], "model", quirks)
    pos += w_model
    term_id = decode_text(body[pos : pos + w_id], "terminal_id", quirks)
    pos += w_id
    color = body[pos]
    plate = decode_text(body[pos + 1 :], "plate", quirks)
    return msgs.Register(province, city, maker, model, term_id, color, plate, layout)


def _register_response(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    if len(body) < 3:
        raise DecodeError(f"jt808 msg 0x8100: {len(body)} bytes, needs reply serial and result (3)")
    serial, result = _HB.unpack_from(body, 0)
    code = decode_text(body[3:], "auth_code", quirks) if len(body) > 3 else None
    return msgs.RegisterResponse(serial, result, code)


def _authenticate(body: bytes, header: Header, quirks: list[str]) -> msgs.Body:
    n = len(body)
    if (header.is_2019 or header.version_flag) and n >= 36 and body[0] == n - 36:
        k = body[0]
        return msgs.Authenticate(
            auth_code=decode_text(body[1 : 1 + k], "auth_code", quirks),
            imei=decode_text(body[1 + k : 16 + k], "imei", quirks),
            software_version=decode_text(body[16 + k : 36 + k], "software_version", quirks),
        )
    if header.is_2019:
        quirks.append("authenticate_2013_body_with_2019_header")
    return msgs.Authenticate(auth_code=decode_text(body, "auth_code", quirks))


BODY_DECODERS: dict[int, Handler] = {
    msgs.TERMINAL_GENERAL_RESPONSE: _terminal_response,
    msgs.HEARTBEAT: _empty(msgs.Heartbeat),
    msgs.LOGOUT: _empty(msgs.Logout),
    msgs.REGISTER: _register,
    msgs.AUTHENTICATE: _authenticate,
    msgs.LOCATION_REPORT: _location,
    msgs.LOCATION_BATCH: _batch,
    msgs.PLATFORM_GENERAL_RESPONSE: _platform_response,
    msgs.REGISTER_RESPONSE: _register_response,
}


def decode_body(header: Header, body: bytes, quirks: list[str]) -> msgs.Body:
    """Dispatch a complete (not fragmented, not encrypted) body by message id."""
    if header.is_fragment or header.encryption:
        return msgs.RawBody(body)
    handler = BODY_DECODERS.get(header.msg_id)
    if handler is None:
        return msgs.RawBody(body)
    try:
        return handler(body, header, quirks)
    except (struct.error, IndexError, ValueError) as exc:  # a field cut short or out of range
        raise DecodeError(f"jt808 msg 0x{header.msg_id:04X} body ({len(body)} bytes): {exc}") from exc


def decode_message(content: bytes, *, strict: bool = True, quirks: list[str] | None = None) -> msgs.Message:
    """Decode an un-escaped message: header + body, without the check byte or delimiters."""
    q: list[str] = [] if quirks is None else quirks
    header, start, end = parse_header(content, strict, q)
    body = decode_body(header, content[start:end], q)
    return msgs.Message(header, body, tuple(q))


def frame_content(frame: bytes, *, strict: bool = True, quirks: list[str] | None = None) -> bytes:
    """Wire frame (escaped, with or without 0x7E delimiters) -> verified header + body bytes."""
    q: list[str] = [] if quirks is None else quirks
    raw = strip_delimiters(frame)
    try:
        content = unescape(raw)
    except DecodeError:
        if strict:
            raise
        content = unescape(raw, allow_bare_7d=True)
        q.append("unescaped_7d")
    if len(content) < 13:
        raise DecodeError(
            f"jt808 frame: {len(content)} bytes after un-escaping, needs at least 12 header + 1 check"
        )
    check = content[-1]
    content = content[:-1]
    calc = xor_check(content)
    if calc != check:
        if strict:
            msg_id = int.from_bytes(content[:2], "big")
            raise DecodeError(
                f"jt808 msg 0x{msg_id:04X}: check code at offset {len(content)} is 0x{check:02X}, "
                f"computed 0x{calc:02X} (XOR after un-escaping)"
            )
        q.append(f"check_mismatch:frame=0x{check:02X},computed=0x{calc:02X}")
    return content


def decode_frame(frame: bytes, *, strict: bool = True) -> msgs.Message:
    """Decode one wire frame, as returned by :class:`FrameSplitter` (or with its delimiters)."""
    quirks: list[str] = []
    content = frame_content(frame, strict=strict, quirks=quirks)
    return decode_message(content, strict=strict, quirks=quirks)


def peek_header(frame: bytes) -> Header | None:
    """Best-effort header of a frame that failed to decode, so the gateway can still answer it
    with 0x8001 result 2 (message error); None when not even the header is readable."""
    try:
        content = unescape(strip_delimiters(frame), allow_bare_7d=True)
        header, _, _ = parse_header(content[:-1], False, [])
    except DecodeError:
        return None
    return header

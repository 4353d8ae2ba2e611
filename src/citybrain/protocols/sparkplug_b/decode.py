"""Bytes -> :class:`Payload`. Malformed input raises :class:`DecodeError`; fields we do not model
(metadata, properties, DataSet, Template, extensions) are skipped."""

from __future__ import annotations

import struct

from citybrain.core.errors import DecodeError

from .messages import INT8, INT16, INT32, INT64, MAX_PAYLOAD, Metric, Payload, Value
from .wire import read_fields

# expected wire type per Metric field: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
_WIRE = {
    1: 2,
    2: 0,
    3: 0,
    4: 0,
    5: 0,
    6: 0,
    7: 0,
    8: 2,
    9: 2,
    10: 0,
    11: 0,
    12: 5,
    13: 1,
    14: 0,
    15: 2,
    16: 2,
}


def _expect(num: int, wt: int, want: int, where: str) -> None:
    if wt != want:
        raise DecodeError(f"{where}: field {num} has wire type {wt}, expected {want}")


def _text(v: int | bytes, where: str) -> str:
    assert isinstance(v, bytes)
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"{where}: invalid UTF-8 ({err.reason} at byte {err.start})") from err


def _metric(buf: bytes, index: int) -> Metric:
    m = Metric()
    where = f"metric {index}"
    raw: tuple[int, int | bytes] | None = None
    for num, wt, v in read_fields(buf, 0, len(buf)):
        if num in _WIRE:
            _expect(num, wt, _WIRE[num], where)
        if num == 1:
            m.name = _text(v, where)
        elif num == 2:
            m.alias = int(v) if isinstance(v, int) else None
        elif num == 3:
            m.timestamp = int(v) if isinstance(v, int) else None
        elif num == 4:
            m.datatype = int(v) & 0xFFFFFFFF if isinstance(v, int) else 0
        elif num in (5, 6, 7):
            flag = bool(v)
            if num == 5:
                m.is_historical = flag
            elif num == 6:
                m.is_transient = flag
            else:
                m.is_null = flag
        elif 10 <= num <= 19:
            raw = (num, v)
    if raw is not None and not m.is_null:
        m.value = _value(m.datatype, raw[0], raw[1], where)
    return m


_BITS = {INT8: 8, INT16: 16, INT32: 32, INT64: 64}  # the signed datatypes


def _signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) & 1 else u


def _int(datatype: int, v: int, width: int) -> int:
    """An integer value field (``int_value``: width 32, ``long_value``: 64) as the datatype says.

    A negative Int8/Int16 comes in two forms: sign-extended to the field's width (the
    specification's, Tahu Java's and protobuf's: -5 as 0xFFFFFFFB), or as the two's complement of
    the datatype's own width (Eclipse Tahu Python and mqtt-spb-wrapper: -5 as 251, -300 as 65236).
    Both decode to the negative number, as in Tahu's Java decoder. A value in neither form (an
    Int8 of 1000) is kept as the field's signed value: not range-checked, not truncated."""
    u = v & ((1 << width) - 1)
    bits = _BITS.get(datatype)
    if bits is None:  # unsigned
        return u
    wide = _signed(u, width)
    if bits < width and (1 << (bits - 1)) <= wide < (1 << bits):
        return _signed(wide, bits)  # the narrow two's complement
    return wide


def _value(datatype: int, num: int, v: int | bytes, where: str) -> Value:
    if num in (10, 11):
        assert isinstance(v, int)
        return _int(datatype, v, 32 if num == 10 else 64)
    if num == 12:
        assert isinstance(v, int)
        return float(struct.unpack("<f", v.to_bytes(4, "little"))[0])
    if num == 13:
        assert isinstance(v, int)
        return float(struct.unpack("<d", v.to_bytes(8, "little"))[0])
    if num == 14:
        return bool(v)
    if num == 15:
        return _text(v, where)
    if num == 16:
        assert isinstance(v, bytes)
        return bytes(v)
    return None  # DataSet, Template, extension: not modelled


def decode_payload(data: bytes) -> Payload:
    """Bytes -> Payload; anything malformed raises :class:`DecodeError` saying what and where."""
    if len(data) > MAX_PAYLOAD:
        raise DecodeError(f"Sparkplug payload of {len(data)} bytes exceeds {MAX_PAYLOAD}")
    p = Payload()
    for num, wt, v in read_fields(data, 0, len(data)):
        if num == 1:
            _expect(num, wt, 0, "payload")
            p.timestamp = int(v) if isinstance(v, int) else None
        elif num == 2:
            _expect(num, wt, 2, "payload")
            assert isinstance(v, bytes)
            p.metrics.append(_metric(v, len(p.metrics)))
        elif num == 3:
            _expect(num, wt, 0, "payload")
            p.seq = int(v) if isinstance(v, int) else None
        elif num == 4:
            _expect(num, wt, 2, "payload")
            p.uuid = _text(v, "payload uuid")
        elif num == 5:
            _expect(num, wt, 2, "payload")
            assert isinstance(v, bytes)
            p.body = bytes(v)
    return p

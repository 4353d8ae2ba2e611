""":class:`Payload` -> bytes, in field-number order, leaving out fields that are unset."""

from __future__ import annotations

import struct

from citybrain.core.errors import DecodeError

from .messages import (
    BOOLEAN,
    BYTES,
    DOUBLE,
    FILE,
    FLOAT,
    LONG_TYPES,
    SIGNED32_TYPES,
    TEXT_TYPES,
    UNSIGNED32_TYPES,
    Metric,
    Payload,
    Value,
)
from .wire import key, length_delimited, varint


def _value(dt: int, value: Value) -> bytes:
    if dt in SIGNED32_TYPES or dt in UNSIGNED32_TYPES:
        assert isinstance(value, int) and not isinstance(value, bool)
        return key(10, 0) + varint(value & 0xFFFFFFFF)
    if dt in LONG_TYPES:
        assert isinstance(value, int) and not isinstance(value, bool)
        return key(11, 0) + varint(value)
    if dt == FLOAT:
        assert isinstance(value, int | float)
        return key(12, 5) + struct.pack("<f", value)
    if dt == DOUBLE:
        assert isinstance(value, int | float)
        return key(13, 1) + struct.pack("<d", value)
    if dt == BOOLEAN:
        return key(14, 0) + varint(int(bool(value)))
    if dt in TEXT_TYPES:
        assert isinstance(value, str)
        return length_delimited(15, value.encode())
    if dt in (BYTES, FILE):
        assert isinstance(value, bytes)
        return length_delimited(16, value)
    raise DecodeError(f"cannot encode a value of Sparkplug datatype {dt}")


def encode_metric(m: Metric) -> bytes:
    out = bytearray()
    if m.name:
        out += length_delimited(1, m.name.encode())
    if m.alias is not None:
        out += key(2, 0) + varint(m.alias)
    if m.timestamp is not None:
        out += key(3, 0) + varint(m.timestamp)
    if m.datatype:
        out += key(4, 0) + varint(m.datatype)
    if m.is_historical:
        out += key(5, 0) + b"\x01"
    if m.is_transient:
        out += key(6, 0) + b"\x01"
    if m.is_null or m.value is None:
        out += key(7, 0) + b"\x01"
    else:
        out += _value(m.datatype, m.value)
    return bytes(out)


def encode_payload(p: Payload) -> bytes:
    out = bytearray()
    if p.timestamp is not None:
        out += key(1, 0) + varint(p.timestamp)
    for m in p.metrics:
        out += length_delimited(2, encode_metric(m))
    if p.seq is not None:
        out += key(3, 0) + varint(p.seq)
    if p.uuid is not None:
        out += length_delimited(4, p.uuid.encode())
    if p.body is not None:
        out += length_delimited(5, p.body)
    return bytes(out)

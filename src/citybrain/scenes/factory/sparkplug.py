"""Sparkplug B payloads: a small protocol-buffers wire-format codec written for this project.

We do not use generated code (Eclipse Tahu's) nor the protobuf runtime at run time: the Sparkplug B
``Payload`` and ``Metric`` messages are few fields, and a hand decoder lets us bound every length,
reject what is malformed with our own :class:`DecodeError`, and skip what we do not model. The
field numbers follow the Sparkplug 3.0 specification (chapter 6, ``sparkplug_b.proto``):

``Payload``: 1 timestamp (uint64), 2 metrics (repeated Metric), 3 seq (uint64), 4 uuid (string),
5 body (bytes); 6+ extensions (skipped).
``Metric``: 1 name, 2 alias, 3 timestamp, 4 datatype, 5 is_historical, 6 is_transient, 7 is_null,
8 metadata (skipped), 9 properties (skipped), value oneof: 10 int_value (uint32), 11 long_value
(uint64), 12 float_value (fixed32), 13 double_value (fixed64), 14 boolean_value, 15 string_value,
16 bytes_value, 17 dataset / 18 template / 19 extension (skipped: value None).

Signed integers travel as two's complement: Int8/16/32 in the 32-bit ``int_value``, Int64 in
``long_value``. The tests check this codec against the protobuf runtime, with the schema built from
descriptors, in both directions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from citybrain.sdk import DecodeError

Value = int | float | bool | str | bytes | None

INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 = 1, 2, 3, 4, 5, 6, 7, 8
FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME, TEXT, UUID, DATASET, BYTES, FILE, TEMPLATE = range(9, 20)
DATATYPE_NAMES = {
    1: "Int8",
    2: "Int16",
    3: "Int32",
    4: "Int64",
    5: "UInt8",
    6: "UInt16",
    7: "UInt32",
    8: "UInt64",
    9: "Float",
    10: "Double",
    11: "Boolean",
    12: "String",
    13: "DateTime",
    14: "Text",
    15: "UUID",
    16: "DataSet",
    17: "Bytes",
    18: "File",
    19: "Template",
}
_SIGNED32 = {INT8, INT16, INT32}
_UNSIGNED32 = {UINT8, UINT16, UINT32}
_LONG = {INT64, UINT64, DATETIME}
_TEXT = {STRING, TEXT, UUID}
MAX_PAYLOAD = 4 * 1024 * 1024  # a bigger Sparkplug payload is a mistake, not data


@dataclass
class Metric:
    name: str = ""
    alias: int | None = None
    timestamp: int | None = None
    datatype: int = 0
    value: Value = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False


@dataclass
class Payload:
    timestamp: int | None = None
    metrics: list[Metric] = field(default_factory=list)
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None


# -- decoding ----------------------------------------------------------------------------------------
def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise DecodeError(f"truncated varint at offset {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError(f"varint longer than 10 bytes at offset {pos}")


def _fields(buf: bytes, pos: int, end: int) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): a varint or fixed value as int, a length-delimited as bytes."""
    out: list[tuple[int, int, int | bytes]] = []
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError(f"field number 0 at offset {pos}")
        if wt == 0:
            v, pos = _varint(buf, pos, end)
            out.append((num, wt, v))
        elif wt == 1 or wt == 5:
            size = 8 if wt == 1 else 4
            if pos + size > end:
                raise DecodeError(f"truncated fixed{size * 8} in field {num} at offset {pos}")
            out.append((num, wt, int.from_bytes(buf[pos : pos + size], "little")))
            pos += size
        elif wt == 2:
            n, pos = _varint(buf, pos, end)
            if n > end - pos:
                raise DecodeError(f"field {num} claims {n} bytes, {end - pos} left at offset {pos}")
            out.append((num, wt, buf[pos : pos + n]))
            pos += n
        else:
            raise DecodeError(f"unsupported wire type {wt} in field {num} at offset {pos}")
    return out


def _expect(num: int, wt: int, want: int, where: str) -> None:
    if wt != want:
        raise DecodeError(f"{where}: field {num} has wire type {wt}, expected {want}")


def _text(v: int | bytes, where: str) -> str:
    assert isinstance(v, bytes)
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError(f"{where}: invalid UTF-8 ({err.reason} at byte {err.start})") from err


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


def _metric(buf: bytes, index: int) -> Metric:
    m = Metric()
    where = f"metric {index}"
    raw: tuple[int, int | bytes] | None = None
    for num, wt, v in _fields(buf, 0, len(buf)):
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


def _value(datatype: int, num: int, v: int | bytes, where: str) -> Value:
    if num == 10:
        assert isinstance(v, int)
        u = v & 0xFFFFFFFF
        return u - (1 << 32) if datatype in _SIGNED32 and u & 0x80000000 else u
    if num == 11:
        assert isinstance(v, int)
        u = v & 0xFFFFFFFFFFFFFFFF
        return u - (1 << 64) if datatype == INT64 and u & (1 << 63) else u
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
    for num, wt, v in _fields(data, 0, len(data)):
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


# -- encoding ----------------------------------------------------------------------------------------
def _enc_varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # negative numbers as 64-bit two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num: int, wt: int) -> bytes:
    return _enc_varint(num << 3 | wt)


def _len(num: int, data: bytes) -> bytes:
    return _key(num, 2) + _enc_varint(len(data)) + data


def _enc_value(dt: int, value: Value) -> bytes:
    if dt in _SIGNED32 or dt in _UNSIGNED32:
        assert isinstance(value, int) and not isinstance(value, bool)
        return _key(10, 0) + _enc_varint(value & 0xFFFFFFFF)
    if dt in _LONG:
        assert isinstance(value, int) and not isinstance(value, bool)
        return _key(11, 0) + _enc_varint(value)
    if dt == FLOAT:
        assert isinstance(value, int | float)
        return _key(12, 5) + struct.pack("<f", value)
    if dt == DOUBLE:
        assert isinstance(value, int | float)
        return _key(13, 1) + struct.pack("<d", value)
    if dt == BOOLEAN:
        return _key(14, 0) + _enc_varint(int(bool(value)))
    if dt in _TEXT:
        assert isinstance(value, str)
        return _len(15, value.encode())
    if dt in (BYTES, FILE):
        assert isinstance(value, bytes)
        return _len(16, value)
    raise DecodeError(f"cannot encode a value of Sparkplug datatype {dt}")


def encode_metric(m: Metric) -> bytes:
    out = bytearray()
    if m.name:
        out += _len(1, m.name.encode())
    if m.alias is not None:
        out += _key(2, 0) + _enc_varint(m.alias)
    if m.timestamp is not None:
        out += _key(3, 0) + _enc_varint(m.timestamp)
    if m.datatype:
        out += _key(4, 0) + _enc_varint(m.datatype)
    if m.is_historical:
        out += _key(5, 0) + b"\x01"
    if m.is_transient:
        out += _key(6, 0) + b"\x01"
    if m.is_null or m.value is None:
        out += _key(7, 0) + b"\x01"
    else:
        out += _enc_value(m.datatype, m.value)
    return bytes(out)


def encode_payload(p: Payload) -> bytes:
    out = bytearray()
    if p.timestamp is not None:
        out += _key(1, 0) + _enc_varint(p.timestamp)
    for m in p.metrics:
        out += _len(2, encode_metric(m))
    if p.seq is not None:
        out += _key(3, 0) + _enc_varint(p.seq)
    if p.uuid is not None:
        out += _len(4, p.uuid.encode())
    if p.body is not None:
        out += _len(5, p.body)
    return bytes(out)


# -- topics --------------------------------------------------------------------------------------
MessageType = Literal["NBIRTH", "NDEATH", "NDATA", "NCMD", "DBIRTH", "DDEATH", "DDATA", "DCMD"]
_NODE_TYPES = {"NBIRTH", "NDEATH", "NDATA", "NCMD"}
_DEVICE_TYPES = {"DBIRTH", "DDEATH", "DDATA", "DCMD"}
NAMESPACE = "spBv1.0"


@dataclass(frozen=True)
class SpbTopic:
    group: str
    type: MessageType
    node: str
    device: str = ""


def parse_topic(topic: str) -> SpbTopic:
    """``spBv1.0/<group>/<type>/<node>[/<device>]``; a device id never comes with N* types."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != NAMESPACE:
        raise DecodeError(f"not a Sparkplug B topic: {topic!r}")
    _, group, mtype, node, *rest = parts
    if mtype in _NODE_TYPES and not rest:
        return SpbTopic(group, mtype, node)  # type: ignore[arg-type]
    if mtype in _DEVICE_TYPES and len(rest) == 1 and rest[0]:
        return SpbTopic(group, mtype, node, rest[0])  # type: ignore[arg-type]
    raise DecodeError(f"bad Sparkplug B topic {topic!r}: type {mtype!r} with {len(rest)} device level(s)")


def topic_for(t: SpbTopic) -> str:
    base = f"{NAMESPACE}/{t.group}/{t.type}/{t.node}"
    return f"{base}/{t.device}" if t.device else base

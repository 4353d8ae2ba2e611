"""Additional information items of the 0x0200 location report (2013/2019 Table 27).

After the 28-byte basic block come items ``id BYTE, length BYTE, value``. Known ids with the
length the standard gives decode into typed items; anything else (unknown ids, vendor ids,
a known id with an unexpected length, e.g. a vendor reusing 0x05) is kept as :class:`RawItem`
and skipped by its length. A last item whose declared length runs past the body end is kept as
:class:`TruncatedItem` (JT-SC-16), so the basic position is not lost.

Every item re-encodes to the bytes it came from, in the order it came.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import ClassVar

import msgspec

from citybrain.protocols.jt808.fields import EncodeError

_I = struct.Struct(">I")
_H = struct.Struct(">H")
_HH = struct.Struct(">HH")
_BI = struct.Struct(">BI")
_BIB = struct.Struct(">BIB")
_IHB = struct.Struct(">IHB")


class Mileage(msgspec.Struct, frozen=True):
    """0x01: odometer, DWORD in 0.1 km."""

    ID: ClassVar[int] = 0x01
    km: float


class Fuel(msgspec.Struct, frozen=True):
    """0x02: fuel level, WORD in 0.1 L."""

    ID: ClassVar[int] = 0x02
    litres: float


class RecorderSpeed(msgspec.Struct, frozen=True):
    """0x03: speed from the driving recorder (tachograph), WORD in 0.1 km/h."""

    ID: ClassVar[int] = 0x03
    kmh: float


class AlarmEventId(msgspec.Struct, frozen=True):
    """0x04: id of an alarm event that needs manual confirmation, WORD counting from 1."""

    ID: ClassVar[int] = 0x04
    event_id: int


class Overspeed(msgspec.Struct, frozen=True):
    """0x11: over-speed detail: location type BYTE (+ area/route id DWORD unless type 0)."""

    ID: ClassVar[int] = 0x11
    location_type: int
    area_id: int | None = None


class AreaInOut(msgspec.Struct, frozen=True):
    """0x12: entered/left an area or route: location type, area id, direction (0 in, 1 out)."""

    ID: ClassVar[int] = 0x12
    location_type: int
    area_id: int
    direction: int


class RoadSectionTime(msgspec.Struct, frozen=True):
    """0x13: road-section drive time: section id, time in s, result (0 too short, 1 too long)."""

    ID: ClassVar[int] = 0x13
    section_id: int
    drive_time_s: int
    result: int


class VehicleSignals(msgspec.Struct, frozen=True):
    """0x25: extended vehicle signal bits, DWORD (Table 31)."""

    ID: ClassVar[int] = 0x25
    bits: int


class IoStatus(msgspec.Struct, frozen=True):
    """0x2A: IO status bits, WORD (Table 32)."""

    ID: ClassVar[int] = 0x2A
    bits: int


class Analog(msgspec.Struct, frozen=True):
    """0x2B: analogue inputs, DWORD: bits 0-15 AD0, bits 16-31 AD1."""

    ID: ClassVar[int] = 0x2B
    ad0: int
    ad1: int


class SignalStrength(msgspec.Struct, frozen=True):
    """0x30: wireless network signal strength, BYTE."""

    ID: ClassVar[int] = 0x30
    value: int


class Satellites(msgspec.Struct, frozen=True):
    """0x31: number of GNSS satellites used, BYTE."""

    ID: ClassVar[int] = 0x31
    count: int


class RawItem(msgspec.Struct, frozen=True):
    """An item kept as bytes: unknown or vendor id, or a known id with an unexpected length."""

    item_id: int
    data: bytes


class TruncatedItem(msgspec.Struct, frozen=True):
    """The last item, cut short: its declared length (None if even the length byte is missing)
    runs past the end of the body. Only the bytes present are kept."""

    item_id: int
    declared_length: int | None
    data: bytes


ExtraItem = (
    Mileage
    | Fuel
    | RecorderSpeed
    | AlarmEventId
    | Overspeed
    | AreaInOut
    | RoadSectionTime
    | VehicleSignals
    | IoStatus
    | Analog
    | SignalStrength
    | Satellites
    | RawItem
    | TruncatedItem
)


def _overspeed(v: bytes) -> ExtraItem:
    if len(v) == 1:
        return Overspeed(v[0])
    t, area = _BI.unpack(v)
    return Overspeed(t, area)


def _road_section(v: bytes) -> ExtraItem:
    sid, secs, result = _IHB.unpack(v)
    return RoadSectionTime(sid, secs, result)


def _analog(v: bytes) -> ExtraItem:
    ad1, ad0 = _HH.unpack(v)  # big-endian DWORD: the high word (bits 16-31) comes first
    return Analog(ad0=ad0, ad1=ad1)


def _area(v: bytes) -> ExtraItem:
    t, area, direction = _BIB.unpack(v)
    return AreaInOut(t, area, direction)


# id -> (allowed lengths, decoder)
_DECODERS: dict[int, tuple[tuple[int, ...], Callable[[bytes], ExtraItem]]] = {
    0x01: ((4,), lambda v: Mileage(_I.unpack(v)[0] / 10)),
    0x02: ((2,), lambda v: Fuel(_H.unpack(v)[0] / 10)),
    0x03: ((2,), lambda v: RecorderSpeed(_H.unpack(v)[0] / 10)),
    0x04: ((2,), lambda v: AlarmEventId(_H.unpack(v)[0])),
    0x11: ((1, 5), _overspeed),
    0x12: ((6,), _area),
    0x13: ((7,), _road_section),
    0x25: ((4,), lambda v: VehicleSignals(_I.unpack(v)[0])),
    0x2A: ((2,), lambda v: IoStatus(_H.unpack(v)[0])),
    0x2B: ((4,), _analog),
    0x30: ((1,), lambda v: SignalStrength(v[0])),
    0x31: ((1,), lambda v: Satellites(v[0])),
}


def decode_extras(body: bytes, start: int, quirks: list[str]) -> tuple[ExtraItem, ...]:
    """Decode the items from ``body[start:]`` to the end of the body."""
    items: list[ExtraItem] = []
    pos = start
    end = len(body)
    decoders = _DECODERS
    while pos < end:
        item_id = body[pos]
        if pos + 1 >= end:
            items.append(TruncatedItem(item_id, None, b""))
            quirks.append(f"extra_item_truncated:0x{item_id:02X}@{pos}")
            break
        length = body[pos + 1]
        value = body[pos + 2 : pos + 2 + length]
        if len(value) < length:
            items.append(TruncatedItem(item_id, length, value))
            quirks.append(f"extra_item_truncated:0x{item_id:02X}@{pos}")
            break
        spec = decoders.get(item_id)
        if spec is not None and length in spec[0]:
            items.append(spec[1](value))
        else:
            items.append(RawItem(item_id, value))
        pos += 2 + length
    return tuple(items)


def _scaled(value: float, scale: int, fmt: struct.Struct, field: str) -> bytes:
    raw = round(value * scale)
    try:
        return fmt.pack(raw)
    except struct.error as exc:
        raise EncodeError(f"jt808 extra item {field}={value} does not fit its field") from exc


def encode_item(item: ExtraItem) -> bytes:
    """One item -> ``id, length, value`` bytes."""
    value: bytes
    match item:
        case Mileage(km=km):
            value = _scaled(km, 10, _I, "mileage_km")
        case Fuel(litres=litres):
            value = _scaled(litres, 10, _H, "fuel_l")
        case RecorderSpeed(kmh=kmh):
            value = _scaled(kmh, 10, _H, "recorder_speed_kmh")
        case AlarmEventId(event_id=eid):
            value = _H.pack(eid)
        case Overspeed(location_type=t, area_id=area):
            value = bytes((t,)) if area is None else _BI.pack(t, area)
        case AreaInOut(location_type=t, area_id=area, direction=d):
            value = _BIB.pack(t, area, d)
        case RoadSectionTime(section_id=sid, drive_time_s=secs, result=r):
            value = _IHB.pack(sid, secs, r)
        case VehicleSignals(bits=bits):
            value = _I.pack(bits)
        case IoStatus(bits=bits):
            value = _H.pack(bits)
        case Analog(ad0=ad0, ad1=ad1):
            value = _HH.pack(ad1, ad0)
        case SignalStrength(value=v):
            value = bytes((v,))
        case Satellites(count=c):
            value = bytes((c,))
        case RawItem(item_id=iid, data=data):
            if len(data) > 255:
                raise EncodeError(f"jt808 extra item 0x{iid:02X}: {len(data)} bytes, at most 255")
            return bytes((iid, len(data))) + data
        case TruncatedItem(item_id=iid, declared_length=dl, data=data):
            return bytes((iid,)) if dl is None else bytes((iid, dl)) + data
    return bytes((item.ID, len(value))) + value


def encode_extras(items: tuple[ExtraItem, ...]) -> bytes:
    try:
        return b"".join(encode_item(i) for i in items)
    except (struct.error, ValueError) as exc:
        if isinstance(exc, EncodeError):
            raise
        raise EncodeError(f"jt808 extra item out of range: {exc}") from exc

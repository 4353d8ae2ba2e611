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
from typing import Any, ClassVar, NamedTuple

import msgspec

from citybrain.protocols.jt808.fields import EncodeError


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


class ItemSpec(NamedTuple):
    """How one known item id sits on the wire and, for plain items, in the JSON view."""

    cls: Callable[..., ExtraItem]
    name: str  # JSON "name"
    wire: struct.Struct  # the value's layout
    fields: tuple[str, ...]  # attributes in wire order
    scale: int = 1  # a single scaled field: raw = round(value * scale)
    json: tuple[tuple[str, str], ...] = ()  # (attribute, JSON key with unit); () = its own view
    lengths: tuple[int, ...] = ()  # allowed value lengths when not just ``wire.size``


def _spec(cls: Callable[..., ExtraItem], name: str, fmt: str, *fields: str, **more: Any) -> ItemSpec:
    return ItemSpec(cls, name, struct.Struct(fmt), fields, **more)


#: Table 27: item id -> value layout, scale and JSON key (the key carries the unit).
ITEMS: dict[int, ItemSpec] = {
    0x01: _spec(Mileage, "mileage", ">I", "km", scale=10, json=(("km", "mileage_km"),)),
    0x02: _spec(Fuel, "fuel", ">H", "litres", scale=10, json=(("litres", "fuel_l"),)),
    0x03: _spec(
        RecorderSpeed, "recorder_speed", ">H", "kmh", scale=10, json=(("kmh", "recorder_speed_kmh"),)
    ),
    0x04: _spec(AlarmEventId, "alarm_event_id", ">H", "event_id", json=(("event_id", "alarm_event_id"),)),
    0x11: _spec(Overspeed, "overspeed", ">BI", "location_type", "area_id", lengths=(1, 5)),  # 1: type 0
    0x12: _spec(AreaInOut, "area_in_out", ">BIB", "location_type", "area_id", "direction"),
    0x13: _spec(RoadSectionTime, "road_section_time", ">IHB", "section_id", "drive_time_s", "result"),
    0x25: _spec(VehicleSignals, "vehicle_signals", ">I", "bits"),
    0x2A: _spec(IoStatus, "io_status", ">H", "bits"),
    # a big-endian DWORD: the high word (AD1, bits 16-31) comes first
    0x2B: _spec(Analog, "analog", ">HH", "ad1", "ad0", json=(("ad0", "ad0"), ("ad1", "ad1"))),
    0x30: _spec(SignalStrength, "signal_strength", ">B", "value", json=(("value", "signal_strength"),)),
    0x31: _spec(Satellites, "satellites", ">B", "count", json=(("count", "satellites"),)),
}
BY_CLASS: dict[object, ItemSpec] = {spec.cls: spec for spec in ITEMS.values()}


def _overspeed(v: bytes) -> ExtraItem:
    return Overspeed(v[0]) if len(v) == 1 else Overspeed(*_OVERSPEED.unpack(v))


def _analog(v: bytes) -> ExtraItem:
    ad1, ad0 = _ANALOG.unpack(v)
    return Analog(ad0=ad0, ad1=ad1)


_OVERSPEED, _ANALOG = ITEMS[0x11].wire, ITEMS[0x2B].wire
_SPECIAL_DECODERS = {0x11: _overspeed, 0x2B: _analog}  # optional area id; words high first


def _decoder(spec: ItemSpec) -> Callable[[bytes], ExtraItem]:
    """One specialised function per item, built once: this runs for every item of every 0x0200."""
    cls, unpack, scale = spec.cls, spec.wire.unpack, spec.scale
    if scale != 1:
        return lambda v: cls(unpack(v)[0] / scale)
    if spec.wire.format == ">B":
        return lambda v: cls(v[0])
    if len(spec.fields) == 1:
        return lambda v: cls(unpack(v)[0])
    if spec.fields != getattr(cls, "__struct_fields__", None):
        raise TypeError(
            f"{spec.name}: wire order {spec.fields} differs from the class: needs its own decoder"
        )
    return lambda v: cls(*unpack(v))


# id -> (allowed lengths, decoder)
_DECODERS: dict[int, tuple[tuple[int, ...], Callable[[bytes], ExtraItem]]] = {
    item_id: (spec.lengths or (spec.wire.size,), _SPECIAL_DECODERS.get(item_id) or _decoder(spec))
    for item_id, spec in ITEMS.items()
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
    match item:
        case RawItem(item_id=iid, data=data):
            if len(data) > 255:
                raise EncodeError(f"jt808 extra item 0x{iid:02X}: {len(data)} bytes, at most 255")
            return bytes((iid, len(data))) + data
        case TruncatedItem(item_id=iid, declared_length=dl, data=data):
            return bytes((iid,)) if dl is None else bytes((iid, dl)) + data
        case Overspeed(location_type=t, area_id=None):
            return bytes((item.ID, 1, t))
    spec = BY_CLASS[type(item)]
    if spec.scale != 1:
        name, key = spec.json[0]
        value = _scaled(getattr(item, name), spec.scale, spec.wire, key)
    else:
        value = spec.wire.pack(*(getattr(item, f) for f in spec.fields))
    return bytes((item.ID, len(value))) + value


def encode_extras(items: tuple[ExtraItem, ...]) -> bytes:
    try:
        return b"".join(encode_item(i) for i in items)
    except (struct.error, ValueError) as exc:
        if isinstance(exc, EncodeError):
            raise
        raise EncodeError(f"jt808 extra item out of range: {exc}") from exc

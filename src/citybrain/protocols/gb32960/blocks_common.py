"""Information blocks whose layout both editions share, and the block-codec plumbing.

A block codec is a pair of functions ``decode(reader) -> block`` and ``encode(block, out)``; the
per-edition dispatch tables in :mod:`.realtime` map the information-type byte to one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._codec import EncodeError, Field, Layout, ListOf, Reader, Record, read_count, write_count


@dataclass(frozen=True, slots=True)
class BlockCodec:
    cls: type[Any]
    decode: Callable[[Reader], Any]
    encode: Callable[[Any, bytearray], None]


def record_codec(cls: type[Any], *parts: Layout | ListOf) -> BlockCodec:
    """Codec for a block made of fixed layouts and counted lists, in the dataclass's field order."""
    rec = Record(cls, *parts)
    return BlockCodec(cls, rec.decode, rec.encode)


def fixed_codec(cls: type[Any], layout: Layout) -> BlockCodec:
    """Codec for a block made only of the fields in ``layout``, in the dataclass's field order."""
    return record_codec(cls, layout)


def list_codec(container: type[Any], name: str, width: int, entry: Record) -> BlockCodec:
    """A count (``width`` bytes) then that many ``entry`` records; ``container(items, invalid)``."""

    def decode(r: Reader) -> Any:
        invalid: dict[str, str] = {}
        n = read_count(r, width, name, invalid)
        decode_entry = entry.decode
        return container(None if n is None else [decode_entry(r) for _ in range(n)], invalid)

    def encode(b: Any, out: bytearray) -> None:
        items = getattr(b, name)
        write_count(out, width, items, name, b.invalid)
        for item in items or ():
            entry.encode(item, out)

    return BlockCodec(container, decode, encode)


# ---- probe temperatures: 2016 0x09 (Tables B.7/B.8), 2025 0x08 (same layout) -------------------

SUBSYSTEM = Field("subsystem", 1)
TEMP_C = Field("temperatures_c", 1, offset=40)


@dataclass(slots=True)
class SubsystemTemperatures:
    """One RESS subsystem (2016) or battery pack (2025): probe temperatures, °C."""

    subsystem: int | None
    temperatures_c: list[int | None] | None
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ProbeTemperatures:
    NAME: ClassVar[str] = "probe_temperatures"
    subsystems: list[SubsystemTemperatures] | None
    invalid: dict[str, str] = field(default_factory=dict)


SUBSYSTEM_TEMPERATURES = Record(SubsystemTemperatures, Layout(SUBSYSTEM), ListOf(2, TEMP_C))
TEMPERATURES = list_codec(ProbeTemperatures, "subsystems", 1, SUBSYSTEM_TEMPERATURES)


# ---- user-defined 0x80-0xFE: length WORD + data (Table 19) ---------------------------------------


@dataclass(slots=True)
class CustomBlock:
    """A user-defined block; the standard gives it a length, so parsing continues after it."""

    NAME: ClassVar[str] = "custom"
    type_id: int
    data: bytes


def decode_custom(type_id: int, r: Reader) -> CustomBlock:
    n = r.u16("length")
    return CustomBlock(type_id, r.take(n, "data"))


def encode_custom(b: CustomBlock, out: bytearray) -> None:
    if not 0x80 <= b.type_id <= 0xFE:
        raise EncodeError(f"gb32960: custom block type 0x{b.type_id:02X} outside 0x80..0xFE")
    if len(b.data) > 0xFFFF:
        raise EncodeError("gb32960: custom block longer than 65535 bytes")
    out += len(b.data).to_bytes(2, "big") + b.data


# ---- 2025 signature 0xFF (2025 7.2.2 Table 8, per implementations) ------------------------------

SIGNATURE_ALGORITHMS = {1: "SM2", 2: "RSA", 3: "ECC"}


@dataclass(slots=True)
class Signature:
    """Signature over the bytes from the data-acquisition time up to the byte before 0xFF."""

    NAME: ClassVar[str] = "signature"
    algorithm: int
    r: bytes
    s: bytes


def decode_signature(r: Reader) -> Signature:
    algo = r.u8("algorithm")
    rv = r.take(r.u16("r_length"), "r")
    sv = r.take(r.u16("s_length"), "s")
    return Signature(algo, rv, sv)


def encode_signature(b: Signature, out: bytearray) -> None:
    if len(b.r) > 0xFFFF or len(b.s) > 0xFFFF:
        raise EncodeError("gb32960: signature part longer than 65535 bytes")
    out.append(b.algorithm)
    out += len(b.r).to_bytes(2, "big") + b.r + len(b.s).to_bytes(2, "big") + b.s


SIGNATURE = BlockCodec(Signature, decode_signature, encode_signature)


# ---- gear byte (Annex A.1) ------------------------------------------------------------------------

GEAR_NAMES = {0: "N", **{i: str(i) for i in range(1, 7)}, 13: "R", 14: "D", 15: "P"}


def gear_name(raw: int) -> str:
    return GEAR_NAMES.get(raw & 0x0F, f"reserved({raw & 0x0F})")


class GearByte:
    """The vehicle block's gear byte: bits 0-3 gear, bit 4 braking force, bit 5 driving force."""

    __slots__ = ()
    gear_raw: int

    @property
    def gear(self) -> str:
        return gear_name(self.gear_raw)

    @property
    def braking_force(self) -> bool:
        return bool(self.gear_raw & 0x10)

    @property
    def driving_force(self) -> bool:
        return bool(self.gear_raw & 0x20)


# ---- extremes (2016 0x06 Table 16; 2025 0x32 for super-capacitors) ------------------------------


def extremes_layout(group: str, index_width: int) -> Layout:
    """Highest then lowest cell voltage, then highest then lowest probe temperature: each as
    group number BYTE (``max_voltage_<group>``), cell/probe number (``index_width``), value."""
    return Layout(
        *(
            f
            for extreme, index, value in (
                ("max_voltage", "cell", Field("max_cell_voltage_v", 2, div=1000)),
                ("min_voltage", "cell", Field("min_cell_voltage_v", 2, div=1000)),
                ("max_temp", "probe", Field("max_temp_c", 1, offset=40)),
                ("min_temp", "probe", Field("min_temp_c", 1, offset=40)),
            )
            for f in (Field(f"{extreme}_{group}", 1), Field(f"{extreme}_{index}", index_width), value)
        )
    )

"""Byte-level helpers shared by every GB/T 32960.3 module.

All multi-byte integers are big-endian (GB/T 32960.3-2016 6.1.2). Values follow one rule:
``value = raw / div - offset``; the top two raw values of a sentinel field (0xFE/0xFF,
0xFFFE/0xFFFF, 0xFFFFFFFE/0xFFFFFFFF) mean "abnormal"/"invalid" (6.1.3) and decode to ``None``
with the reason kept in the owner's ``invalid`` dict, so the exact bytes can be written back.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeVar

from citybrain.core.errors import CitybrainError, DecodeError

#: Beijing time: the standard's times are GMT+8 wall-clock (6.4).
BJT = timezone(timedelta(hours=8), "GMT+8")

Reason = Literal["abnormal", "invalid"]
Value = int | float | None
T = TypeVar("T")

_MAX = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}
_FMT = {1: "B", 2: "H", 4: "I"}


class EncodeError(CitybrainError, ValueError):
    """A message that cannot be written as GB/T 32960 bytes (value out of range, bad list)."""


class Reader:
    """Bounds-checked cursor over a frame; offsets in errors are frame offsets."""

    __slots__ = ("base", "buf", "end", "pos", "where")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None, base: int = 0) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.base = base
        self.where = ""

    def remaining(self) -> int:
        return self.end - self.pos

    def offset(self) -> int:
        return self.base + self.pos

    def fail(self, what: str, field: str = "") -> DecodeError:
        ctx = ", ".join(x for x in (self.where, f"field {field}" if field else "") if x)
        return DecodeError(f"gb32960: {what} at offset {self.offset()}" + (f" ({ctx})" if ctx else ""))

    def need(self, n: int, field: str) -> None:
        if self.pos + n > self.end:
            raise self.fail(f"truncated: need {n} byte(s), {self.end - self.pos} left", field)

    def u8(self, field: str) -> int:
        self.need(1, field)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u16(self, field: str) -> int:
        self.need(2, field)
        v = int.from_bytes(self.buf[self.pos : self.pos + 2], "big")
        self.pos += 2
        return v

    def u32(self, field: str) -> int:
        self.need(4, field)
        v = int.from_bytes(self.buf[self.pos : self.pos + 4], "big")
        self.pos += 4
        return v

    def uint(self, width: int, field: str) -> int:
        self.need(width, field)
        v = int.from_bytes(self.buf[self.pos : self.pos + width], "big")
        self.pos += width
        return v

    def take(self, n: int, field: str) -> bytes:
        self.need(n, field)
        v = self.buf[self.pos : self.pos + n]
        self.pos += n
        return bytes(v)

    def text(self, n: int, field: str) -> str:
        # latin-1 maps every byte to one code point, so re-encoding is byte-identical.
        return self.take(n, field).decode("latin-1")

    def time(self, field: str = "time") -> datetime:
        """6 binary (not BCD) bytes YY MM DD hh mm ss, years after 2000, GMT+8 (6.4)."""
        at = self.offset()
        y, mo, d, h, mi, s = self.take(6, field)
        try:
            return datetime(2000 + y, mo, d, h, mi, s, tzinfo=BJT)
        except ValueError as exc:
            where = f" ({self.where})" if self.where else ""
            raise DecodeError(
                f"gb32960: invalid {field} {y:02d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d} "
                f"at offset {at}{where}: {exc}"
            ) from None


def put_time(out: bytearray, t: datetime, field: str = "time") -> None:
    if t.tzinfo is not None:
        t = t.astimezone(BJT)
    if not 2000 <= t.year <= 2099:
        raise EncodeError(f"gb32960: {field} year {t.year} outside 2000..2099")
    out += bytes((t.year - 2000, t.month, t.day, t.hour, t.minute, t.second))


def put_uint(out: bytearray, width: int, v: int, field: str) -> None:
    if not 0 <= v <= _MAX[width]:
        raise EncodeError(f"gb32960: {field}={v} does not fit in {width} byte(s)")
    out += v.to_bytes(width, "big")


def put_text(out: bytearray, s: str, n: int, field: str) -> None:
    try:
        b = s.encode("latin-1")
    except UnicodeEncodeError:
        raise EncodeError(f"gb32960: {field} must be single-byte text") from None
    if len(b) > n:
        raise EncodeError(f"gb32960: {field} longer than {n} bytes")
    out += b.ljust(n, b"\x00")


class Field:
    """One scalar on the wire: ``value = raw / div - offset``; sentinels unless ``sentinel=False``."""

    __slots__ = ("div", "name", "ndigits", "offset", "sentinel", "top", "width")

    def __init__(self, name: str, width: int, div: int = 1, offset: int = 0, sentinel: bool = True) -> None:
        self.name = name
        self.width = width
        self.div = div
        self.offset = offset
        self.sentinel = sentinel
        self.top = _MAX[width]
        self.ndigits = len(str(div)) - 1

    def replace(self, **changes: Any) -> Field:
        """A copy with some of ``width``, ``div``, ``offset``, ``sentinel`` changed."""
        kw = {"width": self.width, "div": self.div, "offset": self.offset, "sentinel": self.sentinel}
        return Field(self.name, **{**kw, **changes})

    def decode(self, raw: int, invalid: dict[str, str], key: str | None = None) -> Any:
        if self.sentinel and raw >= self.top - 1:
            invalid[key or self.name] = "invalid" if raw == self.top else "abnormal"
            return None
        if self.div == 1:
            return raw - self.offset
        if not self.offset:  # IEEE division already gives the double nearest the decimal value
            return raw / self.div
        return round(raw / self.div - self.offset, self.ndigits)

    def decode_many(self, raws: tuple[int, ...] | list[int]) -> list[Any]:
        """Fast path for a list with no sentinel in it."""
        off = self.offset
        if self.div == 1:
            return [r - off for r in raws]
        div, nd = self.div, self.ndigits
        if not off:
            return [r / div for r in raws]
        return [round(r / div - off, nd) for r in raws]

    def encode(self, value: Value, invalid: dict[str, str], key: str | None = None) -> int:
        top = self.top
        name = key or self.name
        if value is None:
            if not self.sentinel:
                raise EncodeError(f"gb32960: {name} has no abnormal/invalid value and cannot be None")
            return top - 1 if invalid.get(name) == "abnormal" else top
        raw = round((value + self.offset) * self.div)
        limit = top - 2 if self.sentinel else top
        if not 0 <= raw <= limit:
            raise EncodeError(f"gb32960: {name}={value} is outside the encodable range")
        return raw


class Layout:
    """A fixed run of fields read and written with one ``struct`` call."""

    __slots__ = ("fields", "names", "size", "st")

    def __init__(self, *fields: Field) -> None:
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        self.st = struct.Struct(">" + "".join(_FMT[f.width] for f in fields))
        self.size = self.st.size

    def derive(self, *, drop: tuple[str, ...] = (), **changes: dict[str, Any]) -> Layout:
        """This table as another edition has it: ``drop`` fields left out, others re-scaled/resized."""
        unknown = (set(drop) | set(changes)) - set(self.names)
        if unknown:
            raise ValueError(f"derive: no field(s) {sorted(unknown)}")
        return Layout(*(f.replace(**changes.get(f.name, {})) for f in self.fields if f.name not in drop))

    def read(self, r: Reader, invalid: dict[str, str]) -> list[Any]:
        r.need(self.size, self.fields[0].name if self.size else "")
        raws = self.st.unpack_from(r.buf, r.pos)
        r.pos += self.size
        return [f.decode(raw, invalid) for f, raw in zip(self.fields, raws, strict=True)]

    def write(self, out: bytearray, obj: object) -> None:
        invalid: dict[str, str] = getattr(obj, "invalid", {})
        raws = [f.encode(getattr(obj, f.name), invalid) for f in self.fields]
        try:
            out += self.st.pack(*raws)
        except struct.error as exc:  # only for non-sentinel fields out of range
            raise EncodeError(f"gb32960: {type(obj).__name__}: {exc}") from None


def read_values(r: Reader, count: int, f: Field, invalid: dict[str, str]) -> list[Any]:
    """``count`` scalars of one kind; a sentinel element is None with ``invalid['name[i]']``."""
    size = count * f.width
    r.need(size, f.name)
    raws = struct.unpack_from(f">{count}{_FMT[f.width]}", r.buf, r.pos)
    r.pos += size
    if not raws or not f.sentinel or max(raws) < f.top - 1:
        return f.decode_many(raws)
    return [f.decode(raw, invalid, f"{f.name}[{i}]") for i, raw in enumerate(raws)]


def write_values(out: bytearray, values: list[Any], f: Field, invalid: dict[str, str]) -> None:
    for i, v in enumerate(values):
        out += f.encode(v, invalid, f"{f.name}[{i}]").to_bytes(f.width, "big")


def read_count(r: Reader, width: int, name: str, invalid: dict[str, str]) -> int | None:
    """A list length; a sentinel count means no list follows (the list becomes None)."""
    raw = r.uint(width, name)
    top = _MAX[width]
    if raw >= top - 1:
        invalid[name] = "invalid" if raw == top else "abnormal"
        return None
    return raw


def write_count(
    out: bytearray, width: int, items: list[Any] | None, name: str, invalid: dict[str, str]
) -> None:
    top = _MAX[width]
    if items is None:
        out += (top - 1 if invalid.get(name) == "abnormal" else top).to_bytes(width, "big")
        return
    if len(items) > top - 2:
        raise EncodeError(f"gb32960: {name} has {len(items)} items, at most {top - 2} fit")
    out += len(items).to_bytes(width, "big")


class ListOf:
    """A counted run of one scalar: count (``width`` bytes, sentinel = no list) then the values."""

    __slots__ = ("field", "name", "width")

    def __init__(self, width: int, field: Field) -> None:
        self.width = width
        self.field = field
        self.name = field.name

    def read(self, r: Reader, invalid: dict[str, str]) -> list[Any] | None:
        n = read_count(r, self.width, self.name, invalid)
        return None if n is None else read_values(r, n, self.field, invalid)

    def write(self, out: bytearray, values: list[Any] | None, invalid: dict[str, str]) -> None:
        write_count(out, self.width, values, self.name, invalid)
        write_values(out, values or [], self.field, invalid)


class Record:
    """A dataclass on the wire: fixed layouts and counted lists, in the dataclass's field order.

    The dataclass takes its wire fields positionally, then ``invalid`` (sentinel reasons).
    """

    __slots__ = ("cls", "layout", "parts")

    def __init__(self, cls: type[Any], *parts: Layout | ListOf) -> None:
        self.cls = cls
        self.parts = parts
        wire = [n for p in parts for n in (p.names if isinstance(p, Layout) else (p.name,))]
        declared = [f.name for f in dataclasses.fields(cls) if f.name != "invalid"]
        if wire != declared:  # the tables and the dataclasses must not drift apart
            raise TypeError(
                f"{getattr(cls, '__name__', cls)}: wire fields {wire} != dataclass fields {declared}"
            )
        # one fixed layout (most blocks and list entries): a single struct call, no loop
        self.layout = parts[0] if len(parts) == 1 and isinstance(parts[0], Layout) else None

    def decode(self, r: Reader) -> Any:
        inv: dict[str, str] = {}
        if self.layout is not None:
            return self.cls(*self.layout.read(r, inv), invalid=inv)
        args: list[Any] = []
        for p in self.parts:
            if isinstance(p, ListOf):
                args.append(p.read(r, inv))
            else:
                args += p.read(r, inv)
        return self.cls(*args, invalid=inv)

    def encode(self, obj: Any, out: bytearray) -> None:
        for p in self.parts:
            if isinstance(p, Layout):
                p.write(out, obj)
            else:
                p.write(out, getattr(obj, p.name), obj.invalid)


def make(cls: Callable[..., T], args: list[Any], invalid: dict[str, str]) -> T:
    """Build a block dataclass from its fields in wire order (they follow the dataclass order)."""
    return cls(*args, invalid=invalid)

"""Protocol-buffers wire format primitives (varints, keys, length-delimited fields), both directions.

Reading bounds every length by the end of the buffer and raises :class:`DecodeError` saying what
and where; writing encodes negative numbers as 64-bit two's complement, as protobuf does.
"""

from __future__ import annotations

from citybrain.core.errors import DecodeError

# wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
Field = tuple[int, int, int | bytes]  # (field number, wire type, value)


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it)."""
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


def read_fields(buf: bytes, pos: int, end: int) -> list[Field]:
    """A varint or fixed value as int, a length-delimited one as bytes."""
    out: list[Field] = []
    while pos < end:
        key_, pos = read_varint(buf, pos, end)
        num, wt = key_ >> 3, key_ & 7
        if num == 0:
            raise DecodeError(f"field number 0 at offset {pos}")
        if wt == 0:
            v, pos = read_varint(buf, pos, end)
            out.append((num, wt, v))
        elif wt == 1 or wt == 5:
            size = 8 if wt == 1 else 4
            if pos + size > end:
                raise DecodeError(f"truncated fixed{size * 8} in field {num} at offset {pos}")
            out.append((num, wt, int.from_bytes(buf[pos : pos + size], "little")))
            pos += size
        elif wt == 2:
            n, pos = read_varint(buf, pos, end)
            if n > end - pos:
                raise DecodeError(f"field {num} claims {n} bytes, {end - pos} left at offset {pos}")
            out.append((num, wt, buf[pos : pos + n]))
            pos += n
        else:
            raise DecodeError(f"unsupported wire type {wt} in field {num} at offset {pos}")
    return out


def varint(n: int) -> bytes:
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


def key(num: int, wt: int) -> bytes:
    return varint(num << 3 | wt)


def length_delimited(num: int, data: bytes) -> bytes:
    return key(num, 2) + varint(len(data)) + data

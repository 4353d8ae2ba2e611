"""JT/T 808 message header (2013 Table 2 and 2019 Table 2, §4.4).

========  ========  ====  ==============================================================
2013 off  2019 off  size  field
========  ========  ====  ==============================================================
0         0         2     message id
2         2         2     body properties: bits 0-9 body length, 10-12 encryption,
                          13 split (sub-package), 14 version flag (2019), 15 reserved
-         4         1     protocol version (2019 only)
4         5         6/10  terminal phone, BCD[6] (2013) or BCD[10] (2019)
10        15        2     serial number
12        17        2+2   package total, package index (only when bit 13 is set)
========  ========  ====  ==============================================================

The layout is chosen by checking which header length makes the declared body length add up,
which also catches the real-device quirk of a 2013 header with bit 14 set (JT-SC-15).
"""

from __future__ import annotations

import struct

import msgspec

from citybrain.core.errors import DecodeError
from citybrain.protocols.jt808.fields import EncodeError, phone_from_bcd, phone_to_bcd

_HH = struct.Struct(">HH")
_H = struct.Struct(">H")
MAX_BODY = 0x3FF

ENCRYPTION_NAMES = {0: "none", 1: "rsa"}


class Header(msgspec.Struct, frozen=True):
    """A decoded header. ``protocol_version is None`` means the 12/16-byte 2011/2013 layout."""

    msg_id: int
    phone: str
    serial: int
    protocol_version: int | None = None
    version_flag: bool = False
    encryption: int = 0
    pkg_total: int | None = None
    pkg_index: int | None = None
    reserved_bit15: bool = False

    @property
    def is_2019(self) -> bool:
        return self.protocol_version is not None

    @property
    def is_fragment(self) -> bool:
        return self.pkg_total is not None

    @property
    def edition(self) -> str:
        """'2019' for the 2019 header, '2013' for the 2011/2013 header (they share one layout)."""
        return "2019" if self.protocol_version is not None else "2013"

    @property
    def length(self) -> int:
        """Header size in bytes (12, 16, 17 or 21)."""
        return (17 if self.protocol_version is not None else 12) + (4 if self.pkg_total is not None else 0)


def parse_header(msg: bytes, strict: bool, quirks: list[str]) -> tuple[Header, int, int]:
    """Parse the header of an un-escaped message (header + body, no check byte).

    Returns the header and the body's start and end offsets. In non-strict mode a declared body
    length that disagrees with the bytes present is recorded as a quirk instead of an error.
    """
    n = len(msg)
    if n < 12:
        raise DecodeError(f"jt808 header: {n} bytes at offset 0, shorter than the 12-byte 2013 header")
    msg_id, props = _HH.unpack_from(msg, 0)
    declared = props & MAX_BODY
    split = bool(props & 0x2000)
    vflag = bool(props & 0x4000)
    extra = 4 if split else 0
    h13 = 12 + extra
    h19 = 17 + extra
    if vflag and n == h19 + declared:
        is_2019 = True
    elif n == h13 + declared:
        is_2019 = False
        if vflag:
            quirks.append("version_flag_with_2013_header")
    elif strict:
        want = f"{h19} (2019) " if vflag else ""
        raise DecodeError(
            f"jt808 header of msg 0x{msg_id:04X}: field body_properties (offset 2) declares a "
            f"{declared}-byte body, but {n} bytes do not fit a header of {want}or {h13} (2013) bytes"
        )
    else:
        is_2019 = vflag and n >= h19
        hlen = h19 if is_2019 else h13
        quirks.append(f"body_length_mismatch:declared={declared},actual={max(n - hlen, 0)}")
    hlen = h19 if is_2019 else h13
    if n < hlen:
        raise DecodeError(f"jt808 header of msg 0x{msg_id:04X}: {n} bytes, the header needs {hlen}")
    if is_2019:
        version: int | None = msg[4]
        phone, is_bcd = phone_from_bcd(msg[5:15])
        pos = 15
    else:
        version = None
        phone, is_bcd = phone_from_bcd(msg[4:10])
        pos = 10
    if not is_bcd:
        quirks.append("phone_not_bcd")
    (serial,) = _H.unpack_from(msg, pos)
    total: int | None = None
    index: int | None = None
    if split:
        total, index = _HH.unpack_from(msg, pos + 2)
        if strict and not 1 <= index <= total:
            raise DecodeError(
                f"jt808 header of msg 0x{msg_id:04X}: package index {index} of total {total} "
                f"at offset {pos + 4} (index counts from 1)"
            )
    header = Header(
        msg_id=msg_id,
        phone=phone,
        serial=serial,
        protocol_version=version,
        version_flag=vflag,
        encryption=(props >> 10) & 0x7,
        pkg_total=total,
        pkg_index=index,
        reserved_bit15=bool(props & 0x8000),
    )
    return header, hlen, n


def encode_header(h: Header, body_len: int) -> bytes:
    """Header -> bytes, with ``body_len`` in the body-properties word."""
    if body_len > MAX_BODY:
        raise EncodeError(
            f"jt808 msg 0x{h.msg_id:04X}: body of {body_len} bytes exceeds 1023; split it into packages"
        )
    if not 0 <= h.encryption <= 7:
        raise EncodeError(f"jt808 encryption {h.encryption} does not fit 3 bits")
    props = body_len | h.encryption << 10
    if h.pkg_total is not None:
        props |= 0x2000
    if h.version_flag:
        props |= 0x4000
    if h.reserved_bit15:
        props |= 0x8000
    try:
        out = _HH.pack(h.msg_id, props)
        if h.protocol_version is not None:
            out += bytes((h.protocol_version,)) + phone_to_bcd(h.phone, 10)
        else:
            out += phone_to_bcd(h.phone, 6)
        out += _H.pack(h.serial)
        if h.pkg_total is not None:
            out += _HH.pack(h.pkg_total, h.pkg_index if h.pkg_index is not None else 1)
    except (struct.error, ValueError) as exc:
        if isinstance(exc, EncodeError):
            raise
        raise EncodeError(f"jt808 header of msg 0x{h.msg_id:04X}: {exc}") from exc
    return out

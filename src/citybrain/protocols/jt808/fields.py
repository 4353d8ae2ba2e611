"""JT/T 808 data types (section 4.2): BCD[n], the BCD time, and fixed-width / variable STRING fields.

Times on the wire are BCD ``YYMMDDhhmmss`` in GMT+8 (Beijing time). We turn them into UTC epoch
milliseconds; ``YY`` is taken as 20YY.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citybrain.core.errors import CitybrainError

GMT8_OFFSET_MS = 8 * 3600 * 1000
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_GMT8 = timedelta(hours=8)


class EncodeError(CitybrainError, ValueError):
    """A message that cannot be put on the wire (a value out of its field's range)."""


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def bcd_time_to_ms(raw: bytes) -> int | None:
    """BCD[6] GMT+8 time -> UTC epoch ms, or ``None`` when it is not a valid date-time.

    Devices without a fix often send all zeros; other garbage is also reported as ``None`` so the
    rest of the report is not lost (the caller records a quirk).
    """
    digits = raw.hex()
    if not digits.isdigit():
        return None
    yy, mo, dd = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    hh, mi, ss = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    if not 1 <= mo <= 12 or hh > 23 or mi > 59 or ss > 59 or dd < 1:
        return None
    year = 2000 + yy
    dim = 29 if mo == 2 and year % 4 == 0 else _DAYS_IN_MONTH[mo - 1]  # 2000-2099: every 4th
    if dd > dim:
        return None
    secs = _days_from_civil(year, mo, dd) * 86400 + hh * 3600 + mi * 60 + ss
    return secs * 1000 - GMT8_OFFSET_MS


def ms_to_bcd_time(ms: int | None) -> bytes:
    """UTC epoch ms -> BCD[6] GMT+8 (milliseconds dropped); ``None`` -> six zero bytes."""
    if ms is None:
        return bytes(6)
    local = datetime.fromtimestamp(ms // 1000, UTC) + _GMT8
    if not 2000 <= local.year <= 2099:
        raise EncodeError(f"jt808 time {ms} ms is outside 2000-2099 (GMT+8), BCD YY cannot hold it")
    return bytes.fromhex(local.strftime("%y%m%d%H%M%S"))


def gmt8_text(ms: int) -> str:
    """UTC epoch ms -> 'YYYY-MM-DD hh:mm:ss' as the terminal wrote it (GMT+8)."""
    return (datetime.fromtimestamp(ms / 1000, UTC) + _GMT8).strftime("%Y-%m-%d %H:%M:%S")


def utc_text(ms: int) -> str:
    """UTC epoch ms -> ISO 8601 with a Z suffix."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def phone_from_bcd(raw: bytes) -> tuple[str, bool]:
    """BCD[6] / BCD[10] terminal phone -> (digits as on the wire, is_bcd).

    Leading zeros are kept (they are part of the fixed width). Some devices put a non-BCD id
    here; its nibbles are kept as upper-case hex so the id still round-trips.
    """
    digits = raw.hex()
    if digits.isdigit():
        return digits, True
    return digits.upper(), False


def phone_to_bcd(phone: str, width: int) -> bytes:
    """Digits -> BCD[width], left-padded with '0'."""
    if len(phone) > 2 * width:
        raise EncodeError(f"jt808 phone {phone!r} has more than {2 * width} digits")
    try:
        return bytes.fromhex(phone.rjust(2 * width, "0"))
    except ValueError as exc:
        raise EncodeError(f"jt808 phone {phone!r} is not BCD digits") from exc


def normalise_phone(phone: str) -> str:
    """Terminal key independent of edition: the phone without its leading-zero padding."""
    return phone.lstrip("0") or "0"


def decode_text(raw: bytes, field: str, quirks: list[str]) -> str:
    """STRING / fixed-width BYTE[n] -> text.

    NUL padding is removed on both sides (2013 pads at the end, 2019 at the front). ASCII '0'
    padding used by some devices is *kept*: it cannot be told apart from a real leading zero.
    Bytes that are not GBK become U+FFFD and a ``text_not_gbk:<field>`` quirk is recorded.
    """
    raw = raw.strip(b"\x00")
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        quirks.append(f"text_not_gbk:{field}")
        return raw.decode("gbk", errors="replace")


def encode_text(text: str) -> bytes:
    """Text -> GBK (characters GBK cannot hold become '?')."""
    return text.encode("gbk", errors="replace")


def fixed_text(text: str, width: int, field: str, *, pad_front: bool) -> bytes:
    """Text -> BYTE[width] padded with 0x00 (front for 2019, end for 2011/2013)."""
    raw = encode_text(text)
    if len(raw) > width:
        raise EncodeError(f"jt808 {field} {text!r} is {len(raw)} bytes, the field holds {width}")
    pad = bytes(width - len(raw))
    return pad + raw if pad_front else raw + pad

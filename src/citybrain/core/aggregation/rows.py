"""One delivered row checked against its dataset's columns: typed values, or the problems that
refuse it, each naming the row and the field (``Problem``; the batch names the file or table).

Values come as the readers give them (text from CSV, numbers and dates from Excel and Parquet,
whatever JSON holds) and leave as JSON-able types: text, int, float, bool, and dates as ISO
"YYYY-MM-DD" text. A row missing a required value, a key, or holding a value its column refuses
is refused whole; the other rows of the batch go on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.divisions import nanchang
from citybrain.core.errors import Problem

_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")
_TRUE = {"1", "true", "t", "yes", "y", "是", "有"}
_FALSE = {"0", "false", "f", "no", "n", "否", "无"}
_AREA_LENGTHS = {2, 4, 6, 9, 12, 15}  # province .. county (GB/T 2260), township, village, unit grid


class Refused(ValueError):
    """Why a value does not fit its column (the message is the reason shown)."""


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():  # Excel gives 13800001234 as 13800001234.0
        return str(int(v))
    return str(v).strip()


_GROUPED = re.compile(r"^[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")


def _grouped(text: str) -> str:
    """ "1,234,567.5" without its thousands separators; any other comma stays (and refuses it:
    "1,5" may be a decimal comma)."""
    return text.replace(",", "") if _GROUPED.match(text) else text


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise Refused(f"{v!r} is a yes/no, not a whole number")
    if isinstance(v, int):
        return v
    if isinstance(v, float | Decimal):
        if math.isfinite(v) and v == int(v):
            return int(v)
        raise Refused(f"{v!r} is not a whole number")
    text = _grouped(str(v).strip())
    if len(text) > 30 or not re.fullmatch(r"[-+]?[0-9]+", text):
        raise Refused(f"{_text(v)!r} is not a whole number")
    return int(text)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise Refused(f"{v!r} is a yes/no, not a number")
    if isinstance(v, int | float):
        out = float(v)
    else:
        text = _grouped(str(v).strip())
        try:
            out = float(text)
        except ValueError:
            raise Refused(f"{_text(v)!r} is not a number") from None
    if not math.isfinite(out):
        raise Refused(f"{v!r} is not a finite number")
    return out


def _date(v: Any) -> str:
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    text = _text(v)
    if re.fullmatch(r"\d{8}", text):  # 20261130
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    m = _DATE.match(text)
    if m is None:
        raise Refused(f"{text!r} is not a date (YYYY-MM-DD)")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError as err:
        raise Refused(f"{text!r} is not a date: {err}") from None


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    text = _text(v).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Refused(f"{_text(v)!r} is not yes/no (是/否, 1/0, true/false)")


_ID = re.compile(r"^[1-9][0-9]{16}[0-9X]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_digit(first17: str) -> str:
    """The resident ID's check character (GB 11643, ISO 7064 MOD 11-2)."""
    check = (12 - sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11) % 11
    return "X" if check == 10 else str(check)


def _id_number(v: Any) -> str:
    """An 18-character resident ID: its format, birth date and check digit. Not its birth place:
    a number keeps the county code of where it was issued, and county codes come and go (a check
    against today's list, as python-stdnum makes, refuses genuine numbers of old districts)."""
    text = _text(v).upper()
    if len(text) != 18:
        raise Refused(f"an ID number has 18 characters, not {len(text)}")
    if not _ID.match(text):
        raise Refused("an ID number is 17 digits and a digit or X")
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise Refused(f"not a valid resident ID number: no birth date {text[6:14]}") from None
    if born.year < 1900:
        raise Refused(f"not a valid resident ID number: birth date {born} before 1900")
    if text[17] != id_check_digit(text[:17]):
        raise Refused("not a valid resident ID number: its check digit is wrong")
    return text


def _area(v: Any) -> str:
    text = _text(v)
    if not re.fullmatch(r"[0-9]+", text) or len(text) not in _AREA_LENGTHS:
        raise Refused(f"{text!r} is not an area code (2-15 digits: GB/T 2260 or statistical division)")
    return text


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": _text, "int": _int, "float": _float, "date": _date, "bool": _bool, "id_number": _id_number,
    "area": _area,
}  # fmt: skip


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


def _value(c: Column, raw: Any) -> Any:
    value = CONVERT[c.type](raw)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if c.min is not None and value < c.min:
            raise Refused(f"{value} is below the minimum {_num(c.min)}")
        if c.max is not None and value > c.max:
            raise Refused(f"{value} is above the maximum {_num(c.max)}")
    if c.known_area and not nanchang().known(value):
        raise Refused(f"{value} is not a division of the city's list (国家统计局 2023 统计用区划代码)")
    if c.choices and str(value) not in c.choices:
        raise Refused(f"{value!r} is not one of {c.choices}")
    return value


Checked = tuple[dict[str, Any] | None, list[Problem]]


def check_row(ds: Dataset, row_no: int, raw: Mapping[str, Any]) -> Checked:
    """The row's typed values (None when refused) and its problems (every one, not the first)."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for c in ds.columns:
        got = raw.get(c.header)
        if _empty(got):
            if c.required or c.name in ds.key:
                problems.append(Problem(row_no, c.header, "is empty; it is required"))
            values[c.name] = None
            continue
        try:
            values[c.name] = _value(c, got)
        except Refused as err:
            # a sensitive value never reaches a reason (reasons are shown where values are masked)
            reason = _SECRET.sub("…", str(err)) if c.sensitive else str(err)
            problems.append(Problem(row_no, c.header, reason))
    if not problems:
        parts = [str(values[k]) for k in ds.key]
        if any("|" in p for p in parts):
            problems.append(
                Problem(row_no, ds.column(ds.key[0]).header, "a key value holds '|', which joins keys")
            )
        elif len("|".join(parts)) > KEY_MAX:
            problems.append(
                Problem(row_no, ds.column(ds.key[0]).header, f"the key is over {KEY_MAX} characters")
            )
    return (None, problems) if problems else (values, [])


KEY_MAX = 128  # an event key's limit
_SECRET = re.compile(r"'[^']*'|\d{3,}")  # quoted values and digit runs in a reason


def key_of(ds: Dataset, values: Mapping[str, Any]) -> str:
    """The entity a row is about: its key columns' values joined with "|" (check_row refuses a
    key value holding "|" and keys over ``KEY_MAX``)."""
    return "|".join(str(values[k]) for k in ds.key)


def masked_raw(ds: Dataset, raw: Mapping[str, Any]) -> dict[str, str]:
    """A refused row as kept for the department to fix it: sensitive columns masked."""
    sensitive = {c.header for c in ds.columns if c.sensitive}
    sensitive.add("")  # cells under no header: whatever slipped there (an unquoted comma) is hidden
    out: dict[str, str] = {}
    for k, v in raw.items():
        text = "" if v is None else _text(v)
        if k == "" and text:
            out[""] = "*" * min(len(text), 8)
        elif k not in sensitive or not text:
            out[str(k)] = text
        else:  # the ends of a long value tell the department which row it is; a short one shows nothing
            out[str(k)] = text[:2] + "*" * (len(text) - 4) + text[-2:] if len(text) > 6 else "*" * len(text)
    return out

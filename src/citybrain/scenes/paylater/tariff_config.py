"""Parking tariffs as data: the types a tariff file describes and the checks that refuse a bad one.

A tariff file (TOML, the shipped demo is ``citybrain/data/paylater/tariffs.toml``) holds
``[lots.<id>]`` (name, district, capacity, tariff) and ``[tariffs.<id>]`` with dated
``[[tariffs.<id>.versions]]``, each with its day split into ``[[...periods]]``. Every problem in a
file is found before anything is refused, and each is named by file, place and field, so an
operator fixes a price list in one go instead of one error per restart. Pricing itself is in
``tariffs.py``; this module only reads and checks.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

try:
    TZ: timezone | ZoneInfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tz database on the host: Shanghai has been UTC+8 without DST since 1991
    TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_MINUTES = 1440
MAX_FEN = 10_000_000  # 100 000 yuan: any single price above this is a typo
FreeCounts = Literal["whole", "excess"]


class TariffError(ValueError):
    """A tariff file or a fee request that cannot be priced; ``problems`` lists each one found."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems) or (message,)


class Period(msgspec.Struct, frozen=True):
    """A part of the local day with its own price: [start, end) in minutes of the day, wrapping
    midnight when end <= start (start == end: the whole day, from start to start)."""

    name: str
    start: int
    end: int
    unit_minutes: int  # a started unit counts in full
    unit_fen: int
    first_unit_minutes: int  # = unit_minutes when the file gives no first unit
    first_unit_fen: int  # = unit_fen when the file gives no first unit
    cap_fen: int | None  # most one continuous stretch of this period costs

    def covers(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


class Version(msgspec.Struct, frozen=True):
    """A tariff's prices in force from ``from_ms`` until the next version's."""

    from_ms: int
    from_text: str  # as written in the file, for receipts
    free_minutes: int
    free_counts: FreeCounts  # whole: a longer stay pays all of it; excess: only what exceeds the grace
    daily_cap_fen: int | None  # most one 24-hour cycle from entry costs
    nev_discount_pct: int  # new-energy vehicles pay this percentage less
    periods: tuple[Period, ...]

    def period_at(self, minute: int) -> Period:
        return next(p for p in self.periods if p.covers(minute))


class Tariff(msgspec.Struct, frozen=True):
    id: str
    name: str
    versions: tuple[Version, ...]  # strictly increasing from_ms


class Lot(msgspec.Struct, frozen=True):
    id: str
    name: str
    district: str  # administrative division code, e.g. 360102 (东湖区)
    capacity: int
    tariff: str


@dataclass(frozen=True)
class _Field:
    """How one key of a table is read: its kind, whether it must be there, and its range."""

    kind: Literal["int", "str", "hhmm", "datetime", "choice", "district"]
    required: bool = True
    low: int = 0
    high: int = MAX_FEN
    choices: tuple[str, ...] = ()


LOT_FIELDS = {
    "name": _Field("str"),
    "district": _Field("district"),
    "capacity": _Field("int", low=1, high=1_000_000),
    "tariff": _Field("str"),
}
TARIFF_FIELDS = {"name": _Field("str", required=False)}  # and versions, read as tables
VERSION_FIELDS = {
    "from": _Field("datetime"),
    "free_minutes": _Field("int", high=DAY_MINUTES),
    "free_counts": _Field("choice", required=False, choices=("whole", "excess")),
    "daily_cap_fen": _Field("int", required=False, low=1),
    "nev_discount_pct": _Field("int", required=False, high=100),
}  # and periods, read as tables
PERIOD_FIELDS = {
    "name": _Field("str"),
    "start": _Field("hhmm"),
    "end": _Field("hhmm"),
    "unit_minutes": _Field("int", low=1, high=DAY_MINUTES),
    "unit_fen": _Field("int"),
    "first_unit_minutes": _Field("int", required=False, low=1, high=DAY_MINUTES),
    "first_unit_fen": _Field("int", required=False),
    "cap_fen": _Field("int", required=False, low=1),
}
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DISTRICT = re.compile(r"\d{6}")
Value = int | str | None


def local_ms(moment: datetime) -> int:
    """Epoch milliseconds of a local (Asia/Shanghai) wall-clock time."""
    return (moment.replace(tzinfo=TZ) - EPOCH) // timedelta(milliseconds=1)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class _Reader:
    """Collects every problem of one file, each prefixed with where it is."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def table(self, where: str, value: object) -> dict[str, object]:
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return value
        self.add(where, f"must be a table, got {type(value).__name__}")
        return {}

    def tables(self, where: str, value: object) -> list[dict[str, object]]:
        if not isinstance(value, list) or not value:
            self.add(where, "missing" if value is None else "must be a non-empty array of tables")
            return []
        return [self.table(f"{where}[{i}]", item) for i, item in enumerate(value)]

    def fields(
        self, where: str, table: Mapping[str, object], spec: Mapping[str, _Field], tables: str = ""
    ) -> dict[str, Value]:
        """The table's keys read by ``spec`` (``tables``: the key of its sub-tables, read apart); a
        missing optional key, or a bad one, reads as None."""
        known = [*spec, tables] if tables else list(spec)
        for key in sorted(set(table) - set(known)):
            self.add(f"{where}.{key}", f"unknown field (known: {', '.join(known)})")
        out: dict[str, Value] = {}
        for key, field in spec.items():
            if key not in table:
                if field.required:
                    self.add(f"{where}.{key}", "missing")
                out[key] = None
            else:
                out[key] = self._value(f"{where}.{key}", table[key], field)
        return out

    def _value(self, where: str, raw: object, field: _Field) -> Value:
        if field.kind == "int":
            if isinstance(raw, int) and not isinstance(raw, bool) and field.low <= raw <= field.high:
                return raw
            self.add(where, f"must be an integer from {field.low} to {field.high}, got {raw!r}")
            return None
        if field.kind == "datetime":
            return self._datetime(where, raw)
        text = raw if isinstance(raw, str) else None
        checks: dict[str, tuple[Callable[[str], bool], str]] = {
            "str": (lambda s: bool(s.strip()), "a non-empty string"),
            "hhmm": (lambda s: _HHMM.fullmatch(s) is not None, 'a local time "HH:MM" (00:00 to 23:59)'),
            "choice": (lambda s: s in field.choices, f"one of {', '.join(field.choices)}"),
            "district": (lambda s: _DISTRICT.fullmatch(s) is not None, 'a 6-digit code, e.g. "360102"'),
        }
        ok, wanted = checks[field.kind]
        if text is None or not ok(text):
            self.add(where, f"must be {wanted}, got {raw!r}")
            return None
        return int(text[:2]) * 60 + int(text[3:]) if field.kind == "hhmm" else text

    def _datetime(self, where: str, raw: object) -> str | None:
        """The local date-time, as "YYYY-MM-DDTHH:MM[:SS]"."""
        moment: datetime | None = raw if isinstance(raw, datetime) else None
        if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?", raw):
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                moment = None
        if moment is None or moment.tzinfo is not None or moment.year < 1971:
            example = '"2026-01-01T00:00"'
            self.add(where, f"must be a local date-time after 1970, no offset, e.g. {example}, got {raw!r}")
            return None
        return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def _coverage_problems(periods: Sequence[Period]) -> list[str]:
    """Gaps and overlaps of the periods over the day, as runs of minutes."""
    count = [0] * DAY_MINUTES
    for period in periods:
        for minute in range(DAY_MINUTES):
            count[minute] += period.covers(minute)
    problems: list[str] = []
    minute = 0
    while minute < DAY_MINUTES:
        end = minute
        while end < DAY_MINUTES and count[end] == count[minute]:
            end += 1
        if count[minute] != 1:
            what = "covered by no period" if count[minute] == 0 else f"covered by {count[minute]} periods"
            problems.append(f"{hhmm(minute)}-{hhmm(end)} is {what}")
        minute = end
    return problems


def _period(r: _Reader, where: str, table: Mapping[str, object]) -> Period | None:
    v = r.fields(where, table, PERIOD_FIELDS)
    if ("first_unit_minutes" in table) != ("first_unit_fen" in table):
        r.add(where, "first_unit_minutes and first_unit_fen go together: give both or neither")
        return None
    needed = [v[k] for k in ("name", "start", "end", "unit_minutes", "unit_fen")]
    if any(x is None for x in needed):
        return None
    name, start, end, unit_minutes, unit_fen = needed
    assert isinstance(name, str) and isinstance(start, int) and isinstance(end, int)
    assert isinstance(unit_minutes, int) and isinstance(unit_fen, int)
    first_minutes, first_fen, cap = v["first_unit_minutes"], v["first_unit_fen"], v["cap_fen"]
    period = Period(
        name=name,
        start=start,
        end=end,
        unit_minutes=unit_minutes,
        unit_fen=unit_fen,
        first_unit_minutes=first_minutes if isinstance(first_minutes, int) else unit_minutes,
        first_unit_fen=first_fen if isinstance(first_fen, int) else unit_fen,
        cap_fen=cap if isinstance(cap, int) else None,
    )
    if period.cap_fen is not None and period.cap_fen < max(period.unit_fen, period.first_unit_fen):
        r.add(f"{where}.cap_fen", f"{period.cap_fen} is below one unit's price")
    return period


def _version(r: _Reader, where: str, table: Mapping[str, object]) -> Version | None:
    v = r.fields(where, table, VERSION_FIELDS, tables="periods")
    items = r.tables(f"{where}.periods", table.get("periods"))
    periods = [_period(r, f"{where}.periods[{i}]", item) for i, item in enumerate(items)]
    names = [p.name for p in periods if p is not None]
    for name in sorted({n for n in names if names.count(n) > 1}):
        r.add(f"{where}.periods", f"the name {name!r} is used twice")
    from_text, free, cap, pct = v["from"], v["free_minutes"], v["daily_cap_fen"], v["nev_discount_pct"]
    good = [p for p in periods if p is not None]
    if len(good) < len(periods) or not good or not isinstance(from_text, str) or not isinstance(free, int):
        return None
    for problem in _coverage_problems(good):
        r.add(f"{where}.periods", problem)
    dearest = max(max(p.unit_fen, p.first_unit_fen) for p in good)
    if isinstance(cap, int) and cap < dearest:
        r.add(f"{where}.daily_cap_fen", f"{cap} is below one unit's price ({dearest})")
    return Version(
        from_ms=local_ms(datetime.fromisoformat(from_text)),
        from_text=from_text,
        free_minutes=free,
        free_counts="excess" if v["free_counts"] == "excess" else "whole",
        daily_cap_fen=cap if isinstance(cap, int) else None,
        nev_discount_pct=pct if isinstance(pct, int) else 0,
        periods=tuple(good),
    )


def _tariff(r: _Reader, tariff_id: str, table: Mapping[str, object]) -> Tariff | None:
    where = f"tariffs.{tariff_id}"
    name = r.fields(where, table, TARIFF_FIELDS, tables="versions")["name"]
    versions: list[Version | None] = []
    for i, item in enumerate(r.tables(f"{where}.versions", table.get("versions"))):
        said = f" (from {item['from']})" if "from" in item else ""
        versions.append(_version(r, f"{where}.versions[{i}]{said}", item))
    good = [x for x in versions if x is not None]
    for before, after in itertools.pairwise(good):
        if after.from_ms <= before.from_ms:
            r.add(f"{where}.versions", f"from {after.from_text} does not come after {before.from_text}")
    if len(good) < len(versions) or not good:
        return None
    return Tariff(tariff_id, name if isinstance(name, str) else tariff_id, tuple(good))


def _lot(r: _Reader, lot_id: str, table: Mapping[str, object], tariff_ids: Sequence[str]) -> Lot | None:
    v = r.fields(f"lots.{lot_id}", table, LOT_FIELDS)
    name, district, capacity, tariff_id = v["name"], v["district"], v["capacity"], v["tariff"]
    if isinstance(tariff_id, str) and tariff_id not in tariff_ids:
        r.add(f"lots.{lot_id}.tariff", f"no tariff {tariff_id!r} in this file")
        return None
    if isinstance(name, str) and isinstance(district, str) and isinstance(capacity, int):
        return Lot(lot_id, name, district, capacity, str(tariff_id))
    return None


def parse_tariffs(data: object, source: str) -> tuple[dict[str, Lot], dict[str, Tariff]]:
    """The lots and tariffs of a decoded tariff file; TariffError lists every problem in it."""
    r = _Reader(source)
    top = r.table("(file)", data)
    for key in sorted(set(top) - {"lots", "tariffs"}):
        r.add(key, "unknown table (known: lots, tariffs)")
    tariff_tables = r.table("tariffs", top.get("tariffs", {}))
    tariffs = {tid: _tariff(r, tid, r.table(f"tariffs.{tid}", t)) for tid, t in tariff_tables.items()}
    lot_tables = r.table("lots", top.get("lots", {}))
    known = list(tariff_tables)
    lots = {lid: _lot(r, lid, r.table(f"lots.{lid}", t), known) for lid, t in lot_tables.items()}
    if not lot_tables:
        r.add("lots", "no lot in the file")
    if r.problems:
        listing = "".join(f"\n  - {p}" for p in r.problems)
        raise TariffError(f"{source}: {len(r.problems)} problem(s) in the tariff file:{listing}", r.problems)
    return (
        {k: lot for k, lot in lots.items() if lot is not None},
        {k: tariff for k, tariff in tariffs.items() if tariff is not None},
    )

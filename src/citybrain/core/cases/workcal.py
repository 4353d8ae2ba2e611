"""工作日历 working-time calendar: the deadlines of case limits (时限) on China's official calendar.

Case types declare their limits as data, ``(amount, unit)``: 工作日 working days, 工作时 working
hours, or natural days and hours (e.g. "1 小时内首次联系", "24 小时"). :meth:`WorkCalendar.deadline`
turns a limit and a start instant into a deadline; :meth:`WorkCalendar.working_time_between` measures
handling time for KPIs and pause accounting. Instants are epoch milliseconds, as everywhere in the
platform; days and hours are those of Asia/Shanghai.

Which days are working days comes from three layers, the first that knows a day wins:

1. the city's table (``[days]`` overrides in a TOML file: local holidays, extra working days, or a
   year the package does not cover yet);
2. the PyPI package ``chinesecalendar`` (the State Council's 放假 and 调休 schedule, 2004-2026 in
   version 1.11): 调休 weekends are working days, holidays are not;
3. the weekday rule (Monday-Friday working) for every other day of a year the package or the city
   table (``known_years``) covers fully.

A day outside all three is *assumed* by the weekday rule. The result is still computed (a case
opened on 2026-12-30 needs a deadline in 2027 whether or not the schedule is published), but every
result that depended on an assumed day says so (:attr:`Deadline.assumed_years`), so the engine can
raise a "calendar missing" alert instead of being silently wrong.

Counting follows the administrative convention (and 民法典 art. 201): the day of receipt is not
counted; a limit of N working days ends at the end of working hours of the Nth working day after the
receipt day. A limit of N natural days ends at 24:00 of the Nth day after it. Working hours count
only time inside the working periods of working days; a start outside them starts counting at the
next period. A case is overdue when it is finished after ``Deadline.at_ms``.

Everything is precomputed at construction as per-day tables over 2000-2099 (working flag, source,
prefix sums of working days and of working milliseconds per distinct set of hours), so a deadline is
a few array lookups and one bisection: no parsing, no date objects, no loops over days per call.
"""

from __future__ import annotations

import math
import re
import tomllib
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from citybrain.core.errors import ConfigError

Unit = Literal["working_days", "working_hours", "days", "hours"]
"""Units of a case limit: 工作日, 工作时, 自然日, 小时."""
UNITS: tuple[Unit, ...] = get_args(Unit)

DaySource = Literal["city", "package", "assumed"]
"""Who decided a day: the city's table, the chinesecalendar package (including the weekday rule for
a year it covers), or nobody (the weekday rule for a year nobody covers)."""

FIRST_YEAR = 2000
LAST_YEAR = 2099
"""The calendar's range (local dates); instants outside it raise ValueError."""

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
DEFAULT_TIMEZONE = "Asia/Shanghai"

_SOURCE_CODE: dict[DaySource, int] = {"city": 0, "package": 1, "assumed": 2}
_SOURCE_OF_CODE: tuple[DaySource, ...] = ("city", "package", "assumed")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# ----------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True)
class DayStatus:
    """Whether ``day`` is a working day (工作日), and who says so."""

    day: date
    working: bool
    source: DaySource

    @property
    def known(self) -> bool:
        """True when the city table or the package decided the day, False for the weekday guess."""
        return self.source != "assumed"


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline instant (epoch ms; overdue when finished after it) and the years whose calendar
    was assumed (weekday rule) on the way to it: empty when every day used was known."""

    at_ms: int
    assumed_years: tuple[int, ...] = ()

    @property
    def assumed(self) -> bool:
        """True when the deadline rests on at least one day nobody's calendar covers."""
        return bool(self.assumed_years)


@dataclass(frozen=True, slots=True)
class WorkingSpan:
    """Working time (ms) between two instants, and the years assumed on the way (see Deadline)."""

    ms: int
    assumed_years: tuple[int, ...] = ()

    @property
    def assumed(self) -> bool:
        return bool(self.assumed_years)


# ----------------------------------------------------------------------------------------------
# working hours


_PERIOD = re.compile(r"^\s*([0-9]{2}):([0-9]{2})\s*-\s*([0-9]{2}):([0-9]{2})\s*$")


def _clock_ms(hh: str, mm: str, spec: str, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and (m != 0 or not end)):
        raise ValueError(f"{spec!r}: {hh}:{mm} is not a time of day (00:00-24:00)")
    return h * HOUR_MS + m * MINUTE_MS


def _fmt_clock(ms: int) -> str:
    return f"{ms // HOUR_MS:02d}:{ms % HOUR_MS // MINUTE_MS:02d}"


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """The working periods (上班时间) of a working day, as ms after local midnight: sorted,
    non-overlapping, at least one. Parse them from ``["08:30-12:00", "14:00-17:30"]``."""

    periods: tuple[tuple[int, int], ...]
    day_ms: int = field(init=False)
    """Working ms in one working day."""
    end_ms: int = field(init=False)
    """End of the last period: when "end of working hours" falls."""

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("no working period")
        previous_end = 0
        for start, end in self.periods:
            if not 0 <= start < end <= DAY_MS:
                raise ValueError(f"{_fmt_clock(start)}-{_fmt_clock(end)}: a period must end after it starts")
            if start < previous_end:
                raise ValueError(f"{_fmt_clock(start)}-{_fmt_clock(end)} overlaps the period before it")
            previous_end = end
        object.__setattr__(self, "day_ms", sum(e - s for s, e in self.periods))
        object.__setattr__(self, "end_ms", self.periods[-1][1])

    @classmethod
    def parse(cls, specs: Sequence[str]) -> WorkingHours:
        """Periods written ``"HH:MM-HH:MM"`` (end may be ``24:00``), in any order; ValueError says
        which one is wrong (bad form, end not after start, overlap)."""
        periods = []
        for spec in specs:
            m = _PERIOD.match(spec)
            if m is None:
                raise ValueError(f"{spec!r} is not a period written HH:MM-HH:MM")
            start = _clock_ms(m[1], m[2], spec, end=False)
            end = _clock_ms(m[3], m[4], spec, end=True)
            if end <= start:
                raise ValueError(f"{spec!r}: the period must end after it starts")
            periods.append((start, end))
        periods.sort()
        for (s0, e0), (s1, e1) in pairwise(periods):
            if s1 < e0:
                raise ValueError(
                    f"periods {_fmt_clock(s0)}-{_fmt_clock(e0)} and {_fmt_clock(s1)}-{_fmt_clock(e1)} overlap"
                )
        return cls(tuple(periods))

    def worked_before(self, ms_of_day: int) -> int:
        """Working ms of a working day before ``ms_of_day`` (ms after local midnight)."""
        worked = 0
        for start, end in self.periods:
            if ms_of_day <= start:
                break
            worked += (ms_of_day if ms_of_day < end else end) - start
        return worked

    def instant_after(self, work_ms: int) -> int:
        """The ms of day at which ``work_ms`` (0 < work_ms <= day_ms) of work is done: the earliest
        such instant, so a limit used up exactly at 12:00 ends at 12:00, not at 14:00."""
        for start, end in self.periods:
            length = end - start
            if work_ms <= length:
                return start + work_ms
            work_ms -= length
        raise ValueError("more work than the day holds")

    def contains(self, ms_of_day: int) -> bool:
        return any(start <= ms_of_day < end for start, end in self.periods)

    def __str__(self) -> str:
        return ", ".join(f"{_fmt_clock(s)}-{_fmt_clock(e)}" for s, e in self.periods)


DEFAULT_HOURS = WorkingHours.parse(["08:30-12:00", "14:00-17:30"])
"""Used when a city table names no default hours: the common 机关 schedule."""


# ----------------------------------------------------------------------------------------------
# the city table (TOML)


@dataclass(frozen=True, slots=True)
class CityTable:
    """The city's own calendar: per-date overrides (True = working day), the extra years it covers
    fully, default working hours and per-department hours (keyed by department id)."""

    days: Mapping[date, bool] = field(default_factory=dict)
    known_years: frozenset[int] = frozenset()
    hours: WorkingHours = DEFAULT_HOURS
    department_hours: Mapping[str, WorkingHours] = field(default_factory=dict)
    source: str = "<built-in defaults>"


_DAY_KINDS: dict[str, bool] = {"workday": True, "holiday": False}
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TOP_KEYS = ("known_years", "days", "hours")
_HOURS_KEYS = ("default", "departments")


def _table(value: object, where: str, key: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key} must be a table, not {type(value).__name__}")
    return value


def _unknown_keys(raw: Mapping[str, object], allowed: tuple[str, ...], where: str, prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {prefix}{key!r} (expected one of {', '.join(allowed)})")


def _hours(value: object, where: str, key: str) -> WorkingHours:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}: {key} must be a non-empty list of "HH:MM-HH:MM" strings')
    try:
        return WorkingHours.parse(value)
    except ValueError as err:
        raise ConfigError(f"{where}: {key}: {err}") from None


def parse_city_table(raw: Mapping[str, object], source: str = "<city table>") -> CityTable:
    """Validate a parsed city table; every problem is a ConfigError naming ``source``, the key and
    what is wrong (bad date, unknown kind, bad hour range, overlapping periods, unknown key)."""
    _unknown_keys(raw, _TOP_KEYS, source, "")
    years_raw = raw.get("known_years", [])
    if not isinstance(years_raw, list):
        raise ConfigError(f"{source}: known_years must be a list of years, e.g. [2027]")
    known_years = set()
    for year in years_raw:
        if type(year) is not int or not FIRST_YEAR <= year <= LAST_YEAR:
            raise ConfigError(f"{source}: known_years: {year!r} is not a year in {FIRST_YEAR}-{LAST_YEAR}")
        known_years.add(year)

    days: dict[date, bool] = {}
    for key, kind in _table(raw.get("days", {}), source, "days").items():
        if not isinstance(key, str) or not _DATE.match(key):
            raise ConfigError(f"{source}: days.{key!r}: not a date written YYYY-MM-DD")
        try:
            day = date.fromisoformat(key)
        except ValueError:
            raise ConfigError(f"{source}: days.{key!r}: no such date") from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ConfigError(
                f"{source}: days.{key!r}: outside the calendar's years {FIRST_YEAR}-{LAST_YEAR}"
            )
        if not isinstance(kind, str) or kind not in _DAY_KINDS:
            raise ConfigError(f'{source}: days.{key!r}: kind {kind!r} is not "holiday" or "workday"')
        days[day] = _DAY_KINDS[kind]

    hours_raw = _table(raw.get("hours", {}), source, "hours")
    _unknown_keys(hours_raw, _HOURS_KEYS, source, "hours.")
    hours = _hours(hours_raw["default"], source, "hours.default") if "default" in hours_raw else DEFAULT_HOURS
    departments = {}
    for dept, spec in _table(hours_raw.get("departments", {}), source, "hours.departments").items():
        if not isinstance(dept, str) or not dept.strip():
            raise ConfigError(f"{source}: hours.departments: a department id must not be blank")
        departments[dept] = _hours(spec, source, f"hours.departments.{dept!r}")
    return CityTable(days, frozenset(known_years), hours, departments, source)


def load_city_table(path: str | Path) -> CityTable:
    """Read and validate a city calendar TOML file (see ``citybrain/data/cases/calendar.toml``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"calendar table {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"calendar table {p}: cannot be read: {err}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"calendar table {p}: not valid TOML: {err}") from None
    return parse_city_table(raw, f"calendar table {p}")


def shipped_table_path() -> Path:
    """The default table shipped with citybrain (no extra years, default hours): a city copies it."""
    from citybrain import data

    return data.path("cases/calendar.toml")


# ----------------------------------------------------------------------------------------------
# the calendar


def _package_days() -> tuple[frozenset[date], frozenset[date], range]:
    """chinesecalendar's holidays, 调休 working days and the years it covers (as its own check)."""
    holidays = frozenset(d for d in chinese_calendar.holidays if isinstance(d, date))
    workdays = frozenset(d for d in chinese_calendar.workdays if isinstance(d, date))
    years = range(min(holidays).year, max(holidays).year + 1)
    return holidays, workdays, years


class _Schedule:
    """One set of working hours over the calendar: prefix sums of working ms per day."""

    __slots__ = ("hours", "prefix")

    def __init__(self, hours: WorkingHours, working: bytearray) -> None:
        self.hours = hours
        day_ms = hours.day_ms
        self.prefix = array("q", accumulate((day_ms * w for w in working), initial=0))
        """prefix[i]: working ms of the days before day index i."""


class WorkCalendar:
    """The working-time calendar of one city; immutable and safe to share between threads.

    >>> cal = WorkCalendar()                         # package data + built-in hours
    >>> cal = WorkCalendar.from_file("calendar.toml")  # plus the city's table
    """

    def __init__(self, table: CityTable | None = None, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.table = table or CityTable()
        self.timezone = timezone
        self._offset_ms = _fixed_offset_ms(timezone)
        self._first_ordinal = date(FIRST_YEAR, 1, 1).toordinal()
        self._first_epoch_day = self._first_ordinal - _EPOCH_ORDINAL
        n = date(LAST_YEAR + 1, 1, 1).toordinal() - self._first_ordinal
        self._days = n

        pkg_holidays, pkg_workdays, pkg_years = _package_days()
        self.package_years = pkg_years
        city_days, city_years = self.table.days, self.table.known_years
        working = bytearray(n)
        source = bytearray(n)
        for i in range(n):
            day = date.fromordinal(self._first_ordinal + i)
            if day in city_days:
                w, s = city_days[day], 0
            elif day.year in pkg_years:
                w, s = day in pkg_workdays or (day.weekday() < 5 and day not in pkg_holidays), 1
            else:
                w, s = day.weekday() < 5, (0 if day.year in city_years else 2)
            working[i], source[i] = w, s
        self._working = working
        self._source = source
        self._workday_prefix = array("q", accumulate(working, initial=0))
        self._assumed_prefix = array("q", accumulate((s == 2 for s in source), initial=0))
        self._schedules: dict[WorkingHours, _Schedule] = {}
        for hours in (self.table.hours, *self.table.department_hours.values()):
            if hours not in self._schedules:
                self._schedules[hours] = _Schedule(hours, working)
        self._default = self._schedules[self.table.hours]
        self._by_department = {d: self._schedules[h] for d, h in self.table.department_hours.items()}

    @classmethod
    def from_file(cls, path: str | Path, timezone: str = DEFAULT_TIMEZONE) -> WorkCalendar:
        return cls(load_city_table(path), timezone)

    @classmethod
    def shipped(cls) -> WorkCalendar:
        """The calendar of the table shipped with citybrain."""
        return cls.from_file(shipped_table_path())

    # --- days -------------------------------------------------------------------------------

    @property
    def known_years(self) -> frozenset[int]:
        """Years every day of which is known (package or city): beyond them deadlines are assumed."""
        return frozenset(self.package_years) | self.table.known_years

    def day_status(self, day: date) -> DayStatus:
        """Is ``day`` a working day, and who says so (outside 2000-2099: assumed, weekday rule)."""
        i = day.toordinal() - self._first_ordinal
        if not 0 <= i < self._days:
            return DayStatus(day, day.weekday() < 5, "assumed")
        return DayStatus(day, bool(self._working[i]), _SOURCE_OF_CODE[self._source[i]])

    def hours_for(self, department: str | None = None) -> WorkingHours:
        """The department's working hours, or the default hours (also for an unlisted department)."""
        return self._schedule(department).hours

    def is_working_time(self, at_ms: int, department: str | None = None) -> bool:
        """Is ``at_ms`` inside a working period of a working day (for that department)?"""
        i, ms_of_day = self._split(at_ms)
        return bool(self._working[i]) and self._schedule(department).hours.contains(ms_of_day)

    # --- limits -----------------------------------------------------------------------------

    def deadline(self, start_ms: int, amount: float, unit: Unit, department: str | None = None) -> Deadline:
        """The deadline of a limit of ``amount`` ``unit`` from ``start_ms``: the one entry point
        for limits declared as data. ``department`` picks working hours (working units only)."""
        if unit == "working_days":
            return self.after_working_days(start_ms, _whole(amount, unit), department)
        if unit == "working_hours":
            return self.after_working_hours(start_ms, amount, department)
        if unit == "hours":
            return Deadline(start_ms + _hours_ms(amount))
        if unit == "days":
            i, _ = self._split(start_ms)
            return Deadline(self._midnight(i + _whole(amount, unit) + 1))
        raise ValueError(f"unknown limit unit {unit!r} (expected one of {', '.join(UNITS)})")

    def after_working_days(self, start_ms: int, days: int, department: str | None = None) -> Deadline:
        """End of working hours of the ``days``-th working day after the start's day (the receipt
        day does not count). ``days == 0`` means 当日: the end of the start's day if it is a working
        day not yet over, else the end of the next working day."""
        if days < 0:
            raise ValueError(f"a limit cannot be negative ({days} working days)")
        sched = self._schedule(department)
        s, ms_of_day = self._split(start_ms)
        prefix = self._workday_prefix
        if days == 0 and self._working[s] and ms_of_day < sched.hours.end_ms:
            return Deadline(self._midnight(s) + sched.hours.end_ms, self._assumed_years(s, s))
        target = prefix[s + 1] + max(days, 1)
        j = bisect_left(prefix, target)
        if j > self._days:
            raise ValueError(f"{days} working days from {start_ms} runs past {LAST_YEAR}")
        d = j - 1
        first_used = s if days == 0 else s + 1  # 当日 looked at the start's day too
        return Deadline(self._midnight(d) + sched.hours.end_ms, self._assumed_years(first_used, d))

    def after_working_hours(self, start_ms: int, hours: float, department: str | None = None) -> Deadline:
        """The instant when ``hours`` working hours (工作时) after ``start_ms`` are used up, counting
        only working periods of working days; ``hours == 0`` is the start itself."""
        work = _hours_ms(hours)
        if work == 0:
            return Deadline(start_ms)
        sched = self._schedule(department)
        s, ms_of_day = self._split(start_ms)
        prefix = sched.prefix
        done = prefix[s] + (sched.hours.worked_before(ms_of_day) if self._working[s] else 0)
        j = bisect_left(prefix, done + work)
        if j > self._days:
            raise ValueError(f"{hours} working hours from {start_ms} runs past {LAST_YEAR}")
        d = j - 1
        at = self._midnight(d) + sched.hours.instant_after(done + work - prefix[d])
        return Deadline(at, self._assumed_years(s, d))

    def working_time_between(self, start_ms: int, end_ms: int, department: str | None = None) -> WorkingSpan:
        """Working ms between two instants (handling time, pauses), with the assumed years."""
        if end_ms < start_ms:
            raise ValueError(f"end {end_ms} is before start {start_ms}")
        sched = self._schedule(department)
        s, s_ms = self._split(start_ms)
        e, e_ms = self._split(end_ms)
        total = self._cumulative(sched, e, e_ms) - self._cumulative(sched, s, s_ms)
        last = e if e_ms > 0 or e == s else e - 1  # an end at 00:00 uses nothing of its day
        return WorkingSpan(total, self._assumed_years(s, last))

    # --- internals --------------------------------------------------------------------------

    def _schedule(self, department: str | None) -> _Schedule:
        if department is None:
            return self._default
        return self._by_department.get(department, self._default)

    def _split(self, at_ms: int) -> tuple[int, int]:
        """Day index and ms after local midnight of an instant."""
        epoch_day, ms_of_day = divmod(at_ms + self._offset_ms, DAY_MS)
        i = epoch_day - self._first_epoch_day
        if not 0 <= i < self._days:
            raise ValueError(f"instant {at_ms} is outside the calendar's years {FIRST_YEAR}-{LAST_YEAR}")
        return i, ms_of_day

    def _midnight(self, i: int) -> int:
        return (self._first_epoch_day + i) * DAY_MS - self._offset_ms

    def _cumulative(self, sched: _Schedule, i: int, ms_of_day: int) -> int:
        return sched.prefix[i] + (sched.hours.worked_before(ms_of_day) if self._working[i] else 0)

    def _assumed_years(self, first: int, last: int) -> tuple[int, ...]:
        """Years with an assumed day among day indexes first..last (inclusive); usually () at once."""
        u = self._assumed_prefix
        if last < first or u[last + 1] == u[first]:
            return ()
        first_year = date.fromordinal(self._first_ordinal + first).year
        last_year = date.fromordinal(self._first_ordinal + last).year
        years = []
        for year in range(first_year, last_year + 1):
            lo = max(first, date(year, 1, 1).toordinal() - self._first_ordinal)
            hi = min(last, date(year, 12, 31).toordinal() - self._first_ordinal)
            if u[hi + 1] > u[lo]:
                years.append(year)
        return tuple(years)


def _whole(amount: float, unit: str) -> int:
    if isinstance(amount, bool) or not float(amount).is_integer() or amount < 0:
        raise ValueError(f"a limit in {unit} must be a whole number >= 0, not {amount!r}")
    return int(amount)


def _hours_ms(hours: float) -> int:
    if isinstance(hours, bool) or not math.isfinite(hours) or hours < 0:
        raise ValueError(f"a limit in hours must be a finite number >= 0, not {hours!r}")
    return round(hours * HOUR_MS)


def _fixed_offset_ms(timezone: str) -> int:
    """The zone's UTC offset, checked constant over the calendar's years (Asia/Shanghai: +08:00
    since 1991). Day arithmetic relies on it; a zone with daylight saving is refused."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {timezone!r}") from None
    offsets = {
        datetime(year, month, 1, 12, tzinfo=tz).utcoffset()
        for year in range(FIRST_YEAR, LAST_YEAR + 1)
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        raise ConfigError(f"time zone {timezone!r} changes its UTC offset; the calendar needs a fixed one")
    (offset,) = offsets
    return (offset or timedelta(0)) // timedelta(milliseconds=1)

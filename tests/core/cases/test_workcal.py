"""The working-time calendar (issue 14): hand-computed deadlines over 春节 2026, 国庆 2025, 调休
weekends, lunch breaks, nights and the unknown year 2027; the city table and its errors; properties.

Calendar facts used below (chinesecalendar 1.11 data, checked day by day):
  2025-09: Sat 27 off, Sun 28 调休 working; 2025-10-01..08 (Wed-Wed) holiday, Sat 10-11 调休 working.
  2026-02: Sat 14 调休 working; 15 (Sun) .. 23 (Mon) holiday; Sat 28 调休 working.
  2026-10: 01 (Thu) .. 07 (Wed) holiday; Thu 08 working; Sat 10 调休 working.
  2026-12-31 is a Thursday; 2027-01-01 a Friday, 01-04 a Monday. The package knows nothing of 2027.
Default hours 08:30-12:00 and 14:00-17:30 (7 working hours a day, end of day 17:30).
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.cases.workcal import (
    DEFAULT_HOURS,
    HOUR_MS,
    UNITS,
    CityTable,
    Deadline,
    WorkCalendar,
    WorkingHours,
    load_city_table,
    parse_city_table,
    shipped_table_path,
)
from citybrain.core.errors import ConfigError

BJT = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=BJT).timestamp()) * 1000


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> Deadline:
    """A known (not assumed) deadline at that local time."""
    return Deadline(ms(y, mo, d, h, mi))


def local(ms_: int) -> datetime:
    return datetime.fromtimestamp(ms_ / 1000, BJT)


def table(text: str, tmp_path: Path) -> CityTable:
    p = tmp_path / "calendar.toml"
    p.write_text(text, encoding="utf-8")
    return load_city_table(p)


# ---------------------------------------------------------------------------------------------
# days


def test_day_status_from_package_and_weekday_rule() -> None:
    assert CAL.day_status(date(2026, 2, 28)).working  # 调休 Saturday
    assert CAL.day_status(date(2026, 2, 28)).source == "package"
    assert not CAL.day_status(date(2026, 2, 16)).working  # 春节, a Monday
    assert not CAL.day_status(date(2026, 3, 7)).working  # ordinary Saturday
    s = CAL.day_status(date(2027, 1, 4))  # Monday of an unknown year
    assert s.working and not s.known and s.source == "assumed"
    assert not CAL.day_status(date(2027, 1, 2)).working  # Saturday, assumed
    assert CAL.day_status(date(1999, 12, 31)).source == "assumed"  # outside the tables
    assert 2026 in CAL.known_years and 2027 not in CAL.known_years


def test_every_day_of_2025_and_2026_agrees_with_the_package() -> None:
    day = date(2025, 1, 1)
    while day.year < 2027:
        status = CAL.day_status(day)
        assert status.working == chinese_calendar.is_workday(day), day
        assert status.known
        day += timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# working days


def test_spring_festival_2026() -> None:
    start = ms(2026, 2, 13, 10)  # Friday
    # 1: Sat 02-14 (调休 working); 02-15..23 holiday; 2: Tue 02-24; 3: Wed 02-25
    assert CAL.deadline(start, 1, "working_days") == at(2026, 2, 14, 17, 30)
    assert CAL.deadline(start, 2, "working_days") == at(2026, 2, 24, 17, 30)
    assert CAL.deadline(start, 3, "working_days") == at(2026, 2, 25, 17, 30)
    # from Thu 02-12: 1 Fri 02-13, 2 Sat 02-14, 3 Tue 02-24
    assert CAL.deadline(ms(2026, 2, 12, 9), 3, "working_days") == at(2026, 2, 24, 17, 30)


def test_deadline_lands_on_a_tiaoxiu_saturday() -> None:
    # Fri 2026-02-27 + 1 working day: Sat 02-28 is a working day (调休)
    assert CAL.deadline(ms(2026, 2, 27, 10), 1, "working_days") == at(2026, 2, 28, 17, 30)
    # and Mon 03-02 is the second
    assert CAL.deadline(ms(2026, 2, 27, 10), 2, "working_days") == at(2026, 3, 2, 17, 30)


def test_national_day_2025() -> None:
    start = ms(2025, 9, 26, 15)  # Friday
    # Sat 09-27 off; 1: Sun 09-28 (调休); 2: Mon 09-29; 3: Tue 09-30; 10-01..08 off; 4: Thu 10-09;
    # 5: Fri 10-10; 6: Sat 10-11 (调休)
    expected = [(9, 28), (9, 29), (9, 30), (10, 9), (10, 10), (10, 11)]
    for n, (mo, d) in enumerate(expected, start=1):
        assert CAL.deadline(start, n, "working_days") == at(2025, mo, d, 17, 30), n
    # the package's own example: find_workday(5, 2025-09-30) -> 2025-10-14
    # (1 10-09, 2 10-10, 3 10-11, 4 Mon 10-13, 5 Tue 10-14)
    assert CAL.deadline(ms(2025, 9, 30, 9), 5, "working_days") == at(2025, 10, 14, 17, 30)


def test_start_on_a_holiday_and_at_night() -> None:
    # Sat 2026-10-03 is in the National Day break; the first working day after it is Thu 10-08
    assert CAL.deadline(ms(2026, 10, 3, 10), 1, "working_days") == at(2026, 10, 8, 17, 30)
    # receipt Tue 2026-03-03 23:00: the receipt day is not counted, Wed 03-04 is day 1
    assert CAL.deadline(ms(2026, 3, 3, 23), 1, "working_days") == at(2026, 3, 4, 17, 30)
    # receipt Sat 2026-03-07: Mon 03-09 is day 1
    assert CAL.deadline(ms(2026, 3, 7, 11), 1, "working_days") == at(2026, 3, 9, 17, 30)


def test_zero_working_days_means_the_same_working_day() -> None:
    assert CAL.deadline(ms(2026, 3, 2, 10), 0, "working_days") == at(2026, 3, 2, 17, 30)  # Mon
    assert CAL.deadline(ms(2026, 3, 2, 18), 0, "working_days") == at(2026, 3, 3, 17, 30)  # after hours
    assert CAL.deadline(ms(2026, 3, 7, 10), 0, "working_days") == at(2026, 3, 9, 17, 30)  # Saturday


def test_2027_deadline_is_computed_on_weekdays_and_flagged() -> None:
    start = ms(2026, 12, 30, 10)  # Wednesday
    # 1 Thu 12-31 (known); 2 Fri 2027-01-01 (assumed working); 3 Mon 01-04; 4 01-05; 5 Wed 01-06
    assert CAL.deadline(start, 1, "working_days") == at(2026, 12, 31, 17, 30)
    d = CAL.deadline(start, 2, "working_days")
    assert local(d.at_ms) == datetime(2027, 1, 1, 17, 30, tzinfo=BJT)
    assert d.assumed and d.assumed_years == (2027,)
    d = CAL.deadline(start, 5, "working_days")
    assert local(d.at_ms) == datetime(2027, 1, 6, 17, 30, tzinfo=BJT) and d.assumed_years == (2027,)
    # natural units never consult the calendar
    assert not CAL.deadline(start, 10, "days").assumed
    assert not CAL.deadline(start, 240, "hours").assumed


def test_city_table_declares_2027_and_adds_new_year(tmp_path: Path) -> None:
    cal = WorkCalendar(table('known_years = [2027]\n[days]\n"2027-01-01" = "holiday"\n', tmp_path))
    start = ms(2026, 12, 30, 10)
    # 1 Thu 12-31; Fri 01-01 holiday (city); Sat, Sun; 2 Mon 01-04; 5 Thu 01-07 — none assumed
    assert cal.deadline(start, 2, "working_days") == at(2027, 1, 4, 17, 30)
    assert cal.deadline(start, 5, "working_days") == at(2027, 1, 7, 17, 30)
    assert cal.day_status(date(2027, 1, 1)).source == "city"
    assert cal.day_status(date(2027, 1, 5)).source == "city"  # weekday rule, but declared known
    assert 2027 in cal.known_years


def test_city_override_without_the_year_still_flags(tmp_path: Path) -> None:
    cal = WorkCalendar(table('[days]\n"2027-01-01" = "holiday"\n', tmp_path))
    d = cal.deadline(ms(2026, 12, 30, 10), 2, "working_days")
    assert local(d.at_ms) == datetime(2027, 1, 4, 17, 30, tzinfo=BJT)  # 01-01 skipped
    assert d.assumed_years == (2027,)  # 01-02..04 are still guesses
    assert cal.day_status(date(2027, 1, 1)).known


def test_city_overrides_a_package_year(tmp_path: Path) -> None:
    # a local day off on Mon 2026-03-02 and a make-up Saturday 03-07
    cal = WorkCalendar(table('[days]\n"2026-03-02" = "holiday"\n"2026-03-07" = "workday"\n', tmp_path))
    # receipt Fri 02-27: 1 Sat 02-28 (调休), Mon 03-02 off, 2 Tue 03-03 ... 5 Fri 03-06, 6 Sat 03-07
    assert cal.deadline(ms(2026, 2, 27, 10), 2, "working_days") == at(2026, 3, 3, 17, 30)
    assert cal.deadline(ms(2026, 2, 27, 10), 6, "working_days") == at(2026, 3, 7, 17, 30)


# ---------------------------------------------------------------------------------------------
# working hours


def test_working_hours_across_lunch_and_overnight() -> None:
    mon = (2026, 3, 2)
    # 11:00-12:00 is 1 h, then 14:00 + 1 h
    assert CAL.deadline(ms(*mon, 11), 2, "working_hours") == at(*mon, 15)
    # used up exactly at noon: the deadline is 12:00, not 14:00
    assert CAL.deadline(ms(*mon, 10), 2, "working_hours") == at(*mon, 12)
    # start in the lunch break counts from 14:00
    assert CAL.deadline(ms(*mon, 12, 30), 1.5, "working_hours") == at(*mon, 15, 30)
    # 17:00-17:30 then Tue 08:30 + 0.5 h
    assert CAL.deadline(ms(*mon, 17), 1, "working_hours") == at(2026, 3, 3, 9)
    # a whole day (7 h) from Mon 08:30 ends Mon 17:30
    assert CAL.deadline(ms(*mon, 8, 30), 7, "working_hours") == at(*mon, 17, 30)


def test_working_hours_from_23h_on_a_friday_and_over_spring_festival() -> None:
    # Tue 23:00 + 3 h: Wed 08:30-11:30
    assert CAL.deadline(ms(2026, 3, 3, 23), 3, "working_hours") == at(2026, 3, 4, 11, 30)
    # Fri 2026-03-06 23:00 + 3 h: weekend, Mon 03-09 11:30
    assert CAL.deadline(ms(2026, 3, 6, 23), 3, "working_hours") == at(2026, 3, 9, 11, 30)
    # Fri 2026-02-13 16:00 + 4 h: 1.5 h Fri, Sat 02-14 (调休) 08:30 + 2.5 h = 11:00
    assert CAL.deadline(ms(2026, 2, 13, 16), 4, "working_hours") == at(2026, 2, 14, 11)
    # + 10 h: 1.5 Fri, 7 Sat, holiday 15..23, Tue 02-24 08:30 + 1.5 h = 10:00
    assert CAL.deadline(ms(2026, 2, 13, 16), 10, "working_hours") == at(2026, 2, 24, 10)
    # a start on a holiday (Sat 2026-10-03) counts from Thu 10-08 08:30
    assert CAL.deadline(ms(2026, 10, 3, 10), 2, "working_hours") == at(2026, 10, 8, 10, 30)


def test_natural_units() -> None:
    start = ms(2026, 3, 3, 23)
    assert CAL.deadline(start, 24, "hours") == at(2026, 3, 4, 23)
    assert CAL.deadline(start, 1, "hours") == at(2026, 3, 4, 0)
    # N natural days end at 24:00 of the Nth day after the receipt day (no holiday extension)
    assert CAL.deadline(start, 1, "days") == at(2026, 3, 5)
    assert CAL.deadline(ms(2026, 2, 13, 10), 7, "days") == at(2026, 2, 21)


def test_department_hours(tmp_path: Path) -> None:
    cal = WorkCalendar(
        table(
            '[hours.departments]\n"城管局" = ["13:30-18:00", "09:00-12:00"]\n"110" = ["00:00-24:00"]\n',
            tmp_path,
        )
    )
    assert str(cal.hours_for("城管局")) == "09:00-12:00, 13:30-18:00"
    assert cal.hours_for("unknown") == DEFAULT_HOURS == cal.hours_for()
    mon = (2026, 3, 2)
    assert cal.deadline(ms(*mon, 10), 1, "working_days", "城管局") == at(2026, 3, 3, 18)
    # 10:00-12:00 then 13:30 + 2 h
    assert cal.deadline(ms(*mon, 10), 4, "working_hours", "城管局") == at(*mon, 15, 30)
    assert cal.deadline(ms(*mon, 10), 4, "working_hours") == at(*mon, 16)  # default: 14:00 + 2 h
    # round the clock on working days: Fri 20:00-24:00 = 4 h, weekend off, Mon 00:00 + 4 h
    assert cal.deadline(ms(2026, 3, 6, 20), 8, "working_hours", "110") == at(2026, 3, 9, 4)
    assert cal.deadline(ms(*mon, 10), 1, "working_days", "110") == at(2026, 3, 4)  # 24:00 of Tue
    assert cal.is_working_time(ms(*mon, 12, 30), "城管局") is False
    assert cal.is_working_time(ms(*mon, 13, 30), "城管局") is True


def test_working_time_between() -> None:
    # Mon 09:00-12:00 (3 h) + 14:00-17:30 (3.5 h) + Tue 08:30-09:00 (0.5 h)
    span = CAL.working_time_between(ms(2026, 3, 2, 9), ms(2026, 3, 3, 9))
    assert span.ms == 7 * HOUR_MS and not span.assumed
    # over 春节: Fri 17:00-17:30, Sat 02-14 whole day, Tue 02-24 08:30-09:00
    assert CAL.working_time_between(ms(2026, 2, 13, 17), ms(2026, 2, 24, 9)).ms == 8 * HOUR_MS
    assert CAL.working_time_between(ms(2026, 3, 7, 9), ms(2026, 3, 8, 18)).ms == 0  # weekend
    # up to midnight of 2027-01-01 uses nothing of 2027; one minute more does
    assert not CAL.working_time_between(ms(2026, 12, 31, 9), ms(2027, 1, 1)).assumed
    span = CAL.working_time_between(ms(2026, 12, 31, 9), ms(2027, 1, 4, 9))
    # Thu 12-31 from 09:00: 6.5 h; Fri 01-01 assumed working: 7 h; Mon 0.5 h
    assert span.ms == 14 * HOUR_MS and span.assumed_years == (2027,)


def test_bad_limits_are_refused() -> None:
    start = ms(2026, 3, 2, 10)
    with pytest.raises(ValueError, match=">= 0"):
        CAL.deadline(start, -1, "working_days")
    with pytest.raises(ValueError, match="whole number"):
        CAL.deadline(start, 1.5, "working_days")
    with pytest.raises(ValueError, match="finite"):
        CAL.deadline(start, float("nan"), "working_hours")
    with pytest.raises(ValueError, match="unknown limit unit"):
        CAL.deadline(start, 1, "weeks")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside the calendar"):
        CAL.deadline(ms(2100, 1, 2), 1, "working_days")
    with pytest.raises(ValueError, match="before start"):
        CAL.working_time_between(start, start - 1)


# ---------------------------------------------------------------------------------------------
# the city table


def test_shipped_table_loads() -> None:
    t = load_city_table(shipped_table_path())
    assert t.hours == DEFAULT_HOURS and not t.known_years and not t.days
    assert WorkCalendar.shipped().deadline(ms(2026, 3, 2, 10), 1, "working_days") == at(2026, 3, 3, 17, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[days]\n"2027-13-01" = "holiday"', r"days\.'2027-13-01': no such date"),
        ('[days]\n"2027-02-30" = "holiday"', "no such date"),
        ('[days]\n"27-1-1" = "holiday"', r"days\.'27-1-1': not a date written YYYY-MM-DD"),
        ('[days]\n"2027-01-01" = "festival"', 'kind \'festival\' is not "holiday" or "workday"'),
        ('[days]\n"2027-01-01" = 1', "kind 1 is not"),
        ('[days]\n"2150-01-01" = "holiday"', "outside the calendar's years"),
        ('[hours]\ndefault = ["17:30-08:30"]', "hours.default: '17:30-08:30': the period must end after"),
        ('[hours]\ndefault = ["25:00-26:00"]', "is not a time of day"),
        ('[hours]\ndefault = ["8:30-12:00"]', "not a period written HH:MM-HH:MM"),
        ("[hours]\ndefault = []", "non-empty list"),
        ('[hours]\ndefault = ["08:00-12:00", "11:00-13:00"]', "08:00-12:00 and 11:00-13:00 overlap"),
        ('[hours.departments]\n"城管" = ["09:00-12:30", "12:00-18:00"]', r"departments\.'城管'.*overlap"),
        ("known_year = [2027]", "unknown key 'known_year'"),
        ('known_years = ["2027"]', "known_years: '2027' is not a year"),
        ("known_years = 2027", "must be a list"),
        ("days = 3", "days must be a table"),
        ("[hours]\nweekend = []", "unknown key hours.'weekend'"),
        ("known_years = [", "not valid TOML"),
    ],
)
def test_bad_table_entries_name_file_and_key(text: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=expected) as err:
        table(text, tmp_path)
    assert str(tmp_path / "calendar.toml") in str(err.value)


def test_missing_table_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        WorkCalendar.from_file(tmp_path / "nope.toml")


def test_unknown_time_zone() -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        WorkCalendar(timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="changes its UTC offset"):
        WorkCalendar(timezone="Europe/Berlin")


def test_working_hours_parse_sorts_and_measures() -> None:
    h = WorkingHours.parse(["14:00-17:30", " 08:30 - 12:00 "])
    assert h == DEFAULT_HOURS and h.day_ms == 7 * HOUR_MS and h.end_ms == 17 * HOUR_MS + 30 * 60_000


# ---------------------------------------------------------------------------------------------
# properties

START_2025_2027 = st.integers(ms(2025, 1, 1), ms(2027, 12, 31))
START_KNOWN = st.integers(ms(2025, 1, 1), ms(2026, 11, 30))  # deadlines stay inside the package's years


@given(START_2025_2027, st.sampled_from(UNITS), st.integers(0, 60), st.integers(0, 60))
def test_deadlines_are_monotonic_in_amount(start: int, unit: Any, a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    assert start <= CAL.deadline(start, lo, unit).at_ms <= CAL.deadline(start, hi, unit).at_ms


@given(START_2025_2027, st.integers(1, 40))
def test_n_working_days_end_at_a_working_days_end(start: int, n: int) -> None:
    d = CAL.deadline(start, n, "working_days")
    end = local(d.at_ms)
    assert (end.hour, end.minute) == (17, 30)
    assert CAL.day_status(end.date()).working
    # exactly n working days after the receipt day, up to and including the deadline's day
    day, count, assumed = local(start).date(), 0, False
    while day < end.date():
        day += timedelta(days=1)
        status = CAL.day_status(day)
        count += status.working
        assumed |= not status.known
    assert count == n
    assert d.assumed == assumed


@given(START_2025_2027, st.integers(0, 60 * 200))
def test_working_time_to_the_hours_deadline_is_the_hours(start: int, minutes: int) -> None:
    d = CAL.deadline(start, minutes / 60, "working_hours")
    span = CAL.working_time_between(start, d.at_ms)
    assert span.ms == minutes * 60_000
    if minutes:
        assert CAL.is_working_time(d.at_ms - 1)  # the last minute used was working time
    assert span.assumed_years == d.assumed_years or minutes == 0


@settings(max_examples=200)
@given(START_KNOWN, st.integers(1, 20))
def test_working_days_agree_with_the_package_from_a_working_day(start: int, n: int) -> None:
    # chinesecalendar's find_workday(n, d) is the nth working day after d when d is a working day
    # (from a day off it counts from the next working day, a different receipt convention)
    day = local(start).date()
    if chinese_calendar.is_workday(day):
        d = CAL.deadline(start, n, "working_days")
        assert not d.assumed
        assert local(d.at_ms).date() == chinese_calendar.find_workday(n, day)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["holiday", "workday", "08:30-12:00", "00:00-24:00", "2027-01-01", "24:00-24:00"])
    | st.dates()
    | st.datetimes()
    | st.times()
)
_KEYS = st.text(max_size=12) | st.sampled_from(
    ["known_years", "days", "hours", "default", "departments", "2027-01-01", "2027-02-29"]
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "known_years": _VALUES | st.lists(st.integers(1990, 2110), max_size=3),
            "days": _VALUES | st.dictionaries(_KEYS, _SCALARS, max_size=4),
            "hours": _VALUES
            | st.fixed_dictionaries(
                {},
                optional={
                    "default": _VALUES | st.lists(_SCALARS, max_size=3),
                    "departments": st.dictionaries(_KEYS, _VALUES, max_size=3),
                },
            ),
        },
    )
    | st.dictionaries(_KEYS, _VALUES, max_size=4)
)
def test_table_parser_raises_only_config_errors(raw: dict[str, Any]) -> None:
    try:
        t = parse_city_table(raw, "fuzz.toml")
    except ConfigError as err:
        assert "fuzz.toml" in str(err)
        return
    assert t.hours.day_ms > 0 and all(h.day_ms > 0 for h in t.department_hours.values())


@settings(max_examples=100)
@given(st.text(max_size=200))
def test_table_loader_raises_only_config_errors_on_any_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "calendar.toml"
        p.write_text(text, encoding="utf-8")
        with contextlib.suppress(ConfigError):
            load_city_table(p)

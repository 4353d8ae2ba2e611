"""Parking tariffs (citybrain.scenes.paylater.tariffs and tariff_config): fees computed by hand for
the cases drivers dispute (midnight, a price change, the grace period, multi-day stays, new-energy
rounding, monthly passes), every problem of a bad tariff file named, and random stays and files."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.scenes.paylater.tariff_config import parse_tariffs
from citybrain.scenes.paylater.tariffs import (
    DAY_MS,
    Fee,
    FeeLine,
    TariffError,
    Tariffs,
    load_tariffs,
    version_at,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN = 60_000
OLD, NEW = "2025-01-01T00:00", "2026-01-01T00:00"

# Lot p1 (tariff t): day 07:00-19:00 first hour 5 yuan then 2 yuan per half hour, at most 30 yuan a
# stretch; night 19:00-07:00 1 yuan an hour, at most 10 yuan a night; 40 yuan per 24 h; 15 min grace
# for the whole stay; new-energy half price. From 2026 the day is 08:00-20:00 at 6 + 3 per half hour
# (cap 40), the night 20:00-08:00 at 2 an hour (cap 12), 50 per 24 h. Lot s1 (tariff e): one all-day
# period, 1.5 yuan per half hour, the 15 min grace taken off ("excess"), new-energy 25 % off, no caps.
TOML = f"""
[lots.p1]
name = "测试停车场"
district = "360102"
capacity = 100
tariff = "t"

[lots.s1]
name = "测试路内泊位"
district = "360103"
capacity = 10
tariff = "e"

[tariffs.t]
name = "test"

[[tariffs.t.versions]]
from = "{OLD}"
free_minutes = 15
daily_cap_fen = 4000
nev_discount_pct = 50

[[tariffs.t.versions.periods]]
name = "day"
start = "07:00"
end = "19:00"
first_unit_minutes = 60
first_unit_fen = 500
unit_minutes = 30
unit_fen = 200
cap_fen = 3000

[[tariffs.t.versions.periods]]
name = "night"
start = "19:00"
end = "07:00"
unit_minutes = 60
unit_fen = 100
cap_fen = 1000

[[tariffs.t.versions]]
from = "{NEW}"
free_minutes = 15
daily_cap_fen = 5000
nev_discount_pct = 50

[[tariffs.t.versions.periods]]
name = "day"
start = "08:00"
end = "20:00"
first_unit_minutes = 60
first_unit_fen = 600
unit_minutes = 30
unit_fen = 300
cap_fen = 4000

[[tariffs.t.versions.periods]]
name = "night"
start = "20:00"
end = "08:00"
unit_minutes = 60
unit_fen = 200
cap_fen = 1200

[[tariffs.e.versions]]
from = "{OLD}"
free_minutes = 15
free_counts = "excess"
nev_discount_pct = 25

[[tariffs.e.versions.periods]]
name = "all day"
start = "00:00"
end = "00:00"
unit_minutes = 30
unit_fen = 150
"""


def at(text: str) -> int:
    """Epoch ms of a Shanghai wall-clock time, computed here independently of the module."""
    return round(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp() * 1000)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tariffs.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tariffs(tmp_path_factory: pytest.TempPathFactory) -> Tariffs:
    return load_tariffs(write(tmp_path_factory.mktemp("tariffs"), TOML))


def charge(
    name: str, start: str, end: str, units: int, fen: int, version: str = OLD, capped: bool = False
) -> FeeLine:
    return FeeLine("period", name, at(start), at(end), units, fen, capped, version)


# -- hand-computed fees ----------------------------------------------------------------------------


def test_a_stay_across_midnight_is_priced_by_day_and_night_with_the_night_cap(tariffs: Tariffs) -> None:
    # 18:00-19:00 day: 60 min = the first unit, 500
    # 19:00-07:00 night: 12 units x 100 = 1200 > cap 1000 -> 1000
    # 07:00-09:10 day (a new stretch): 130 min = first 60 (500) + ceil(70/30) = 3 x 200 -> 1100, 4 units
    # total 500 + 1000 + 1100 = 2600 (under the 4000 daily cap); 15 h 10 min = 910 minutes
    fee = tariffs.fee("p1", at("2025-06-01T18:00"), at("2025-06-02T09:10"))
    assert fee == Fee(
        2600,
        910,
        (
            charge("day", "2025-06-01T18:00", "2025-06-01T19:00", 1, 500),
            charge("night", "2025-06-01T19:00", "2025-06-02T07:00", 12, 1000, capped=True),
            charge("day", "2025-06-02T07:00", "2025-06-02T09:10", 4, 1100),
        ),
    )


def test_each_part_of_a_stay_across_a_price_change_is_priced_by_the_version_then_in_force(
    tariffs: Tariffs,
) -> None:
    # 22:00-00:00 night, old version: 2 x 100 = 200
    # 00:00-08:00 night, new version (a new stretch, new hours): 8 x 200 = 1600 > cap 1200 -> 1200
    # 08:00-09:00 day, new version: 60 min = the first unit, 600
    # total 2000 (the entry version for the whole stay would have given 9 x 100 + 500 + 4 x 200 = 2200)
    fee = tariffs.fee("p1", at("2025-12-31T22:00"), at("2026-01-01T09:00"))
    assert fee.total_fen == 2000
    assert fee.lines == (
        charge("night", "2025-12-31T22:00", "2026-01-01T00:00", 2, 200),
        charge("night", "2026-01-01T00:00", "2026-01-01T08:00", 8, 1200, NEW, capped=True),
        charge("day", "2026-01-01T08:00", "2026-01-01T09:00", 1, 600, NEW),
    )


def test_a_24_hour_cycle_is_capped_by_the_version_in_force_when_it_began(tariffs: Tariffs) -> None:
    # cycle 2025-12-31 10:00 -> 2026-01-01 10:00, begun under the old version (cap 4000):
    #   day 10:00-19:00 old: 540 min = 500 + 16 x 200 = 3700 > 3000 -> 3000 (17 units)
    #   night 19:00-00:00 old: 5 x 100 = 500; night 00:00-08:00 new: 8 x 200 = 1600 -> 1200
    #   day 08:00-10:00 new: 120 min = 600 + 2 x 300 = 1200
    #   3000 + 500 + 1200 + 1200 = 5900 -> cap 4000: -1900 (the new cap, 5000, would leave 5000)
    fee = tariffs.fee("p1", at("2025-12-31T10:00"), at("2026-01-01T10:00"))
    assert fee.total_fen == 4000
    assert fee.lines[-1] == FeeLine(
        "daily_cap", "", at("2025-12-31T10:00"), at("2026-01-01T10:00"), 0, -1900, True, OLD
    )
    # one minute more begins cycle 2 under the new version: a new day stretch, first unit 600 (cap 5000)
    assert tariffs.fee("p1", at("2025-12-31T10:00"), at("2026-01-01T10:01")).total_fen == 4000 + 600


def test_a_stay_up_to_the_grace_is_free_and_one_minute_more_pays_the_whole_stay(tariffs: Tariffs) -> None:
    entry = at("2025-06-01T10:00")
    free = tariffs.fee("p1", entry, entry + 15 * MIN)
    assert free == Fee(0, 15, (FeeLine("free", "", entry, entry + 15 * MIN, 0, 0, False, OLD),))
    # 16 min, "whole": charged from entry, the first unit (60 min) = 500
    assert tariffs.fee("p1", entry, entry + 16 * MIN).total_fen == 500
    # one millisecond over the grace is over it too
    assert tariffs.fee("p1", entry, entry + 15 * MIN + 1) == Fee(
        500, 16, (FeeLine("period", "day", entry, entry + 15 * MIN + 1, 1, 500, False, OLD),)
    )


def test_with_excess_grace_only_the_time_beyond_the_free_minutes_is_charged(tariffs: Tariffs) -> None:
    entry = at("2025-06-01T10:00")
    assert tariffs.fee("s1", entry, entry + 15 * MIN).total_fen == 0
    # 44 min: 15 free, 29 charged = 1 unit of 30 min = 150 ("whole" would be 2 units, 300)
    fee = tariffs.fee("s1", entry, entry + 44 * MIN)
    assert fee.lines == (
        FeeLine("free", "", entry, entry + 15 * MIN, 0, 0, False, OLD),
        FeeLine("period", "all day", entry + 15 * MIN, entry + 44 * MIN, 1, 150, False, OLD),
    )
    assert fee.total_fen == 150
    # 46 min: 31 charged = 2 units = 300
    assert tariffs.fee("s1", entry, entry + 46 * MIN).total_fen == 300


def test_a_stay_of_two_days_and_three_hours_is_capped_per_24_hours_from_entry(tariffs: Tariffs) -> None:
    # cycle 0 (06-01 10:00 -> 06-02 10:00) and cycle 1 (06-02 10:00 -> 06-03 10:00), each:
    #   day 10:00-19:00: 500 + 16 x 200 = 3700 -> stretch cap 3000
    #   night 19:00-07:00: 12 x 100 = 1200 -> 1000
    #   day 07:00-10:00 (cut at the cycle's end): 500 + 4 x 200 = 1300
    #   5300 -> daily cap 4000: -1300
    # cycle 2 (06-03 10:00 -> 13:00): day 180 min = 500 + 4 x 200 = 1300
    # total 4000 + 4000 + 1300 = 9300; 51 h = 3060 minutes
    entry = at("2025-06-01T10:00")
    fee = tariffs.fee("p1", entry, at("2025-06-03T13:00"))
    assert (fee.total_fen, fee.minutes) == (9300, 3060)
    caps = [line for line in fee.lines if line.kind == "daily_cap"]
    assert [(c.start_ms, c.end_ms, c.amount_fen) for c in caps] == [
        (entry, entry + DAY_MS, -1300),
        (entry + DAY_MS, entry + 2 * DAY_MS, -1300),
    ]
    assert fee.lines[-1] == charge("day", "2025-06-03T10:00", "2025-06-03T13:00", 5, 1300)
    # each cap line follows its own cycle's charges
    assert [line.kind for line in fee.lines] == ["period", "period", "period", "daily_cap"] * 2 + ["period"]


def test_the_new_energy_discount_comes_off_the_capped_total(tariffs: Tariffs) -> None:
    # the midnight stay: 2600 x 50 % = 1300 off
    fee = tariffs.fee("p1", at("2025-06-01T18:00"), at("2025-06-02T09:10"), new_energy=True)
    assert fee.total_fen == 1300
    assert fee.lines[-1] == FeeLine(
        "discount", "", at("2025-06-01T18:00"), at("2025-06-02T09:10"), 0, -1300, False, OLD
    )
    # the 2-day stay: 9300 x 50 % = 4650 off
    assert (
        tariffs.fee("p1", at("2025-06-01T10:00"), at("2025-06-03T13:00"), new_energy=True).total_fen == 4650
    )


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (44, 112),  # 29 charged: 1 unit 150; 25 % = 37.5 -> 38 off (half up, to the driver): 112
        (46, 225),  # 31 charged: 2 units 300; 25 % = 75 off: 225
        (76, 337),  # 61 charged: 3 units 450; 25 % = 112.5 -> 113 off: 337
    ],
)
def test_the_new_energy_discount_rounds_half_a_fen_in_the_drivers_favour(
    tariffs: Tariffs, minutes: int, expected: int
) -> None:
    entry = at("2025-06-01T10:00")
    assert tariffs.fee("s1", entry, entry + minutes * MIN, new_energy=True).total_fen == expected


def test_a_stay_entirely_within_a_monthly_pass_is_free(tariffs: Tariffs) -> None:
    entry, exit_ = at("2025-06-01T10:00"), at("2025-06-01T12:00")
    fee = tariffs.fee("p1", entry, exit_, passes=[(at("2025-06-01T00:00"), at("2025-07-01T00:00"))])
    assert fee == Fee(0, 120, (FeeLine("pass", "", entry, exit_, 0, 0),))


def test_only_the_time_outside_a_monthly_pass_is_charged(tariffs: Tariffs) -> None:
    entry, exit_ = at("2025-06-01T10:00"), at("2025-06-01T12:00")
    # no pass: 120 min = 500 + 2 x 200 = 900
    assert tariffs.fee("p1", entry, exit_).total_fen == 900
    # the pass ends at 11:00: 11:00-12:00 is charged, 60 min = the first unit, 500
    fee = tariffs.fee("p1", entry, exit_, passes=[(at("2025-05-01T11:00"), at("2025-06-01T11:00"))])
    assert fee.lines == (
        FeeLine("pass", "", entry, at("2025-06-01T11:00"), 0, 0),
        charge("day", "2025-06-01T11:00", "2025-06-01T12:00", 1, 500),
    )
    # a pass 10:30-11:00 stops the stretch's clock: 30 min (first unit, 500), then 60 more minutes
    # make 90 charged = 1 + ceil(30/30) = 2 units, so the second part adds 1 unit, 200: 700
    fee = tariffs.fee("p1", entry, exit_, passes=[(at("2025-06-01T10:30"), at("2025-06-01T11:00"))])
    assert fee.total_fen == 700
    assert [(line.units, line.amount_fen) for line in fee.lines if line.kind == "period"] == [
        (1, 500),
        (1, 200),
    ]


def test_overlapping_passes_count_once_and_the_grace_is_judged_on_the_whole_stay(tariffs: Tariffs) -> None:
    entry, exit_ = at("2025-06-01T10:00"), at("2025-06-01T12:00")
    passes = [
        (at("2025-06-01T11:00"), at("2025-06-01T11:50")),
        (at("2025-06-01T09:00"), at("2025-06-01T11:30")),
    ]
    # 10 uncovered minutes of a 2-hour stay: over the grace, 1 unit = 500
    fee = tariffs.fee("p1", entry, exit_, passes=passes)
    assert fee.total_fen == 500
    assert fee.lines[0] == FeeLine("pass", "", entry, at("2025-06-01T11:50"), 0, 0)


def test_an_exit_before_entry_is_refused_and_a_zero_length_stay_costs_nothing(tariffs: Tariffs) -> None:
    entry = at("2025-06-01T10:00")
    with pytest.raises(TariffError, match="before entry"):
        tariffs.fee("p1", entry, entry - 1)
    assert tariffs.fee("p1", entry, entry) == Fee(0, 0, ())


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda t: t.fee("p1", at("2024-12-31T23:00"), at("2025-01-01T01:00")), "no version in force"),
        (lambda t: t.fee("p1", at("2025-01-01T10:00"), at("2025-01-01T10:00") + 401 * DAY_MS), "review"),
        (lambda t: t.fee("nowhere", 0, 0), "no lot 'nowhere'"),
        (lambda t: t.fee("p1", at("2025-06-01T10:00"), at("2025-06-01T11:00"), passes=[(2, 1)]), "pass"),
    ],
)
def test_a_stay_that_cannot_be_priced_raises_tariff_error(tariffs: Tariffs, call: Any, words: str) -> None:
    with pytest.raises(TariffError, match=words):
        call(tariffs)


def test_a_started_unit_counts_in_full(tariffs: Tariffs) -> None:
    entry = at("2025-06-01T10:00")
    # 60 min + 1 ms: the first unit and a begun second unit: 500 + 200
    assert tariffs.fee("p1", entry, entry + 60 * MIN + 1).total_fen == 700
    assert tariffs.fee("p1", entry, entry + 90 * MIN).total_fen == 700
    assert tariffs.fee("p1", entry, entry + 90 * MIN + 1).total_fen == 900


# -- the shipped file ------------------------------------------------------------------------------


def test_the_shipped_demo_has_four_nanchang_lots_and_prices_a_stay() -> None:
    shipped = load_tariffs()
    assert {lot.district for lot in shipped.lots.values()} <= {"360102", "360103", "360113"}
    assert shipped.lot("bayi-square").name == "八一广场地下停车场"
    assert len(shipped.lots) == 4
    # city-core, old version: 18:00-20:00 day = 500 + 2 x 100 = 700; 20:00-00:00 night = 4 x 100 = 400;
    # new version from 2026-03-01: 00:00-08:00 night 8 x 100 = 800 -> cap 600; 08:00-09:10 day =
    # 600 + 1 x 150 = 750; total 2450, new-energy half: 1225
    fee = shipped.fee("bayi-square", at("2026-02-28T18:00"), at("2026-03-01T09:10"), new_energy=True)
    assert fee.total_fen == 1225
    # the street lot: 15 free minutes taken off, night free: 20:00-22:00 = 30 min day (1 x 150) + night 0
    assert shipped.fee("shengjinta-street", at("2026-05-01T20:00"), at("2026-05-01T22:00")).total_fen == 150


# -- a bad tariff file ----------------------------------------------------------------------------


def bad(tmp_path: Path, old: str, new: str, count: int = 1) -> TariffError:
    assert TOML.count(old) >= count
    with pytest.raises(TariffError) as caught:
        load_tariffs(write(tmp_path, TOML.replace(old, new, count)))
    assert str(caught.value).startswith(str(tmp_path / "tariffs.toml"))
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'start = "07:00"',
            'start = "25:00"',
            'tariffs.t.versions[0] (from 2025-01-01T00:00).periods[0].start: must be a local time "HH:MM"',
        ),
        (
            f'from = "{NEW}"',
            'from = "2024-06-01T00:00"',
            "tariffs.t.versions: from 2024-06-01T00:00 does not come after 2025-01-01T00:00",
        ),
        (
            f'from = "{NEW}"',
            'from = "2026-13-01T00:00"',
            "tariffs.t.versions[1] (from 2026-13-01T00:00).from: must be a local date-time",
        ),
        ('end = "07:00"', 'end = "06:00"', "periods: 06:00-07:00 is covered by no period"),
        ('end = "19:00"', 'end = "20:00"', "periods: 19:00-20:00 is covered by 2 periods"),
        (
            "unit_minutes = 30",
            "unit_minutes = 0",
            "periods[0].unit_minutes: must be an integer from 1 to 1440, got 0",
        ),
        ("cap_fen = 1000", "cap_fen = 50", "periods[1].cap_fen: 50 is below one unit's price"),
        (
            "daily_cap_fen = 4000",
            "daily_cap_fen = 400",
            "versions[0] (from 2025-01-01T00:00).daily_cap_fen: 400 is below",
        ),
        ("first_unit_fen = 500\n", "", "periods[0]: first_unit_minutes and first_unit_fen go together"),
        ('tariff = "e"', 'tariff = "x"', "lots.s1.tariff: no tariff 'x' in this file"),
        ('district = "360102"', 'district = "3601"', "lots.p1.district: must be a 6-digit code"),
        ("capacity = 100", "capacity = true", "lots.p1.capacity: must be an integer"),
        ('free_counts = "excess"', 'free_counts = "all"', "free_counts: must be one of whole, excess"),
        (
            "nev_discount_pct = 25",
            "nev_discount_pct = 101",
            "nev_discount_pct: must be an integer from 0 to 100",
        ),
        ("unit_fen = 150", "unit_fen = 150\nprice = 1", "periods[0].price: unknown field"),
        ('name = "night"', 'name = "day"', "periods: the name 'day' is used twice"),
        ("[[tariffs.e.versions.periods]]", "[tariffs.e.versions.periodz]", "periods: missing"),
    ],
)
def test_each_problem_of_a_tariff_file_is_named_by_place_and_field(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    assert problem in str(bad(tmp_path, old, new))


def test_every_problem_of_a_tariff_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        TOML.replace("cap_fen = 1000", "cap_fen = 50")
        .replace('district = "360103"', 'district = "xihu"')
        .replace("nev_discount_pct = 25", "nev_discount_pct = -5")
    )
    with pytest.raises(TariffError) as caught:
        load_tariffs(write(tmp_path, text))
    expected = [
        "tariffs.t.versions[0] (from 2025-01-01T00:00).periods[1].cap_fen: 50 is below one unit's price",
        "tariffs.e.versions[0] (from 2025-01-01T00:00).nev_discount_pct: must be an integer from 0 to 100",
        "lots.s1.district: must be a 6-digit code",
    ]
    assert len(caught.value.problems) == len(expected)
    assert all(p.startswith(e) for p, e in zip(caught.value.problems, expected, strict=True))
    assert "3 problem(s)" in str(caught.value)


def test_an_unreadable_or_malformed_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TariffError, match="cannot read"):
        load_tariffs(tmp_path / "absent.toml")
    with pytest.raises(TariffError, match="not a UTF-8 TOML file"):
        load_tariffs(write(tmp_path, "[lots.p1\n"))
    with pytest.raises(TariffError, match="no lot in the file"):
        load_tariffs(write(tmp_path, ""))


def test_a_version_from_a_toml_date_time_literal_is_read_as_local_time(tmp_path: Path) -> None:
    loaded = load_tariffs(write(tmp_path, TOML.replace(f'from = "{NEW}"', "from = 2026-01-01T00:00:00")))
    version = version_at(loaded.tariff("t"), at("2026-01-01T00:00"))
    assert (version.from_ms, version.from_text) == (at("2026-01-01T00:00"), "2026-01-01T00:00")
    assert version_at(loaded.tariff("t"), at("2026-01-01T00:00") - 1).from_text == OLD


# -- random files ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=12), st.datetimes(), st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_any_decoded_value_either_parses_or_raises_tariff_error(data: object) -> None:
    with contextlib.suppress(TariffError):
        parse_tariffs(data, "random")


def _mutate(document: Any, path: list[int], value: object) -> None:
    """Replace (or delete, for None) the entry reached by following ``path``'s choices."""
    node = document
    for depth, step in enumerate(path):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = keys[step % len(keys)]
        child = node[key]
        if not isinstance(child, dict | list) or not child or depth == len(path) - 1:
            if value is None and isinstance(node, dict):
                del node[key]
            else:
                node[key] = value
            return
        node = child


@given(st.lists(st.integers(0, 50), min_size=1, max_size=6), values)
def test_a_valid_file_with_one_entry_changed_either_parses_or_raises_tariff_error(
    path: list[int], value: object
) -> None:
    document = tomllib.loads(TOML)
    _mutate(document, path, value)
    try:
        parse_tariffs(document, "mutated")
    except TariffError as error:
        assert error.problems


@given(st.binary(max_size=300))
@settings(max_examples=50)
def test_random_bytes_as_a_tariff_file_raise_tariff_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tariffs.toml"
        path.write_bytes(raw)
        with pytest.raises(TariffError):
            load_tariffs(path)


# -- random stays ---------------------------------------------------------------------------------

T0 = at("2025-12-20T00:00")  # stays around the price change of 2026-01-01
moments = st.integers(T0, T0 + 20 * DAY_MS)
stays = st.tuples(moments, st.integers(0, 4 * DAY_MS), st.integers(0, 4 * DAY_MS)).map(
    lambda t: (t[0], t[0] + min(t[1], t[2]), t[0] + max(t[1], t[2]))
)
pass_lists = st.lists(
    st.tuples(moments, st.integers(0, 2 * DAY_MS)).map(lambda p: (p[0], p[0] + p[1])), max_size=3
)


@given(stays, pass_lists, st.booleans(), st.sampled_from(["p1", "s1"]))
@settings(max_examples=300, deadline=None)
def test_a_random_stay_is_priced_consistently(
    tariffs: Tariffs, stay: tuple[int, int, int], passes: list[tuple[int, int]], nev: bool, lot: str
) -> None:
    entry, early, late = stay
    first = tariffs.fee(lot, entry, early, new_energy=nev, passes=passes)
    fee = tariffs.fee(lot, entry, late, new_energy=nev, passes=passes)
    # never negative, monotone in the exit time, lines add up to the total
    assert 0 <= first.total_fen <= fee.total_fen
    assert sum(line.amount_fen for line in fee.lines) == fee.total_fen
    # period, free and pass lines tile the stay exactly
    tiles = sorted(
        (line.start_ms, line.end_ms) for line in fee.lines if line.kind in ("period", "free", "pass")
    )
    if late > entry:
        assert tiles[0][0] == entry and tiles[-1][1] == late
        assert all(a[1] == b[0] for a, b in itertools.pairwise(tiles))
    # more pass time never costs more
    assert (
        tariffs.fee(lot, entry, late, new_energy=nev, passes=[*passes, (entry, entry + 3_600_000)]).total_fen
        <= fee.total_fen
    )
    if lot == "p1":
        # never above the daily caps of the 24 h cycles begun (each by its starting version)
        tariff = tariffs.tariff("t")
        cycles = range(-(-(late - entry) // DAY_MS))
        caps = sum(version_at(tariff, entry + k * DAY_MS).daily_cap_fen or 0 for k in cycles)
        assert fee.total_fen <= caps


def minute_by_minute(
    tariffs: Tariffs, lot: str, entry: int, exit_: int, passes: list[tuple[int, int]]
) -> int:
    """An independent count for minute-aligned stays: each charged minute is put in its stretch
    (24 h cycle, version, period and the day that period's occurrence began), then each stretch is
    priced on its minutes and each cycle capped."""
    tariff = tariffs.tariff(tariffs.lot(lot).tariff)
    entry_version = version_at(tariff, entry)
    grace = entry_version.free_minutes * MIN
    if exit_ - entry <= grace:
        return 0
    free_until = entry + grace if entry_version.free_counts == "excess" else entry
    minutes: dict[tuple[int, int, str, str], int] = {}
    for moment in range(free_until, exit_, MIN):
        if any(a <= moment < b for a, b in passes):
            continue
        local = datetime.fromtimestamp(moment / 1000, SHANGHAI)
        version = version_at(tariff, moment)
        minute = local.hour * 60 + local.minute
        period = version.period_at(minute)
        began = local.date() if minute >= period.start else local.date() - timedelta(days=1)
        key = ((moment - entry) // DAY_MS, version.from_ms, period.name, began.isoformat())
        minutes[key] = minutes.get(key, 0) + 1
    cycles: dict[int, int] = {}
    for (cycle, from_ms, name, _), count in minutes.items():
        period = next(p for p in version_at(tariff, from_ms).periods if p.name == name)
        units = 1 + -(-max(0, count - period.first_unit_minutes) // period.unit_minutes)
        price = period.first_unit_fen + (units - 1) * period.unit_fen
        cycles[cycle] = cycles.get(cycle, 0) + min(price, period.cap_fen or price)
    caps = {k: version_at(tariff, entry + k * DAY_MS).daily_cap_fen for k in cycles}
    return sum(min(amount, caps[k] or amount) for k, amount in cycles.items())


# entries from 2025-12-29 to 2026-01-02: most stays meet the price change
minute_moments = st.integers(9 * 1440, 13 * 1440).map(lambda m: T0 + m * MIN)


@given(
    minute_moments,
    st.integers(0, 3 * 1440),
    st.lists(st.tuples(minute_moments, st.integers(0, 1440)), max_size=2),
    st.sampled_from(["p1", "s1"]),
)
@settings(max_examples=100, deadline=None)
def test_a_minute_aligned_stay_costs_what_a_minute_by_minute_count_gives(
    tariffs: Tariffs, entry: int, minutes: int, pass_starts: list[tuple[int, int]], lot: str
) -> None:
    passes = [(start, start + length * MIN) for start, length in pass_starts]
    exit_ = entry + minutes * MIN
    expected = minute_by_minute(tariffs, lot, entry, exit_, passes)
    assert tariffs.fee(lot, entry, exit_, passes=passes).total_fen == expected

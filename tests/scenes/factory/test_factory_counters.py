"""Counters that restart are not production: resets, jumps, rollovers at the declared width and
Sparkplug births on hand-computed readings, a property over random reset sequences, and OEE kept
within what is physically possible."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.scenes.factory.events import FactoryTags
from citybrain.scenes.factory.oee import Elements, counter_cap, counter_delta, machine_oee
from citybrain.scenes.factory.plant import PlantBook
from tests.scenes.factory.factory_testkit import D0, Driver, H, M, small_site

SITE = small_site()
U16, U32 = 65_535, 4_294_967_295


def tags(ts: int, machine: str = "a", birth: bool = False, **values: float | str) -> FactoryTags:
    return FactoryTags(key=f"t1/{machine}", ts=ts, source="test", values=values, ingest_ts=ts, birth=birth)


def test_counter_cap_is_twice_the_ideal_rate_plus_one_piece() -> None:
    assert counter_cap(60_000, 1.0, 2.0) == 121  # 2 x 60 s / 1 s + 1
    assert counter_cap(60_000, 30.0, 2.0) == 5  # 2 x 60 / 30 + 1
    assert counter_cap(0, 1.0, 2.0) == 3  # timestamps may be a second coarse: 2 x 1 + 1
    assert counter_cap(60_000, 0.0, 2.0) == math.inf  # no ideal cycle time: no physical limit known
    assert counter_cap(60_000, 1.0, 0.0) == math.inf  # limit switched off


def test_counter_delta_drops_jumps_and_rollovers() -> None:
    assert counter_delta(57_600, 57_000, U32, cap=121) == (0.0, "reset")  # simulator restart
    assert counter_delta(100, 0, U32, cap=121) == (0.0, "reset")  # PLC reset to zero
    assert counter_delta(2_000, 65_000, U16, cap=11) == (0.0, "jump")  # restarted higher in 5 s
    assert counter_delta(2_000, 2_011, U16, cap=11) == (11.0, "ok")  # at the limit: production
    assert counter_delta(65_530, 4, U16, cap=11) == (10.0, "rollover")  # through 65535 -> 0
    assert counter_delta(65_530, 4, U16, cap=9) == (0.0, "reset")  # more than possible: a reset
    # a 16-bit-looking wrap on a counter declared 32 bits wide is a reset, not 4.3e9 pieces
    assert counter_delta(65_530, 4, U32, cap=11) == (0.0, "reset")
    assert counter_delta(4_294_967_290, 5, U32, cap=121) == (11.0, "rollover")


def test_simulator_restart_mid_shift_is_a_new_baseline() -> None:
    """Hand-computed: the simulator's counters start at 57,000 (its seed) and it makes one piece a
    second at most; restarted after 10 min, they are back at 57,000. Good 500 before, 250 after."""
    d = Driver(PlantBook([SITE]))
    t = D0 + 2 * H  # 10:00, shift A
    d.feed(tags(t, good=57_000.0, reject=1_000.0, state="running"))
    for i in range(1, 11):  # one reading a minute: 50 good, 1 reject each
        d.feed(tags(t + i * M, good=57_000.0 + 50 * i, reject=1_000.0 + i))
    d.feed(tags(t + 10 * M + 5_000, good=57_000.0, reject=1_000.0))  # restarted: the seed's values
    for i in range(1, 6):
        d.feed(tags(t + 10 * M + 5_000 + i * M, good=57_000.0 + 50 * i, reject=1_000.0 + i))
    st_ = d.proc.state.machines["t1/a"]
    e = st_.shifts["2026-07-06/A"]
    assert (e.good, e.reject) == (500 + 250, 10 + 5)
    assert st_.counter_events == {"reset": 2}
    assert sum(h[1] for h in st_.hours.values()) == 750  # hourly output: 750 good in the 10:00 hour
    o = machine_oee(e, 1.0, {"good", "reject", "state"})
    # 15 min 5 s running; the 5 s of the restart are held as running (within max_gap_s)
    assert o.oee == pytest.approx(750 / (15 * 60 + 5))
    assert o.clamped() == []
    assert not [a for a in d.out.alerts if a.alert.rule == "factory.quality_low"]


def test_counter_that_comes_back_higher_is_a_jump() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(tags(D0, good=2_000.0, reject=0.0, state="running"))
    d.feed(tags(D0 + 5_000, good=65_000.0, reject=0.0))  # 63,000 pieces in 5 s: impossible at 1 s
    d.feed(tags(D0 + 65_000, good=65_050.0, reject=0.0))  # then 50 in a minute: production
    st_ = d.proc.state.machines["t1/a"]
    assert st_.shifts["2026-07-06/A"].good == 50 and st_.counter_events == {"jump": 1}


def test_sparkplug_birth_is_a_new_baseline() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(tags(D0, machine="c", Good=100.0, Reject=0.0, State="running"))
    d.feed(tags(D0 + M, machine="c", Good=130.0, Reject=1.0))
    d.feed(tags(D0 + M + 100, machine="c", birth=True, Good=131.0, Reject=1.0))  # a rebirth
    d.feed(tags(D0 + 2 * M, machine="c", Good=160.0, Reject=2.0))
    st_ = d.proc.state.machines["t1/c"]
    e = st_.shifts["2026-07-06/A"]
    assert (e.good, e.reject) == (30 + 29, 1 + 1) and st_.counter_events == {"birth": 2}


def test_ratios_are_clamped_only_as_a_last_guard() -> None:
    # an ideal cycle time of 2 s on a machine that makes one piece a second: performance 200 %
    o = machine_oee(Elements(run_s=3_600, good=3_600), 2.0, {"good"})
    assert o.performance == 1.0 and o.oee == 1.0 and o.availability == 1.0 and o.quality == 1.0
    assert o.clamped() == ["performance", "oee"]
    assert o.as_dict()["clamped"] == ["performance", "oee"]
    assert o.as_dict()["losses_s"]["productive"] == 7_200  # the raw sums stay as they are


# One interval between two readings: seconds, pieces made (at most the ideal rate of 1 a second),
# and whether the counter was reset before them (to a fraction of its value then).
Step = tuple[int, float, float | None]
steps = st.lists(
    st.tuples(
        st.integers(1, 600),
        st.floats(0.0, 1.0),
        st.one_of(st.none(), st.floats(0.0, 0.999)),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(start=st.integers(0, 2**31), steps=steps)
def test_resets_never_count_more_than_was_made(start: int, steps: list[Step]) -> None:
    d = Driver(PlantBook([SITE]))
    t, value = D0, float(start)
    d.feed(tags(t, good=value))
    made_total, made_without_reset = 0.0, 0.0
    for secs, rate, reset in steps:
        made = float(int(secs * rate))
        if reset is not None:
            value = float(int(value * reset))  # a restart: the counter goes back, below where it was
        else:
            made_without_reset += made
        value += made
        made_total += made
        t += secs * 1_000
        d.feed(tags(t, good=value))
    counted = sum(h[1] for h in d.proc.state.machines["t1/a"].hours.values())
    assert counted <= made_total
    assert counted >= made_without_reset  # what was made between readings without a reset counts

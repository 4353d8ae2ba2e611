"""OEE per ISO 22400-2 on hand-computed shifts: time elements, losses, counter resets and
rollovers, missing data, planned stops, minor vs unplanned stops, line and day aggregates."""

from __future__ import annotations

import pytest

from citybrain.scenes.factory.events import FactoryReject, FactoryTags
from citybrain.scenes.factory.oee import Elements, combine, counter_delta, machine_oee
from citybrain.scenes.factory.plant import PlantBook
from citybrain.scenes.factory.shifts import segments, shift_at
from tests.scenes.factory.factory_testkit import D0, Driver, H, M, small_site

SITE = small_site()


def tags(ts: int, machine: str = "a", **values: object) -> FactoryTags:
    return FactoryTags(key=f"t1/{machine}", ts=ts, source="test", values=values, ingest_ts=ts)  # type: ignore[arg-type]


def hand_shift() -> list[FactoryTags]:
    """Shift A (08:00-16:00 local) of machine a, PRI 1 s. See test_hand_computed_shift for the sums."""
    return [
        tags(D0, good=1000.0, reject=10.0, state="running"),  # 08:00 baseline
        tags(D0 + 1 * H, good=4000.0, reject=40.0, state="fault"),  # 09:00 +3000/+30, stop starts
        tags(D0 + 1 * H + 2 * M, state="running"),  # 09:02 2-minute stop: minor
        tags(D0 + 2 * H, good=6500.0, reject=60.0, state="fault"),  # 10:00 +2500/+20, stop starts
        tags(D0 + 2 * H + 20 * M, state="running"),  # 10:20 20-minute stop: unplanned
        tags(D0 + 3 * H, temp=160.0),  # 11:00 (readings at most max_gap_s = 60 min apart...)
        tags(D0 + 3 * H + 30 * M, good=9000.0, reject=100.0),  # 11:30 +2500/+40
        tags(D0 + 4 * H + 15 * M, temp=160.0),  # 12:15 (...but for 14:00-15:30)
        tags(D0 + 5 * H, good=100.0, reject=5.0),  # 13:00 PLC restart: counters reset, a new baseline
        tags(D0 + 6 * H, good=3000.0, reject=20.0),  # 14:00 +2900/+15; then silent 90 min
        tags(D0 + 7 * H + 30 * M, good=4000.0, reject=25.0),  # 15:30 +1000/+5
        tags(D0 + 8 * H, good=5500.0, reject=30.0),  # 16:00 +1500/+5 (end of shift A)
    ]


def test_hand_computed_shift() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(*hand_shift())
    st = d.proc.state.machines["t1/a"]
    e = st.shifts["2026-07-06/A"]
    # running: 09:00 + 58 min + 70 min + 30 + 30 (around the 12:00-12:30 planned stop) + 60 + 60
    # (14:00-15:00, held for max_gap 60 min) + 30 (15:30-16:00)
    assert e.run_s == pytest.approx(23_880)
    assert (e.minor_s, e.down_s, e.pending_s) == (120, 1_200, 0)
    assert e.planned_s == 1_800 and e.nodata_s == 1_800  # lunch; 15:00-15:30 without data
    assert e.run_s + e.minor_s + e.down_s + e.planned_s + e.nodata_s == 8 * 3600
    # 3000 + 2500 + 2500 + 2900 + 1000 + 1500 good, 30 + 20 + 40 + 15 + 5 + 5 rejects: the 100/5
    # read just after the 13:00 restart are a baseline (unknown what came before), not production
    assert (e.good, e.reject) == (13_400, 115)
    assert st.counter_events == {"reset": 2}  # good and reject both reset at 13:00

    o = machine_oee(e, 1.0, {"good", "reject", "state", "process"})
    assert o.pbt_s == 25_200 and o.apt_s == 24_000
    assert o.availability == pytest.approx(24_000 / 25_200)
    assert o.performance == pytest.approx(13_515 / 24_000)
    assert o.quality == pytest.approx(13_400 / 13_515)
    assert o.oee == pytest.approx(13_400 / 25_200)
    assert o.oee == pytest.approx(o.availability * o.performance * o.quality)  # type: ignore[operator]
    losses = o.as_dict()["losses_s"]
    assert losses == pytest.approx(
        {"unplanned_stops": 1_200, "minor_stops": 120, "speed": 10_365, "rejects": 115, "productive": 13_400}
    )
    assert sum(losses.values()) == pytest.approx(o.pbt_s)  # the losses partition planned busy time
    assert o.as_dict()["coverage"] == pytest.approx(25_200 / 27_000)
    # the processor stored the same figures as metrics keyed by the shift start
    oee = [m for m in d.out.metrics if m.name == "factory.oee" and m.key == "t1/a"]
    assert oee[-1].ts == D0 and oee[-1].value == pytest.approx(13_400 / 25_200)


def test_ongoing_stop_is_pending_then_classified() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(tags(D0, good=0.0, reject=0.0, state="running"), tags(D0 + 10 * M, state="fault"))
    d.feed(tags(D0 + 12 * M, temp=160.0))  # 2 min into the stop: not yet known to be long
    e = d.proc.state.machines["t1/a"].shifts["2026-07-06/A"]
    assert (e.pending_s, e.minor_s, e.down_s) == (120, 0, 0)
    assert machine_oee(e, 1, {"good"}).availability == 1.0  # shown as a minor stop meanwhile
    d.feed(tags(D0 + 16 * M, temp=160.0))  # 6 min: past minor_stop_s (5 min), all of it unplanned
    assert (e.pending_s, e.minor_s, e.down_s) == (0, 0, 360)
    d.feed(tags(D0 + 17 * M, state="running"))
    assert (e.pending_s, e.minor_s, e.down_s) == (0, 0, 420)


def test_stop_across_a_shift_boundary_is_classified_in_both_shifts() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(tags(D0 + 7 * H + 58 * M, state="running"), tags(D0 + 7 * H + 59 * M, state="fault"))
    d.feed(tags(D0 + 8 * H + 1 * M, state="running"))  # 2-minute stop: 1 min in A, 1 min in B
    st = d.proc.state.machines["t1/a"]
    assert st.shifts["2026-07-06/A"].minor_s == 60 and st.shifts["2026-07-06/B"].minor_s == 60


def test_planned_state_and_outside_shifts() -> None:
    d = Driver(PlantBook([SITE]))
    # 23:30-00:30 local: the last half hour of shift B, then no shift at all (00:00-08:00)
    t = D0 + 15 * H + 30 * M
    d.feed(tags(t, state="maintenance"), tags(t + H, state="running", good=1.0))
    st = d.proc.state.machines["t1/a"]
    assert st.shifts["2026-07-06/B"].planned_s == 1_800
    assert set(st.shifts) == {"2026-07-06/B"}


def test_counter_delta_rollover_reset_baseline() -> None:
    assert counter_delta(None, 500, 65_535) == (0.0, "baseline")
    assert counter_delta(65_530, 4, 65_535) == (10.0, "rollover")  # 65530 -> 65535 -> 0 -> 4
    assert counter_delta(4_294_967_290, 5, 4_294_967_295) == (11.0, "rollover")
    assert counter_delta(30_000, 12, 65_535) == (0.0, "reset")  # a new baseline, never production
    assert counter_delta(7, 7, 65_535) == (0.0, "ok")


def test_rollover_counts_through_the_processor() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(tags(D0, good=4_294_967_260.0, reject=0.0, state="running"))
    d.feed(tags(D0 + M, good=20.0, reject=0.0))  # 35 to the top, the wrap to 0, 20 more: 56 in 60 s
    assert d.proc.state.machines["t1/a"].shifts["2026-07-06/A"].good == 56
    assert d.proc.state.machines["t1/a"].counter_events == {"rollover": 1}


def test_line_and_day_aggregates_are_time_weighted() -> None:
    a = machine_oee(Elements(run_s=3600, good=3000, reject=0), 1.0, {"good", "reject"})
    b = machine_oee(Elements(run_s=1800, down_s=5400, good=600, reject=300), 2.0, {"good", "reject"})
    line = combine([a, b])
    # ideal good time: 3000*1 + 600*2 = 4200 s over a planned busy time of 3600 + 7200 s
    assert line.oee == pytest.approx(4_200 / 10_800)
    assert line.availability == pytest.approx(5_400 / 10_800)
    assert line.performance == pytest.approx((3_000 + 1_800) / 5_400)
    assert line.quality == pytest.approx(4_200 / 4_800)
    assert line.oee != pytest.approx((a.oee + b.oee) / 2)  # type: ignore[operator]


def test_no_production_time_gives_no_ratio() -> None:
    o = machine_oee(Elements(planned_s=3600), 1.0, {"good"})
    assert o.availability is None and o.oee is None and o.as_dict()["first_pass_yield"] is None


def test_shift_calendar_night_shift_and_planned_stop() -> None:
    night = small_site()
    night.shifts[1].end = "04:00"  # B runs 16:00-04:00: past midnight, belongs to its start day
    assert shift_at(night, D0 + 18 * H) == ("2026-07-06/B", D0 + 8 * H, D0 + 20 * H)
    segs = segments(SITE, "L", D0 + 3 * H + 50 * M, D0 + 4 * H + 40 * M)  # 11:50-12:40
    assert [(s.end - s.start) // M for s in segs] == [10, 30, 10]
    assert [s.planned for s in segs] == [False, True, False]


def test_reject_reasons_and_quality_alert() -> None:
    d = Driver(PlantBook([SITE]))
    d.feed(tags(D0, good=0.0, reject=0.0, state="running"))
    out = d.feed(
        tags(D0 + M, good=5.0, reject=15.0),
        FactoryReject(key="t1/a", ts=D0 + M, source="t", reason="烫焦 scorch", count=15),
    )
    assert [(m.key, m.value) for m in out.metrics if m.name == "factory.rejects"] == [
        ("t1/a|烫焦 scorch", 15)
    ]
    opened = [op for op in out.alerts if op.alert.rule == "factory.quality_low"]
    assert opened and opened[0].op == "open" and "25.0%" in opened[0].alert.message

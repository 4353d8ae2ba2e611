"""Stage 2 on crafted traversals: space-mean speed, the no-data rule, free-flow learning with its
fallback, window closing, and the speed-collapse alert."""

from __future__ import annotations

import pytest

from citybrain.core.outputs import Outputs
from citybrain.scenes.traffic.segments import SegmentSpeeds
from tests.scenes.traffic.traffic_testkit import (
    MIN,
    T_OFFPEAK,
    T_PEAK,
    Driver,
    config,
    metrics,
    network,
    traversal,
)

SEG = 1  # Sankt Eriksgatan, secondary, speed limit 50 km/h, 157.8 m


def driver(**settings: object) -> Driver:
    return Driver(SegmentSpeeds(0, config(**settings), network()))


def close_minute(d: Driver, start: int) -> Outputs:
    """A traversal elsewhere, late enough to close the minute at ``start`` (lateness 30 s)."""
    return d.feed([traversal(2, start + 2 * MIN, 130.0, 10.0, "other")])


def test_space_mean_speed_from_traversals_not_point_speeds() -> None:
    d = driver()
    out = d.feed(
        [
            traversal(SEG, T_PEAK + 10_000, 100.0, 10.0, "a"),  # 36 km/h
            traversal(SEG, T_PEAK + 20_000, 100.0, 30.0, "b"),  # 12 km/h
            traversal(SEG, T_PEAK + 30_000, 100.0, 20.0, "c"),  # 18 km/h
        ]
    )
    # provisional figure of the open minute: 300 m / 60 s = 18 km/h (not the mean 22 km/h)
    assert metrics(out, "traffic.segment.speed")[("1", T_PEAK)] == pytest.approx(18.0)
    out = close_minute(d, T_PEAK)
    assert metrics(out, "traffic.segment.speed")[("1", T_PEAK)] == pytest.approx(18.0)
    assert metrics(out, "traffic.segment.samples")[("1", T_PEAK)] == 3
    # no free flow learned yet: the 50 km/h limit stands in -> 50 / 18
    assert metrics(out, "traffic.segment.index")[("1", T_PEAK)] == pytest.approx(50 / 18, abs=1e-3)
    state = [s for s in out.states if s.key == "1"][-1].data
    assert state["level"] == "congested"  # amap bands: 2.0 <= 2.78 < 4.0
    assert state["freeflow_source"] == "speed_limit" and state["freeflow_kmh"] == 50.0
    assert state["last_1m"]["speed_kmh"] == pytest.approx(18.0)
    # the closed window went on to every area of the segment (city, district, road)
    areas = {e.key for e in out.events}
    assert {"city", "road:Sankt Eriksgatan"} <= areas and any(a.startswith("district:") for a in areas)


def test_too_few_samples_is_no_data_never_a_guess() -> None:
    d = driver()
    d.feed(
        [traversal(SEG, T_PEAK + 5_000, 150.0, 15.0, "a"), traversal(SEG, T_PEAK + 9_000, 150.0, 15.0, "b")]
    )
    out = close_minute(d, T_PEAK)
    assert ("1", T_PEAK) not in metrics(out, "traffic.segment.speed")
    assert ("1", T_PEAK) not in metrics(out, "traffic.segment.index")
    assert metrics(out, "traffic.segment.samples")[("1", T_PEAK)] == 2
    state = [s for s in out.states if s.key == "1"][-1].data
    assert state["level"] == "no_data" and state["speed_kmh"] is None and state["index"] is None
    assert not [e for e in out.events if getattr(e, "segment", None) == SEG]  # nothing sent to areas


def test_freeflow_is_learned_from_offpeak_speeds_with_a_minimum_count() -> None:
    d = driver(segments={"freeflow_min_samples": 20})
    # 19 off-peak traversals (11:00 China time): not enough yet
    speeds = [30 + i for i in range(20)]  # 30..49 km/h, one each
    d.feed(
        [
            traversal(SEG, T_OFFPEAK + i * 1000, 100.0, 100 / (v / 3.6), f"v{i}")
            for i, v in enumerate(speeds[:19])
        ]
    )
    proc = d.proc
    assert isinstance(proc, SegmentSpeeds)
    assert proc.freeflow("1") == (50.0, "speed_limit")
    d.feed([traversal(SEG, T_OFFPEAK + 30_000, 100.0, 100 / (49 / 3.6), "v19")])
    ff, source = proc.freeflow("1")
    assert source == "learned"
    # 85th percentile of 20 speeds, one per 1 km/h bin 30..49: 17th value -> bin 46, fully used
    assert ff == pytest.approx(47.0, abs=0.01)
    # peak-hour traversals never teach free flow
    before = dict(proc.state.segs["1"].hist)
    d.feed([traversal(SEG, T_PEAK + 3_600_000 * 24, 100.0, 50.0, "peak")])
    assert proc.state.segs["1"].hist == before


def test_fallback_to_road_class_when_no_speed_limit() -> None:
    tn = network()
    sid = next(
        s.id for s in tn.segments.values() if s.speed_limit_kmh is None and s.road_class == "residential"
    )
    proc = SegmentSpeeds(0, config(), network())
    assert proc.freeflow(str(sid)) == (30.0, "road_class")


def test_speed_bands_alternative_levels_by_road_class() -> None:
    d = driver(levels={"method": "speed_bands"})
    d.feed([traversal(SEG, T_PEAK + 10_000 + i, 100.0, 100 / (22 / 3.6), f"v{i}") for i in range(3)])
    out = close_minute(d, T_PEAK)
    # secondary = 次干路 band: > 25 smooth, 15-25 slow -> 22 km/h is slow (index bands would say slow too)
    assert [s for s in out.states if s.key == "1"][-1].data["level"] == "slow"


def test_sudden_speed_collapse_names_place_numbers_and_window() -> None:
    d = driver()
    opened = []
    for m in range(4):  # three normal minutes at 40 km/h, then 6 km/h
        v = 40.0 if m < 3 else 6.0
        start = T_OFFPEAK + m * MIN
        d.feed(
            [traversal(SEG, start + 5_000 + i * 1000, 150.0, 150 / (v / 3.6), f"v{m}{i}") for i in range(4)]
        )
        out = d.feed([traversal(2, start + MIN + 31_000, 130.0, 10.0, f"w{m}")])
        opened += [a for a in out.alerts if a.op == "open"]
    assert len(opened) == 1
    alert = opened[0].alert
    assert alert.rule == "traffic.speed_collapse" and alert.key == "1"
    assert "Sankt Eriksgatan" in alert.message and "6.0 km/h" in alert.message and "40.0" in alert.message
    assert alert.data["window_start"] == T_OFFPEAK + 3 * MIN and alert.data["samples"] == 4
    assert alert.data["baseline_kmh"] == pytest.approx(40.0)

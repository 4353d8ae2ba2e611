"""Stage 3 and the silence watch on crafted sequences: hotspot aggregation (Didi weighting, the
coverage rule), finalising minutes, trend, the hotspot-congested alert and the silent-source alert."""

from __future__ import annotations

import pytest

from citybrain.core.outputs import AlertOp
from citybrain.scenes.traffic.aggregate import AreaIndex
from citybrain.scenes.traffic.events import TrafficSourceSeen
from citybrain.scenes.traffic.sources import SourceWatch
from tests.scenes.traffic.traffic_testkit import MIN, T_PEAK, Driver, config, metrics, network, seg_window

HS = "hotspot:sveavagen"


def test_hotspot_index_is_didi_weighted_over_its_segments() -> None:
    tn = network()
    a, b = tn.areas[HS].segments[:2]
    d = Driver(AreaIndex(0, config(area={"hotspot_min_coverage": 0.0}), network()))
    out = d.feed(
        [
            seg_window(HS, a, T_PEAK, 1000.0, 20.0, 40.0, w=10.0),
            seg_window(HS, b, T_PEAK, 500.0, 30.0, 30.0, w=30.0),
        ]
    )
    # hand-computed in test_traffic_index: index 4/3, speed 25 km/h
    assert metrics(out, "traffic.hotspot.index")[(HS, T_PEAK)] == pytest.approx(4 / 3, abs=1e-3)
    assert metrics(out, "traffic.hotspot.speed")[(HS, T_PEAK)] == pytest.approx(25.0)
    state = out.states[-1]
    assert state.scene == "traffic.area" and state.key == HS
    assert state.data["level"] == "smooth" and state.data["name"]["zh-CN"] == "斯维亚大道走廊"
    assert state.data["final"] is False


def test_hotspot_with_too_little_of_its_length_covered_says_no_data() -> None:
    tn = network()
    seg = tn.areas[HS].segments[0]
    d = Driver(AreaIndex(0, config(), network()))  # needs 20 % of the ~4.8 km corridor
    out = d.feed([seg_window(HS, seg, T_PEAK, 100.0, 5.0, 50.0)])
    assert (HS, T_PEAK) not in metrics(out, "traffic.hotspot.index")
    assert out.states[-1].data["level"] == "no_data" and out.states[-1].data["index"] is None


def feed_minute(d: Driver, start: int, speed: float) -> list[AlertOp]:
    tn = network()
    segs = tn.areas[HS].segments
    ops: list[AlertOp] = d.feed([seg_window(HS, s, start, 100.0, speed, 50.0) for s in segs]).alerts
    return ops


def test_hotspot_congested_for_n_minutes_opens_then_resolves() -> None:
    d = Driver(AreaIndex(0, config(area={"congested_minutes": 3}), network()))
    ops = []
    # index 50/20 = 2.5 (congested) for minutes 0..5, then 50/45 (smooth) for minutes 6..12
    for m in range(13):
        ops += feed_minute(d, T_PEAK + m * MIN, 20.0 if m < 6 else 45.0)
    opened = [o for o in ops if o.op == "open"]
    assert len(opened) == 1
    alert = opened[0].alert
    assert alert.rule == "traffic.hotspot_congested" and alert.key == HS
    # minute m is final once minute m+3 arrives (finalize_after 2 min); the 3rd congested minute
    # (m=2) closes the run of three
    assert alert.opened_ts == T_PEAK + 3 * MIN
    assert alert.data["minutes"] == 3 and alert.data["index"] == pytest.approx(2.5)
    assert "斯维亚大道走廊" in alert.message and "2.50" in alert.message and "3 分钟" in alert.message
    assert [o.op for o in ops if o.op == "resolve"] == ["resolve"]


def test_trend_rises_with_the_index() -> None:
    d = Driver(AreaIndex(0, config(area={"trend_minutes": 2}), network()))
    for m in range(8):
        feed_minute(d, T_PEAK + m * MIN, 45.0 - 4 * m)
    proc = d.proc
    assert isinstance(proc, AreaIndex)
    out = feed_minute(d, T_PEAK + 8 * MIN, 10.0)
    del out
    hist = proc.state.stats[HS].history
    assert len(hist) >= 3 and hist[-1][1] > hist[-3][1]
    fig = {"index": hist[-1][1]}
    assert proc.trend(proc.state.stats[HS], fig) == "rising"


def test_silent_source_alert_names_the_source_and_resolves_on_delivery() -> None:
    d = Driver(SourceWatch(0, config(sources={"silent_after_s": 60}), network()))
    now = 1_800_000_000_000
    d.feed([TrafficSourceSeen(key="jt808/bus", ts=now - 70_000, positions=12, last_ingest_ts=now - 65_000)])
    assert d.tick(now - 10_000).alerts == []  # 55 s quiet: not yet
    out = d.tick(now)
    assert [o.op for o in out.alerts] == ["open"]
    alert = out.alerts[0].alert
    assert alert.key == "jt808/bus" and "65" in alert.message and alert.data["threshold_s"] == 60
    out = d.feed([TrafficSourceSeen(key="jt808/bus", ts=now, positions=3, last_ingest_ts=now + 1_000)])
    assert [o.op for o in out.alerts] == ["resolve"]

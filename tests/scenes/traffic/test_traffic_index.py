"""The index arithmetic on hand-computed cases: space-mean speed, segment and area delay index
(Amap definition, Didi weighting), level bands and the free-flow percentile."""

from __future__ import annotations

import pytest

from citybrain.scenes.traffic import levels as lv
from citybrain.scenes.traffic.settings import INDEX_PRESETS, LevelConfig


def test_space_mean_speed_is_total_distance_over_total_time() -> None:
    # two traversals of a 100 m segment: 10 s (36 km/h) and 30 s (12 km/h)
    # space-mean = 200 m / 40 s = 5 m/s = 18 km/h; the mean of the two speeds (24 km/h) is wrong
    assert lv.space_mean_speed_kmh(200.0, 40.0) == pytest.approx(18.0)
    with pytest.raises(ValueError):
        lv.space_mean_speed_kmh(100.0, 0.0)


def test_segment_index_is_actual_over_freeflow_travel_time() -> None:
    # 500 m at 20 km/h takes 90 s; at 50 km/h free flow 36 s: 90 / 36 = 2.5
    assert lv.segment_index(20.0, 50.0) == pytest.approx(2.5)
    assert lv.segment_index(60.0, 50.0) == 1.0  # faster than free flow: never below 1
    assert lv.segment_index(0.5, 50.0) == 40.0  # capped at 40 like Didi's TrafficIndex
    assert lv.segment_index(0.0, 50.0) == 40.0


def test_area_index_weights_travel_time_by_length_and_flow() -> None:
    # seg A: w=10, 1000 m, v=20, vff=40 ; seg B: w=30, 500 m, v=30, vff=30
    # actual  sum w L / v   = 10*1000/20 + 30*500/30 = 500 + 500 = 1000
    # freeflow sum w L / vff = 10*1000/40 + 30*500/30 = 250 + 500 = 750  -> index 4/3
    # speed = sum w L / sum w L / v = (10000 + 15000) / 1000 = 25 km/h
    index, speed = lv.area_index([(10, 1000, 20, 40), (30, 500, 30, 30)])
    assert index == pytest.approx(4 / 3)
    assert speed == pytest.approx(25.0)
    # a segment faster than free flow counts as free flow in the index (per-link index >= 1)
    index, _ = lv.area_index([(1, 100, 80, 40), (1, 100, 20, 40)])
    assert index == pytest.approx((100 / 40 + 100 / 20) / (100 / 40 + 100 / 40))
    with pytest.raises(ValueError):
        lv.area_index([])


def test_levels_from_index_with_both_presets() -> None:
    amap = INDEX_PRESETS["amap"]
    assert [lv.level_from_index(x, amap) for x in (1.0, 1.49, 1.5, 1.99, 2.0, 3.99, 4.0)] == [
        "smooth",
        "smooth",
        "slow",
        "slow",
        "congested",
        "congested",
        "severe",
    ]
    city = INDEX_PRESETS["city"]
    assert [lv.level_from_index(x, city) for x in (1.4, 1.6, 1.9, 2.1)] == [
        "smooth",
        "slow",
        "congested",
        "severe",
    ]
    assert LevelConfig(index=[1.2, 1.6, 2.2]).index_bands() == (1.2, 1.6, 2.2)


def test_levels_from_speed_bands_by_road_class() -> None:
    arterial = LevelConfig().speed_bands["arterial"]  # >30 smooth, 20-30 slow, 15-20 congested, <=15 severe
    assert [lv.level_from_speed(v, arterial) for v in (45, 30.1, 30, 20.5, 20, 15.5, 15, 3)] == [
        "smooth",
        "smooth",
        "slow",
        "slow",
        "congested",
        "congested",
        "severe",
        "severe",
    ]


def test_percentile_from_histogram() -> None:
    # 100 speeds: 10 each in the bins 30..39 km/h -> the 85th lies in bin 38, half way through
    hist = {b: 10 for b in range(30, 40)}
    assert lv.percentile_from_histogram(hist, 85.0) == pytest.approx(38.5)
    assert lv.percentile_from_histogram({50: 1}, 85.0) == pytest.approx(50.85)

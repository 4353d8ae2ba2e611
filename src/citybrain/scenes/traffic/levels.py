"""The index arithmetic, pure and small so that tests can check it against hand-computed cases.

- Space-mean speed of a segment in a window: total distance / total time of the traversals
  (the harmonic mean of traversal speeds), never the mean of point speeds.
- Segment delay index (Amap 拥堵延时指数): actual travel time / free-flow travel time
  = v_ff / v for one segment; at least 1 and at most 40 (Didi TrafficIndex clips the same way).
- Area index (Didi TrafficIndex ``computeLinkSetTTI``): sum(w L / v) / sum(w L / v_ff), with w the
  segment's flow weight; the area's space-mean speed is sum(w L) / sum(w L / v).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

LEVELS = ("smooth", "slow", "congested", "severe")
NO_DATA = "no_data"
LEVEL_NAMES: dict[str, dict[str, str]] = {
    "smooth": {"zh-CN": "畅通", "en": "smooth"},
    "slow": {"zh-CN": "缓行", "en": "slow"},
    "congested": {"zh-CN": "拥堵", "en": "congested"},
    "severe": {"zh-CN": "严重拥堵", "en": "severe"},
    NO_DATA: {"zh-CN": "无数据", "en": "no data"},
}
LEVEL_RANK: dict[str, int] = {NO_DATA: -1, "smooth": 0, "slow": 1, "congested": 2, "severe": 3}
MAX_INDEX = 40.0


def space_mean_speed_kmh(distance_m: float, time_s: float) -> float:
    """Total distance over total time, km/h."""
    if time_s <= 0:
        raise ValueError("space-mean speed needs a positive total time")
    return distance_m / time_s * 3.6


def segment_index(speed_kmh: float, freeflow_kmh: float) -> float:
    """Actual / free-flow travel time on one segment (same length, so v_ff / v), in [1, 40]."""
    if speed_kmh <= 0:
        return MAX_INDEX
    return min(MAX_INDEX, max(1.0, freeflow_kmh / speed_kmh))


def area_index(rows: Iterable[tuple[float, float, float, float]]) -> tuple[float, float]:
    """(index, space-mean speed km/h) of segments given as (weight, length m, speed, free-flow speed).

    Travel time weighted by length x flow as Didi does; each segment's speed is first clipped to at
    most its free-flow speed so that a fast segment cannot hide a congested one (index >= 1 per link).
    """
    num = den = wl = t_actual = 0.0
    for w, length, v, vff in rows:
        if v <= 0 or vff <= 0 or w <= 0 or length <= 0:
            continue
        num += w * length / min(v, vff)
        den += w * length / vff
        wl += w * length
        t_actual += w * length / v
    if den <= 0:
        raise ValueError("area index needs at least one segment with positive weight, length and speeds")
    return min(MAX_INDEX, num / den), wl / t_actual


def level_from_index(index: float, bands: Sequence[float]) -> str:
    """bands = (slow from, congested from, severe from)."""
    if index >= bands[2]:
        return "severe"
    if index >= bands[1]:
        return "congested"
    if index >= bands[0]:
        return "slow"
    return "smooth"


def level_from_speed(speed_kmh: float, bands: Sequence[float]) -> str:
    """bands = (smooth above, slow above, congested above) in km/h; at or below the last: severe."""
    if speed_kmh > bands[0]:
        return "smooth"
    if speed_kmh > bands[1]:
        return "slow"
    if speed_kmh > bands[2]:
        return "congested"
    return "severe"


def percentile_from_histogram(hist: dict[int, int], pct: float, bin_kmh: float = 1.0) -> float:
    """The pct-th percentile of speeds binned by ``bin_kmh`` (bin b holds [b, b+1) x bin_kmh),
    interpolated inside the bin."""
    total = sum(hist.values())
    if total <= 0:
        raise ValueError("empty histogram")
    target = pct / 100.0 * total
    seen = 0.0
    for b in sorted(hist):
        n = hist[b]
        if seen + n >= target:
            frac = (target - seen) / n if n else 0.0
            return (b + frac) * bin_kmh
        seen += n
    return (max(hist) + 1) * bin_kmh

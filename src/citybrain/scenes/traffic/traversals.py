"""From a matched trace to whole-segment traversals with interpolated entry and exit times.

Each placed GPS point gets a position along the matched path (metres from the path's start).
A segment counts as traversed only when points lie on both sides of it (at or before its start,
at or after its end); its entry and exit times are interpolated linearly in position between the
bracketing points. A vehicle that waits before a segment enters it when it leaves the waiting spot
(the last point before the start), and leaves when it first reaches the end. Sparse points
(15-30 s apart) cross several short segments each; every one of them gets its share of the time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from citybrain.geo.matching import MatchResult

_AT_NODE_M = 1.0  # a point this close to a segment's start counts as at its start


@dataclass(frozen=True, slots=True)
class Crossing:
    edge_id: int
    entry_ms: int
    exit_ms: int
    length_m: float

    @property
    def travel_s(self) -> float:
        return (self.exit_ms - self.entry_ms) / 1000.0

    @property
    def speed_kmh(self) -> float:
        return self.length_m / self.travel_s * 3.6 if self.travel_s > 0 else float("inf")


def _positions(
    result: MatchResult, start: int, end: int, path: Sequence[int], cum: Sequence[float]
) -> tuple[list[float], list[int]]:
    """Position along ``path`` of each placed point in start..end (non-decreasing), and its index."""
    pos: list[float] = []
    idx: list[int] = []
    j = 0
    for i in range(start, end + 1):
        pm = result.points[i]
        if pm is None:
            continue
        k = j
        while k < len(path) and path[k] != pm.edge_id:
            k += 1
        if k == len(path):  # e.g. the first point sits on an edge the path starts after
            continue
        j = k
        p = cum[k] + min(pm.offset_m, cum[k + 1] - cum[k])
        pos.append(max(p, pos[-1]) if pos else p)  # backward GPS jitter is standing still
        idx.append(i)
    return pos, idx


def _time_at(target: float, pos: Sequence[float], t: Sequence[float]) -> tuple[float, float] | None:
    """(time, gap between the bracketing points) when the vehicle was at ``target`` metres."""
    k = bisect.bisect_left(pos, target) - 1  # last point strictly before target
    if k < 0:
        if pos and pos[0] - target <= _AT_NODE_M:
            return t[0], 0.0
        return None
    if k + 1 >= len(pos):
        return None
    p0, p1 = pos[k], pos[k + 1]
    t0, t1 = t[k], t[k + 1]
    return t0 + (target - p0) / (p1 - p0) * (t1 - t0), t1 - t0


def crossings(
    result: MatchResult,
    times_ms: Sequence[int],
    length_of: Callable[[int], float],
    *,
    confirm_points: int = 1,
    max_gap_ms: float = 120_000,
) -> list[Crossing]:
    """Every segment of the matched trace that the points fully bracket, in travel order.

    The last ``confirm_points`` placed points only confirm: a segment whose end is reached only by
    them is left for the next call, when the newest points' matches are more certain.
    """
    placed = [i for i, p in enumerate(result.points) if p is not None]
    if len(placed) < 2:
        return []
    confirmed_until = placed[-1 - confirm_points] if len(placed) > confirm_points else -1
    out: list[Crossing] = []
    for seg in result.segments:
        path = seg.edge_ids
        if not path:
            continue
        cum = [0.0]
        for eid in path:
            cum.append(cum[-1] + length_of(eid))
        pos, idx = _positions(result, seg.start, seg.end, path, cum)
        if len(pos) < 2:
            continue
        last = max((n for n, i in enumerate(idx) if i <= confirmed_until), default=-1)
        if last < 1:
            continue
        pos, t = pos[: last + 1], [float(times_ms[i]) for i in idx[: last + 1]]
        for j, eid in enumerate(path):
            if cum[j + 1] > pos[-1]:
                break
            entry = _time_at(cum[j], pos, t)
            leave = _time_at(cum[j + 1], pos, t)
            if entry is None or leave is None or max(entry[1], leave[1]) > max_gap_ms:
                continue
            out.append(Crossing(eid, round(entry[0]), round(leave[0]), cum[j + 1] - cum[j]))
    return out

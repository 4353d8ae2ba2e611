"""The shift calendar: which shift instance a moment belongs to, and how an interval splits at
shift boundaries and planned stops. Shift and stop times are local wall-clock times of the site
(``utc_offset_h``; China has no daylight saving time). A shift that ends before it starts runs past
midnight and belongs to the day it starts on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from citybrain.scenes.factory.plant import SiteSpec

DAY = 86_400_000
MIN = 60_000


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    shift: str | None  # shift instance "YYYY-MM-DD/<name>", None outside every shift
    shift_start: int  # epoch ms of the shift instance's start (0 outside shifts)
    planned: bool  # inside a planned stop


@dataclass(frozen=True)
class _Day:
    shifts: tuple[tuple[int, int, str, int], ...]  # (start, end, key, start) in epoch ms
    stops: tuple[tuple[int, int], ...]


DAYS_KEPT = 5_000  # computed days remembered per site (a site's edit replaces the site, and them)


def _minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def offset_ms(site: SiteSpec) -> int:
    return int(site.utc_offset_h * 3_600_000)


def local_date(site: SiteSpec, ts: int) -> str:
    return datetime.fromtimestamp((ts + offset_ms(site)) / 1000, UTC).strftime("%Y-%m-%d")


def day_start(site: SiteSpec, ts: int) -> int:
    """Epoch ms of the local midnight starting the day that contains ``ts``."""
    off = offset_ms(site)
    return (ts + off) // DAY * DAY - off


def _day(site: SiteSpec, line: str, d0: int) -> _Day:
    """Shift instances starting on, and planned stops of, the local day starting at ``d0``."""
    cache: dict[tuple[str, int], _Day] = site.__dict__.setdefault("days", {})  # held by the site spec
    hit = cache.get((line, d0))
    if hit is not None:
        return hit
    date = local_date(site, d0)
    shifts = []
    for s in site.shifts:
        a, b = _minutes(s.start) * MIN, _minutes(s.end) * MIN
        if b <= a:
            b += DAY
        shifts.append((d0 + a, d0 + b, f"{date}/{s.name}", d0 + a))
    stops = []
    for p in site.planned_stops:
        if p.lines and line not in p.lines:
            continue
        a, b = _minutes(p.start) * MIN, _minutes(p.end) * MIN
        if b <= a:
            b += DAY
        stops.append((d0 + a, d0 + b))
    day = _Day(tuple(shifts), tuple(stops))
    if len(cache) > DAYS_KEPT:
        cache.clear()
    cache[(line, d0)] = day
    return day


def _days(site: SiteSpec, line: str, t0: int, t1: int) -> list[_Day]:
    first = day_start(site, t0) - DAY  # yesterday's night shift may still run
    return [_day(site, line, d) for d in range(first, t1 + 1, DAY)]


def shift_at(site: SiteSpec, ts: int) -> tuple[str, int, int] | None:
    """(instance key, start, end) of the shift running at ``ts``, if any."""
    for day in _days(site, "", ts, ts):
        for a, b, key, start in day.shifts:
            if a <= ts < b:
                return key, start, b
    return None


def segments(site: SiteSpec, line: str, t0: int, t1: int) -> list[Segment]:
    """``[t0, t1)`` cut at every shift and planned-stop boundary, each piece classified."""
    if t1 <= t0:
        return []
    days = _days(site, line, t0, t1)
    cuts = {t0, t1}
    for day in days:
        for a, b, _, _ in day.shifts:
            cuts.update(x for x in (a, b) if t0 < x < t1)
        for a, b in day.stops:
            cuts.update(x for x in (a, b) if t0 < x < t1)
    edges = sorted(cuts)
    out: list[Segment] = []
    for a, b in itertools.pairwise(edges):
        shift: tuple[str, int] | None = None
        planned = False
        for day in days:
            for sa, sb, key, start in day.shifts:
                if sa <= a < sb:
                    shift = (key, start)
            planned = planned or any(pa <= a < pb for pa, pb in day.stops)
        out.append(Segment(a, b, shift[0] if shift else None, shift[1] if shift else 0, planned))
    return out


def planned_busy_ms(site: SiteSpec, line: str, shift_start: int, shift_end: int) -> int:
    """PBT of a whole shift instance from the calendar alone: its length minus planned stops."""
    return sum(s.end - s.start for s in segments(site, line, shift_start, shift_end) if not s.planned)

"""并单 suggestions: open cases of the same type and category, near the same place, opened within
a time window of a case, are probably the same problem reported twice. The dispatcher confirms
with the type's merge action; nothing is merged automatically."""

from __future__ import annotations

import math
from dataclasses import dataclass

from citybrain.core.cases.records import Case, CaseQuery
from citybrain.core.store.base import Store

RADIUS_M = 200.0  # "near the same place"
EARTH_M = 6_371_008.8  # mean radius
WINDOW_MS = 3 * 86_400_000  # opened within three days of each other


@dataclass(frozen=True)
class Duplicate:
    case: Case
    distance_m: float | None  # None: no coordinates, matched by the same unit grid


def suggest(
    store: Store, case: Case, radius_m: float = RADIUS_M, window_ms: int = WINDOW_MS
) -> list[Duplicate]:
    """Likely duplicates of ``case``, nearest first (none for a case without a category: it says
    too little to be the same problem as another)."""
    if not case.category:
        return []
    q = CaseQuery(type=case.type, category=case.category, open_only=True,
                  opened_since=case.opened_ts - window_ms, opened_until=case.opened_ts + window_ms + 1,
                  limit=2_000)  # fmt: skip
    out: list[Duplicate] = []
    for other in store.find_cases(q):
        if other.id == case.id:
            continue
        if case.lon is not None and case.lat is not None and other.lon is not None and other.lat is not None:
            d = distance_m(case.lon, case.lat, other.lon, other.lat)
            if d <= radius_m:
                out.append(Duplicate(other, d))
        elif case.area and other.area == case.area:
            out.append(Duplicate(other, None))
    return sorted(out, key=lambda d: (d.distance_m is None, d.distance_m or 0.0, d.case.opened_ts))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (the core does not import ``citybrain.geo``, which imports the core)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(min(1.0, a)))

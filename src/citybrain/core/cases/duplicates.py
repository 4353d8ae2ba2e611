"""并单 suggestions: open cases of the same type and category, near the same place, opened within
a time window of a case, are probably the same problem reported twice. The dispatcher confirms
with the type's merge action; nothing is merged automatically."""

from __future__ import annotations

from dataclasses import dataclass

from citybrain.core.cases.records import Case, CaseQuery
from citybrain.core.store.base import Store
from citybrain.geo.projection import haversine_m

RADIUS_M = 200.0  # "near the same place"
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
            d = float(haversine_m(case.lon, case.lat, other.lon, other.lat))
            if d <= radius_m:
                out.append(Duplicate(other, d))
        elif case.area and other.area == case.area:
            out.append(Duplicate(other, None))
    return sorted(out, key=lambda d: (d.distance_m is None, d.distance_m or 0.0, d.case.opened_ts))

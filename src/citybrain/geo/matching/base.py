"""The map-matching interface shared by every backend.

A trace is a sequence of ``(t, lon, lat)`` or ``(t, lon, lat, speed, heading)`` rows in WGS-84
(time in seconds, speed in m/s, heading in degrees; the optional columns may be NaN). A matcher
returns the travelled edge ids, where each point lies on the road, and where the match broke.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from citybrain.core.errors import ConfigError

__all__ = ["MatchResult", "MatchedSegment", "Matcher", "PointMatch", "as_trace"]


@dataclass(frozen=True, slots=True)
class PointMatch:
    """Where one GPS point was placed: on ``edge_id``, ``offset_m`` from its start."""

    edge_id: int
    offset_m: float
    distance_m: float  # GPS point to the road
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class MatchedSegment:
    """A continuous matched part of the trace: input points ``start..end`` (inclusive)."""

    start: int
    end: int
    edge_ids: list[int]


@dataclass(slots=True)
class MatchResult:
    """The outcome for one trace. ``points[i]`` is None where point i could not be placed."""

    points: list[PointMatch | None]
    segments: list[MatchedSegment] = field(default_factory=list)

    @property
    def edge_ids(self) -> list[int]:
        """All matched edges in travel order (segments concatenated)."""
        out: list[int] = []
        for s in self.segments:
            out.extend(s.edge_ids)
        return out

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """Breaks as (last point of one segment, first point of the next)."""
        return [(a.end, b.start) for a, b in zip(self.segments, self.segments[1:], strict=False)]

    @property
    def matched_share(self) -> float:
        return sum(p is not None for p in self.points) / len(self.points) if self.points else 0.0


@runtime_checkable
class Matcher(Protocol):
    """Anything that matches traces onto one road network."""

    name: str

    def match(self, trace: Sequence[Sequence[float]] | NDArray[np.float64]) -> MatchResult: ...


def as_trace(trace: Sequence[Sequence[float]] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Validate a trace and return it as an (n, 5) float array: t, lon, lat, speed, heading."""
    try:
        arr = np.asarray(trace, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trace is not a numeric table: {exc}") from None
    if arr.size == 0:
        return np.zeros((0, 5), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (3, 4, 5):
        raise ConfigError(f"trace must have rows (t, lon, lat[, speed, heading]); got shape {arr.shape}")
    if not np.all(np.isfinite(arr[:, :3])):
        bad = int(np.flatnonzero(~np.all(np.isfinite(arr[:, :3]), axis=1))[0])
        raise ConfigError(f"trace row {bad}: t, lon and lat must be finite")
    if np.any(np.abs(arr[:, 1]) > 180) or np.any(np.abs(arr[:, 2]) > 90):
        raise ConfigError("trace has lon/lat outside [-180, 180] x [-90, 90]")
    if arr.shape[1] < 5:
        arr = np.hstack([arr, np.full((len(arr), 5 - arr.shape[1]), np.nan)])
    return arr

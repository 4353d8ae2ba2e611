"""Adapter for ``fastmm`` (kodonnell's packaging of the C++ FMM of Yang & Gidofalvi, 2018).

FMM is the same Newson-Krumm style HMM, with an eagerly precomputed UBODT (all node pairs within
``delta`` metres). The adapter feeds it our network in the local metric projection, using internal
edge and node indices as fastmm ids, and translates its split results into a :class:`MatchResult`.
The UBODT is cached on disk by fastmm (keyed by a network hash) in ``cache_dir``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from citybrain.core.extras import require as require_extra
from citybrain.geo.matching.base import MatchedSegment, MatchResult, PointMatch, as_trace
from citybrain.geo.network import RoadNetwork

__all__ = ["FastMMConfig", "FastMMMatcher"]


@dataclass(frozen=True, slots=True)
class FastMMConfig:
    """fastmm parameters, in metres."""

    delta_m: float = 3000.0  # UBODT bound: longest route between consecutive points
    radius_m: float = 80.0
    max_candidates: int = 6
    gps_error_m: float = 20.0
    reverse_tolerance_m: float = 10.0
    cache_dir: str | None = None  # default: <tmp>/citybrain-ubodt


class FastMMMatcher:
    """Map matching through fastmm; same interface as :class:`~citybrain.geo.matching.HMMMatcher`."""

    name = "fastmm"

    def __init__(self, network: RoadNetwork, config: FastMMConfig | None = None) -> None:
        require_extra("fastmm", "the fastmm map matcher")
        import fastmm

        self._fm: Any = fastmm
        self.net = network
        self.cfg = config or FastMMConfig()
        fnet = fastmm.Network()
        coords = [[(float(a), float(b)) for a, b in shapely.get_coordinates(g)] for g in network.geoms_xy]
        for i, (s, d) in enumerate(zip(network.src.tolist(), network.dst.tolist(), strict=True)):
            fnet.add_edge(i, source=s, target=d, geom=coords[i])
        fnet.finalize()
        self._fnet = fnet
        cache = Path(self.cfg.cache_dir or Path(tempfile.gettempdir()) / "citybrain-ubodt")
        cache.mkdir(parents=True, exist_ok=True)
        self._mm = fastmm.FastMapMatch(
            fnet,
            fastmm.TransitionMode.SHORTEST,
            max_distance_between_candidates=self.cfg.delta_m,
            cache_dir=str(cache),
        )

    def match(self, trace: Sequence[Sequence[float]] | NDArray[np.float64]) -> MatchResult:
        arr = as_trace(trace)
        if len(arr) == 0:
            return MatchResult([], [])
        x, y = self.net.to_xy(arr[:, 1], arr[:, 2])
        return self.match_xy(x, y)

    def match_xy(
        self, x: NDArray[np.float64], y: NDArray[np.float64], t: NDArray[np.float64] | None = None
    ) -> MatchResult:
        fm, cfg, net = self._fm, self.cfg, self.net
        n = len(x)
        traj = fm.Trajectory.from_xy_tuples(list(zip(x.tolist(), y.tolist(), strict=True)))
        res = self._mm.match(
            traj,
            max_candidates=cfg.max_candidates,
            candidate_search_radius=cfg.radius_m,
            gps_error=cfg.gps_error_m,
            reverse_tolerance=cfg.reverse_tolerance_m,
        )
        points: list[PointMatch | None] = [None] * n
        segments: list[MatchedSegment] = []
        ids = net.edge_ids
        placed: list[tuple[int, int, float, float, float, float]] = []
        for sub in res.subtrajectories:
            if sub.error_code != fm.MatchErrorCode.SUCCESS or not sub.segments:
                continue
            path: list[int] = []
            for seg in sub.segments:
                edges = [int(e.edge_id) for e in seg.edges]
                for e in edges:
                    if not path or path[-1] != e:
                        path.append(e)
                if edges:
                    for cand, e in ((seg.p0, edges[0]), (seg.p1, edges[-1])):
                        placed.append(
                            (
                                int(cand.trajectory_index),
                                e,
                                float(cand.offset_from_start_of_edge),
                                float(cand.perpendicular_distance_to_matched_geometry),
                                float(cand.x),
                                float(cand.y),
                            )
                        )
            # same rule as our HMM: a trace starting at an edge's very end (or ending at an edge's
            # very start) has not travelled that edge
            segs = sub.segments
            if len(path) > 1 and segs[0].p0.offset_from_start_of_edge >= net.length[path[0]] - 1.0:
                path.pop(0)
            if len(path) > 1 and segs[-1].p1.offset_from_start_of_edge <= 1.0:
                path.pop()
            segments.append(
                MatchedSegment(int(sub.start_index), int(sub.end_index), [int(ids[e]) for e in path])
            )
        if placed:
            arr = np.array([(p[4], p[5]) for p in placed], dtype=np.float64)
            lon, lat = net.projection.to_lonlat(arr[:, 0], arr[:, 1])
            for k, (ti, e, off, dist, _, _) in enumerate(placed):
                if 0 <= ti < n:
                    points[ti] = PointMatch(int(ids[e]), off, dist, float(lon[k]), float(lat[k]))
        return MatchResult(points, segments)

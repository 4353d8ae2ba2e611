"""Turn decoded candidate choices into a :class:`MatchResult` (points, edge paths, segments)."""

from __future__ import annotations

import itertools

import numpy as np
import shapely
from numpy.typing import NDArray

from citybrain.geo.matching.base import MatchedSegment, MatchResult, PointMatch
from citybrain.geo.matching.model import HMMConfig
from citybrain.geo.network import Candidates, RoadNetwork

__all__ = ["assemble", "lonlat_of"]

_EPS = 1.0  # metres: a point this close to an edge's end is at the node, not on the edge


def lonlat_of(
    net: RoadNetwork, cand: Candidates, rows: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS-84 position of the chosen candidates (their projection onto the road)."""
    pts = shapely.line_interpolate_point(net.geoms_xy[cand.edge[rows]], cand.offset[rows])
    return net.projection.to_lonlat(shapely.get_x(pts), shapely.get_y(pts))


def assemble(
    net: RoadNetwork,
    cfg: HMMConfig,
    cand: Candidates,
    rows: NDArray[np.intp],
    pt: NDArray[np.intp],
    seg_of: NDArray[np.intp],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    lonlat: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> MatchResult:
    """``rows``: chosen candidate row per placed point, in order; ``pt``: their point indices
    into ``x``/``y``; ``seg_of``: chain number of each (non-decreasing)."""
    n = len(x)
    lon, lat = lonlat if lonlat is not None else lonlat_of(net, cand, rows)
    ids = net.edge_ids
    e_l = cand.edge[rows].tolist()
    o_l = cand.offset[rows].tolist()
    d_l = cand.distance[rows].tolist()
    pt_l = pt.tolist()
    points: list[PointMatch | None] = [None] * n
    lon_l, lat_l, id_l = lon.tolist(), lat.tolist(), ids[cand.edge[rows]].tolist()
    for j, i in enumerate(pt_l):
        points[i] = PointMatch(id_l[j], o_l[j], d_l[j], lon_l[j], lat_l[j])
    gc = np.hypot(np.diff(x[pt]), np.diff(y[pt]))
    lim_l = np.minimum(gc * cfg.route_factor + cfg.route_slack_m, cfg.max_route_m).tolist()
    dst, src, length = net.dst, net.src, net.length
    router = net.router
    segments: list[MatchedSegment] = []
    bounds = np.flatnonzero(np.r_[True, seg_of[1:] != seg_of[:-1], True]).tolist()
    for lo, hi in itertools.pairwise(bounds):
        path = [e_l[lo]]
        for j in range(lo + 1, hi):
            a, b = e_l[j - 1], e_l[j]
            if a == b and o_l[j] - o_l[j - 1] >= -cfg.reverse_tolerance_m:
                continue
            link = router.path_edges(int(dst[a]), int(src[b]), lim_l[j - 1])
            if link:
                path.extend(link)
            path.append(b)
        dedup = [path[0]]
        for e in path[1:]:
            if e != dedup[-1]:
                dedup.append(e)
        # A trace that starts exactly at an edge's end (or ends at an edge's start) has not
        # travelled that edge; drop it so the path begins/ends at the node.
        if len(dedup) > 1 and o_l[lo] >= length[dedup[0]] - _EPS:
            dedup.pop(0)
        if len(dedup) > 1 and o_l[hi - 1] <= _EPS and e_l[hi - 1] == dedup[-1]:
            dedup.pop()
        segments.append(MatchedSegment(pt_l[lo], pt_l[hi - 1], [int(ids[e]) for e in dedup]))
    return MatchResult(points, segments)

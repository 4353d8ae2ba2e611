"""The road network model: directed edges in WGS-84, indexed for candidate search and routing.

Every edge is one direction of travel. A two-way road is two edges with opposite geometry, so a
matcher never has to guess the direction. Geometry is kept in WGS-84 (what we store and show) and,
projected into a :class:`~citybrain.geo.projection.LocalProjection`, in metres (what we compute on).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import rustworkx as rx
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString

from citybrain.core.errors import ConfigError, NotFoundError
from citybrain.geo.projection import LocalProjection
from citybrain.geo.routing import BoundedRouter

__all__ = ["Candidates", "Edge", "RoadNetwork"]


@dataclass(frozen=True, slots=True)
class Edge:
    """One directed road segment. ``length_m < 0`` means "compute it from the geometry"."""

    id: int
    source: int
    target: int
    geometry: LineString
    length_m: float = -1.0
    road_class: str = ""
    oneway: bool = False
    name: str = ""
    speed_limit_kmh: float | None = None
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Candidates:
    """Candidate edges near each point, grouped by point (ascending) then by distance."""

    point: NDArray[np.intp]  # index of the query point
    edge: NDArray[np.intp]  # internal edge index
    distance: NDArray[np.float64]  # metres from the point to the edge
    offset: NDArray[np.float64]  # metres along the edge to the projection of the point

    def __len__(self) -> int:
        return len(self.point)


class RoadNetwork:
    """Directed road network with an STRtree (metres) and a rustworkx graph.

    Internal edge indices (0..n-1, in input order) are used by the matchers; public ids are
    ``Edge.id``. ``index_of`` and ``edge_ids`` translate between them.
    """

    def __init__(
        self,
        edges: Iterable[Edge],
        *,
        projection: LocalProjection | None = None,
        name: str = "",
    ) -> None:
        raw = list(edges)
        if not raw:
            raise ConfigError(f"road network {name or '<unnamed>'}: no edges")
        self.name = name
        seen: dict[int, int] = {}
        for i, e in enumerate(raw):
            if e.id in seen:
                raise ConfigError(
                    f"road network {name}: duplicate edge id {e.id} (edges {seen[e.id]} and {i})"
                )
            if e.geometry.is_empty or len(e.geometry.coords) < 2:
                raise ConfigError(f"road network {name}: edge {e.id} has fewer than 2 coordinates")
            seen[e.id] = i
        geoms = np.array([e.geometry for e in raw], dtype=object)
        if projection is None:
            coords = shapely.get_coordinates(geoms)
            projection = LocalProjection.around(coords[:, 0], coords[:, 1])
        self.projection = projection
        proj = projection

        def _to_xy(c: NDArray[np.float64]) -> NDArray[np.float64]:
            x, y = proj.to_xy(c[:, 0], c[:, 1])
            return np.column_stack([x, y])

        self.geoms_xy: NDArray[np.object_] = shapely.transform(geoms, _to_xy)
        lengths = shapely.length(self.geoms_xy)
        self._edges: list[Edge] = [
            e if e.length_m >= 0 else replace(e, length_m=float(lengths[i])) for i, e in enumerate(raw)
        ]
        self._index: dict[int, int] = seen
        self.edge_ids: NDArray[np.int64] = np.array([e.id for e in raw], dtype=np.int64)
        # Routing uses the geometric length so the HMM compares like with like.
        self.length: NDArray[np.float64] = np.asarray(lengths, dtype=np.float64)
        node_ids = sorted({e.source for e in raw} | {e.target for e in raw})
        self.node_ids: NDArray[np.int64] = np.array(node_ids, dtype=np.int64)
        self._node_index: dict[int, int] = {n: i for i, n in enumerate(node_ids)}
        self.src: NDArray[np.intp] = np.array([self._node_index[e.source] for e in raw], dtype=np.intp)
        self.dst: NDArray[np.intp] = np.array([self._node_index[e.target] for e in raw], dtype=np.intp)
        self.tree = shapely.STRtree(self.geoms_xy)
        self._build_segments()
        self.graph: rx.PyDiGraph[int, int] = rx.PyDiGraph(multigraph=True)
        self.graph.add_nodes_from(node_ids)
        self.graph.add_edges_from(
            [(int(s), int(d), i) for i, (s, d) in enumerate(zip(self.src, self.dst, strict=True))]
        )
        self._pair_best: dict[tuple[int, int], int] | None = None
        self.router = BoundedRouter(self.src, self.dst, self.length, len(node_ids))

    # ---- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._edges)

    def __iter__(self) -> Iterator[Edge]:
        return iter(self._edges)

    @property
    def edges(self) -> Sequence[Edge]:
        return self._edges

    @property
    def node_count(self) -> int:
        return len(self.node_ids)

    def index_of(self, edge_id: int) -> int:
        try:
            return self._index[edge_id]
        except KeyError:
            raise NotFoundError(f"edge {edge_id} not in road network {self.name}") from None

    def edge(self, edge_id: int) -> Edge:
        return self._edges[self.index_of(edge_id)]

    def node_index(self, node_id: int) -> int:
        try:
            return self._node_index[node_id]
        except KeyError:
            raise NotFoundError(f"node {node_id} not in road network {self.name}") from None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat)."""
        c = shapely.get_coordinates(np.array([e.geometry for e in self._edges], dtype=object))
        return (float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max()))

    # ---- spatial ------------------------------------------------------------------------------
    def to_xy(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return self.projection.to_xy(lon, lat)

    def _build_segments(self) -> None:
        """Straight pieces of all edges, with an STRtree over them, for numpy candidate search."""
        coords, owner = shapely.get_coordinates(self.geoms_xy, return_index=True)
        same = owner[1:] == owner[:-1]
        x0, y0 = coords[:-1][same, 0], coords[:-1][same, 1]
        x1, y1 = coords[1:][same, 0], coords[1:][same, 1]
        edge = owner[:-1][same]
        seglen = np.hypot(x1 - x0, y1 - y0)
        # offset of each piece's start along its edge
        cum = np.cumsum(seglen)
        first = np.flatnonzero(np.r_[True, edge[1:] != edge[:-1]])
        base = np.repeat(cum[first] - seglen[first], np.diff(np.r_[first, len(edge)]))
        self._multi_piece = bool(len(edge) > len(first))
        self._seg = (
            x0,
            y0,
            x1 - x0,
            y1 - y0,
            np.maximum(seglen**2, 1e-12),
            edge,
            cum - seglen - base,
            seglen,
        )
        self._seg_tree = shapely.STRtree(
            shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1))
        )

    def candidates(
        self, x: NDArray[np.float64], y: NDArray[np.float64], radius_m: float, k: int
    ) -> Candidates:
        """Up to ``k`` nearest edges within ``radius_m`` of each point (points in local metres).

        Search is over the edges' straight pieces: an STRtree box query, then point-to-segment
        distance and projection in numpy; per (point, edge) the closest piece counts.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        boxes = shapely.box(x - radius_m, y - radius_m, x + radius_m, y + radius_m)
        pi, si = self._seg_tree.query(boxes)
        x0, y0, dx, dy, l2, edge, off0, seglen = self._seg
        px, py = x[pi] - x0[si], y[pi] - y0[si]
        t = np.clip((px * dx[si] + py * dy[si]) / l2[si], 0.0, 1.0)
        d = np.round(np.hypot(px - t * dx[si], py - t * dy[si]), 3)  # mm: exact ties at nodes
        keep = d <= radius_m
        pi, si, d, t = pi[keep], si[keep], d[keep], t[keep]
        ei = edge[si]
        if self._multi_piece:  # closest piece per (point, edge)
            o = np.lexsort((d, ei, pi))
            po, eo = pi[o], ei[o]
            sel = o[np.r_[True, (po[1:] != po[:-1]) | (eo[1:] != eo[:-1])]] if len(o) else o
            pi, si, d, t, ei = pi[sel], si[sel], d[sel], t[sel], ei[sel]
        # then the k closest edges per point (ties by edge index, so results are reproducible)
        o = np.lexsort((ei, d, pi))
        po = pi[o]
        grp = np.flatnonzero(np.r_[True, po[1:] != po[:-1]]) if len(o) else np.zeros(0, np.intp)
        rank = np.arange(len(o)) - np.repeat(grp, np.diff(np.r_[grp, len(o)]))
        o = o[rank < k]
        pi, si, d, t, ei = pi[o], si[o], d[o], t[o], ei[o]
        off = np.minimum(off0[si] + t * seglen[si], self.length[ei])
        return Candidates(pi.astype(np.intp), ei.astype(np.intp), d, off)

    def point_on_edge(self, edge_index: int, offset_m: float) -> tuple[float, float]:
        """WGS-84 (lon, lat) of the point ``offset_m`` metres along an edge."""
        p = shapely.line_interpolate_point(self.geoms_xy[edge_index], offset_m)
        lo, la = self.projection.to_lonlat(np.array([shapely.get_x(p)]), np.array([shapely.get_y(p)]))
        return float(lo[0]), float(la[0])

    # ---- routing ------------------------------------------------------------------------------
    def shortest_path(self, source_node: int, target_node: int) -> tuple[float, list[int]]:
        """Length (m) and edge ids of the shortest path between two node ids (unbounded search)."""
        s, t = self.node_index(source_node), self.node_index(target_node)
        if s == t:
            return 0.0, []
        length = self.length
        paths = rx.digraph_dijkstra_shortest_paths(
            self.graph, s, target=t, weight_fn=lambda e: float(length[e])
        )
        if t not in paths:
            return math.inf, []
        nodes = list(paths[t])
        best = self._best_pair_edges()
        out: list[int] = []
        total = 0.0
        for a, b in itertools.pairwise(nodes):
            ei = best[(a, b)]
            total += float(length[ei])
            out.append(int(self.edge_ids[ei]))
        return total, out

    def _best_pair_edges(self) -> dict[tuple[int, int], int]:
        """(from node index, to node index) -> shortest edge index between them (parallel edges)."""
        if self._pair_best is None:
            best: dict[tuple[int, int], int] = {}
            for i, (s, d) in enumerate(zip(self.src.tolist(), self.dst.tolist(), strict=True)):
                j = best.get((s, d))
                if j is None or self.length[i] < self.length[j]:
                    best[(s, d)] = i
            self._pair_best = best
        return self._pair_best

    # ---- export -------------------------------------------------------------------------------
    def to_geojson(self, precision: int = 6) -> dict[str, Any]:
        """A GeoJSON FeatureCollection; properties follow the GeoJSON importer's field names."""
        feats: list[dict[str, Any]] = []
        for e in self._edges:
            coords = [[round(x, precision), round(y, precision)] for x, y, *_ in e.geometry.coords]
            props: dict[str, Any] = {
                "id": e.id,
                "source": e.source,
                "target": e.target,
                "length_m": round(e.length_m, 2),
                "road_class": e.road_class,
                "oneway": e.oneway,
                "name": e.name,
                "speed_limit_kmh": e.speed_limit_kmh,
            }
            if e.ref:
                props["ref"] = e.ref
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": coords},
                    "properties": props,
                }
            )
        return {"type": "FeatureCollection", "citybrain:directed": True, "features": feats}

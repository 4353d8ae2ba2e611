"""Map matching: a synthetic grid with a known route, breaks, fastmm parity and one real Beijing trace."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import LineString

from citybrain.core.errors import ConfigError
from citybrain.geo.matching import HMMConfig, HMMMatcher, Matcher
from citybrain.geo.matching.fastmm_backend import FastMMConfig, FastMMMatcher
from citybrain.geo.network import Edge, RoadNetwork
from citybrain.geo.projection import LocalProjection

LON0, LAT0 = 116.40, 39.90
PROJ = LocalProjection(LON0, LAT0)
STEP = 200.0  # metres between grid nodes
N = 5


def _node(i: int, j: int) -> int:
    return i * N + j


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lo, la = PROJ.to_lonlat(np.array([x]), np.array([y]))
    return float(lo[0]), float(la[0])


def grid() -> RoadNetwork:
    """N x N two-way grid; edge id = 1000 * from + to."""
    edges = []
    for i in range(N):
        for j in range(N):
            for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                a, b = i + di, j + dj
                if 0 <= a < N and 0 <= b < N:
                    u, v = _node(i, j), _node(a, b)
                    geom = LineString([_lonlat(j * STEP, i * STEP), _lonlat(b * STEP, a * STEP)])
                    edges.append(Edge(1000 * u + v, u, v, geom, name=f"{u}-{v}"))
    return RoadNetwork(edges, projection=PROJ, name="grid")


NET = grid()
# an L-shaped route: east along row 0 from (0,0) to (0,3), then north up column 3 to (3,3)
ROUTE_NODES = [_node(0, 0), _node(0, 1), _node(0, 2), _node(0, 3), _node(1, 3), _node(2, 3), _node(3, 3)]
ROUTE = [1000 * u + v for u, v in itertools.pairwise(ROUTE_NODES)]


def _trace(noise: float, spacing: float = 40.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = []
    for u, v in itertools.pairwise(ROUTE_NODES):
        (i0, j0), (i1, j1) = divmod(u, N), divmod(v, N)
        for f in np.arange(0.1, 1.0, spacing / STEP):
            pts.append(((j0 + f * (j1 - j0)) * STEP, (i0 + f * (i1 - i0)) * STEP))
    xy = np.array(pts) + rng.normal(0, noise, (len(pts), 2))
    lon, lat = PROJ.to_lonlat(xy[:, 0], xy[:, 1])
    t = np.arange(len(pts)) * 5.0
    return np.column_stack([t, lon, lat])


def test_network_basics() -> None:
    assert len(NET) == 2 * 2 * N * (N - 1)
    assert NET.edge(ROUTE[0]).length_m == pytest.approx(STEP, rel=1e-3)
    length, path = NET.shortest_path(_node(0, 0), _node(3, 3))
    assert length == pytest.approx(6 * STEP, rel=1e-3) and len(path) == 6
    gj = NET.to_geojson()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(NET)


@pytest.mark.parametrize("noise", [0.0, 8.0])
def test_hmm_recovers_known_route(noise: float) -> None:
    res = HMMMatcher(NET).match(_trace(noise))
    assert res.edge_ids == ROUTE
    assert res.gaps == [] and res.matched_share == 1.0
    first = res.points[0]
    assert first is not None and first.edge_id == ROUTE[0]
    assert first.offset_m == pytest.approx(20.0, abs=3 * noise + 1)


def test_hmm_sparse_points_route_between() -> None:
    tr = _trace(3.0)[::8]  # ~320 m apart: paths between fixes come from the router
    res = HMMMatcher(NET).match(tr)
    assert set(ROUTE[1:-1]) <= set(res.edge_ids)


def test_hmm_outlier_is_skipped_and_far_jump_breaks() -> None:
    tr = _trace(2.0)
    out = tr.copy()
    out[10, 1:] = _lonlat(-2000, -2000)  # nowhere near a road: no candidates
    res = HMMMatcher(NET).match(out)
    assert res.points[10] is None and res.edge_ids == ROUTE
    # teleport: the second half shifted onto a disconnected copy is impossible -> a break
    far = np.vstack([tr[:12], tr[12:] + np.array([0.0, 0.5, 0.0])])
    far_net_edges = [*NET.edges]
    for e in NET.edges:
        g = LineString([(x + 0.5, y) for x, y in e.geometry.coords])
        far_net_edges.append(Edge(e.id + 10**6, e.source + 100, e.target + 100, g))
    two = RoadNetwork(far_net_edges, name="two grids")
    res2 = HMMMatcher(two).match(far)
    assert len(res2.segments) == 2 and res2.gaps == [(11, 12)]


def test_matcher_protocol_and_bad_trace() -> None:
    m = HMMMatcher(NET, HMMConfig(radius_m=50))
    assert isinstance(m, Matcher)
    assert m.match([]).edge_ids == []
    with pytest.raises(ConfigError):
        m.match([[0.0, 500.0, 20.0]])
    with pytest.raises(ConfigError):
        m.match([[0.0, 1.0]])


def test_fastmm_adapter_agrees(tmp_path: Path) -> None:
    fm = FastMMMatcher(NET, FastMMConfig(cache_dir=str(tmp_path)))
    res = fm.match(_trace(5.0))
    assert res.edge_ids == ROUTE
    placed = [p for p in res.points if p is not None]
    assert len(placed) >= len(res.points) - 2


BEIJING = Path(__file__).resolve().parents[3] / "shared/data/beijing-sparsetaxi-mm-groundtruth"


@pytest.mark.skipif(not (BEIJING / "map/vertexMap.txt").exists(), reason="shared Beijing data not present")
def test_real_beijing_trajectory() -> None:
    from citybrain.geo.beijing import read_beijing_map, read_beijing_paths, read_beijing_trajectories

    net = read_beijing_map(BEIJING / "map")
    trajs = read_beijing_trajectories(BEIJING / "manual_matched/beijing_set60.coor.txt")
    gt_nodes = read_beijing_paths(BEIJING / "manual_matched/beijing_set60.txt")
    pair = {
        (int(s), int(d)): int(net.edge_ids[i]) for i, (s, d) in enumerate(zip(net.src, net.dst, strict=True))
    }
    # trajectory 2 (64 points) <-> ground-truth line 2 (checked by geometry in the accuracy bench)
    truth = {pair[(a, b)] for a, b in zip(gt_nodes[1], gt_nodes[1][1:], strict=False)}
    res = HMMMatcher(net).match(trajs[1].as_trace())
    got = set(res.edge_ids)
    assert len(got & truth) / len(truth) >= 0.95
    assert len(got & truth) / len(got) >= 0.95


def test_match_many_equals_match() -> None:
    m = HMMMatcher(NET)
    bad = _trace(2.0, seed=3)
    bad[7, 1:] = _lonlat(-2000, -2000)  # forces the serial fallback for this trace
    traces = [_trace(5.0, seed=s) for s in range(4)] + [bad, _trace(3.0)[::8], _trace(0.0)[:1]]
    traces.append(np.zeros((0, 3)))
    one = [m.match(t) for t in traces]
    many = m.match_many(traces)
    assert [r.edge_ids for r in many] == [r.edge_ids for r in one]
    assert [r.points for r in many] == [r.points for r in one]
    assert [r.segments for r in many] == [r.segments for r in one]
    assert many[4].points[7] is None and many[-1].points == []

"""Map-matching throughput on one core: our HMM, our fastmm adapter and leuvenmapmatching.

Usage:
    python bench/mapmatch_speed.py [DATASET_DIR] [--leuven-seconds 30]

Traces: every trajectory of the SparseTaxi Beijing sets set60, set120, set300 (manual_matched,
2,899 points, ~50-250 m apart) on the full Beijing map (70,310 directed edges). All matchers get
the same traces. Printed, no assertions:
- hmm match (cold): first pass, one call per trace, bounded-Dijkstra cache empty;
- hmm match (warm): the same later (cache filled), best of 3;
- hmm match_many: all traces in one call (vectorised across traces, same results), best of 5;
- fastmm: UBODT build (cached on disk afterwards) then best of 3 passes;
- leuven: DistanceMatcher on a map cropped to each trace's bounding box + 1 km (leuven's in-memory
  map scans all nodes without the optional rtree package), time-boxed; map building is not timed.
Run with one thread: OMP_NUM_THREADS=1 (fastmm uses OpenMP only for the UBODT build).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from citybrain.geo.beijing import read_beijing_map, read_beijing_trajectories
from citybrain.geo.matching import HMMMatcher
from citybrain.geo.matching.fastmm_backend import FastMMConfig, FastMMMatcher
from citybrain.geo.network import RoadNetwork

SETS = ("beijing_set60", "beijing_set120", "beijing_set300")


def _best_of(fn: object, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def _leuven(net: RoadNetwork, traces: list[np.ndarray], budget_s: float) -> tuple[int, float]:
    import logging

    from leuvenmapmatching.map.inmem import InMemMap
    from leuvenmapmatching.matcher.distance import DistanceMatcher

    logging.getLogger("be.kuleuven.cs.dtai.mapmatching").setLevel(logging.ERROR)
    nx = np.zeros(net.node_count)
    ny = np.zeros(net.node_count)
    starts = np.array([g.coords[0] for g in net.geoms_xy])
    nx[net.src], ny[net.src] = starts[:, 0], starts[:, 1]
    done_pts, spent = 0, 0.0
    for tr in traces:
        x, y = net.to_xy(tr[:, 1], tr[:, 2])
        x0, x1, y0, y1 = x.min() - 1000, x.max() + 1000, y.min() - 1000, y.max() + 1000
        inside = (nx >= x0) & (nx <= x1) & (ny >= y0) & (ny <= y1)
        m = InMemMap("crop", use_latlon=False, use_rtree=False, index_edges=True)
        for i in np.flatnonzero(inside).tolist():
            m.add_node(i, (ny[i], nx[i]))
        for s, d in zip(net.src.tolist(), net.dst.tolist(), strict=True):
            if inside[s] and inside[d]:
                m.add_edge(s, d)
        matcher = DistanceMatcher(
            m,
            max_dist=80,
            obs_noise=20,
            obs_noise_ne=40,
            dist_noise=60,
            max_lattice_width=6,
            non_emitting_states=True,
            only_edges=True,
        )
        t0 = time.perf_counter()
        matcher.match(list(zip(y.tolist(), x.tolist(), strict=True)))
        spent += time.perf_counter() - t0
        done_pts += len(tr)
        if spent > budget_s:
            break
    return done_pts, spent


def main() -> int:
    ap = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[2] / "shared/data/beijing-sparsetaxi-mm-groundtruth"
    ap.add_argument("dataset", nargs="?", default=str(default))
    ap.add_argument("--leuven-seconds", type=float, default=30.0)
    args = ap.parse_args()
    d = Path(args.dataset)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    net = read_beijing_map(d / "map")
    print(f"Beijing map: {len(net)} edges, loaded in {time.perf_counter() - t0:.1f} s")
    traces = [
        t.as_trace() for s in SETS for t in read_beijing_trajectories(d / "manual_matched" / f"{s}.coor.txt")
    ]
    n = sum(len(t) for t in traces)
    print(f"traces: {len(traces)} trajectories, {n} points")
    rows: list[tuple[str, int, float, str]] = []

    hmm = HMMMatcher(net)
    t0 = time.perf_counter()
    for tr in traces:
        hmm.match(tr)
    cold = time.perf_counter() - t0
    rows.append(("hmm match (cold)", n, cold, f"{net.router.searches} bounded searches"))
    net.router.compact()
    warm = _best_of(lambda: [hmm.match(tr) for tr in traces], 3)
    rows.append(("hmm match (warm)", n, warm, "one trace per call, best of 3"))
    batch = _best_of(lambda: hmm.match_many(traces), 5)
    rows.append(("hmm match_many", n, batch, "all traces in one call, best of 5"))

    t0 = time.perf_counter()
    fm = FastMMMatcher(net, FastMMConfig(delta_m=3000.0))
    build = time.perf_counter() - t0
    fmt = _best_of(lambda: [fm.match(tr) for tr in traces], 3)
    rows.append(("fastmm", n, fmt, f"best of 3; UBODT load/build {build:.1f} s"))

    pts, spent = _leuven(net, traces, args.leuven_seconds)
    rows.append(("leuvenmapmatching", pts, spent, f"{pts} of {n} points in the time box"))

    print(f"{'matcher':<20}{'points':>8}{'seconds':>9}{'points/s':>11}  note")
    for name, p, s, note in rows:
        print(f"{name:<20}{p:>8}{s:>9.3f}{p / s:>11.0f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

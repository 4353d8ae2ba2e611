"""Map-matching accuracy on the SparseTaxi Beijing hand-matched ground truth.

Usage:
    python bench/mapmatch_accuracy.py \
        ../shared/data/beijing-sparsetaxi-mm-groundtruth/manual_matched/beijing_set60 [more set prefixes]

For each set prefix it reads ``<set>.coor.txt`` (trajectories) and ``<set>.txt`` (ground truth), and
the map from ``<dataset>/map``. Printed per matcher: recall = share of ground-truth edges recovered,
precision = share of matched edges that are in the ground truth (directed edges, pooled over the
set).

Ground truth quirks, found by checking the files (see data SOURCE.md):
- lines are NODE paths (consecutive ids are joined by an edge), not edge ids; they are converted to
  edge ids (row numbers of adjacentList.txt) pair by pair;
- the line order does not always follow the trajectory order (some upstream trajectories are
  missing), so each trajectory is paired with the ground-truth line whose path lies closest to its
  points (mean distance, must be < 50 m);
- a set whose lines are neither node paths nor connected edge paths on this map is reported as
  unusable instead of scored (in this snapshot: set120 and set300 — only ~2-4 % of consecutive ids
  connect under either reading, so their ids refer to some other version of the map);
- where ``sparse_trajectories/heavyTraj_<set>.coor.txt`` exists, the same trips as raw sparse taxi
  GPS (real timestamps, ~60 s apart) are scored against the same ground truth as well.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
import shapely

from citybrain.geo.beijing import read_beijing_map, read_beijing_paths, read_beijing_trajectories
from citybrain.geo.matching import HMMMatcher, Matcher
from citybrain.geo.matching.fastmm_backend import FastMMMatcher
from citybrain.geo.network import RoadNetwork


def gt_to_edges(net: RoadNetwork, lines: list[list[int]]) -> tuple[str, list[list[int]]]:
    """Interpret ground-truth lines as node paths or edge paths; return (kind, edge-id lists)."""
    pair = {
        (int(s), int(d)): i for i, (s, d) in reversed(list(enumerate(zip(net.src, net.dst, strict=True))))
    }
    node_ok = node_all = edge_ok = 0
    ne = len(net)
    for g in lines:
        for a, b in itertools.pairwise(g):
            node_all += 1
            node_ok += (a, b) in pair
            edge_ok += 0 <= a < ne and 0 <= b < ne and int(net.dst[a]) == int(net.src[b])
    if node_all and node_ok / node_all >= 0.9:
        return "node-path", [
            [int(net.edge_ids[pair[(a, b)]]) for a, b in itertools.pairwise(g) if (a, b) in pair]
            for g in lines
        ]
    if node_all and edge_ok / node_all >= 0.9:
        return "edge-path", [list(g) for g in lines]
    return f"unusable ({node_ok}/{node_all} node pairs, {edge_ok}/{node_all} edge pairs connect)", []


def pair_lines(net: RoadNetwork, traces: list[np.ndarray], gt: list[list[int]]) -> list[int | None]:
    """Index of the ground-truth line closest to each trace (None if none within 50 m on average)."""
    lines = [shapely.multilinestrings([net.geoms_xy[net.index_of(e)] for e in g]) if g else None for g in gt]
    out: list[int | None] = []
    for tr in traces:
        x, y = net.to_xy(tr[:, 1], tr[:, 2])
        pts = shapely.points(x, y)
        best, best_d = None, 50.0
        for j, ln in enumerate(lines):
            if ln is None:
                continue
            d = float(np.mean(shapely.distance(pts, ln)))
            if d < best_d:
                best, best_d = j, d
        out.append(best)
    return out


def main(argv: list[str]) -> int:
    prefixes = argv or [
        str(
            Path(__file__).resolve().parents[2]
            / "shared/data/beijing-sparsetaxi-mm-groundtruth/manual_matched"
            / s
        )
        for s in ("beijing_set60", "beijing_set120", "beijing_set300")
    ]
    map_dir = Path(prefixes[0]).resolve().parent.parent / "map"
    t0 = time.perf_counter()
    net = read_beijing_map(map_dir)
    print(
        f"network {map_dir}: {len(net)} edges, {net.node_count} nodes, "
        f"loaded in {time.perf_counter() - t0:.1f} s"
    )
    matchers: list[Matcher] = [HMMMatcher(net), FastMMMatcher(net)]
    print("(pts/s here includes first-use route searches / is one small set: see mapmatch_speed.py)")
    print(f"{'set':<22}{'matcher':<9}{'trajs':>6}{'points':>8}{'recall':>9}{'precision':>11}{'pts/s':>9}")
    for prefix in prefixes:
        p = Path(prefix)
        trajs = read_beijing_trajectories(p.with_name(p.name + ".coor.txt"))
        kind, gt = gt_to_edges(net, read_beijing_paths(p.with_name(p.name + ".txt")))
        if not gt:
            print(f"{p.name:<22}ground truth {kind}: not scored")
            continue
        inputs = [(p.name, [t.as_trace() for t in trajs])]
        # the same trips as raw sparse taxi GPS (real timestamps, ~60 s apart), if present
        raw = p.parent.parent / "sparse_trajectories" / f"heavyTraj_{p.name.split('_', 1)[-1]}.coor.txt"
        if raw.exists():
            inputs.append((p.name + " raw-GPS", [t.as_trace() for t in read_beijing_trajectories(raw)]))
        for label, traces in inputs:
            pairing = pair_lines(net, traces, gt)
            used = [(tr, gt[j]) for tr, j in zip(traces, pairing, strict=True) if j is not None]
            npts = sum(len(tr) for tr, _ in used)
            for m in matchers:
                tp = n_gt = n_m = 0
                t1 = time.perf_counter()
                results = [m.match(tr) for tr, _ in used]
                dt = time.perf_counter() - t1
                for res, g in zip(results, (g for _, g in used), strict=True):
                    gs, ms = set(g), set(res.edge_ids)
                    tp += len(gs & ms)
                    n_gt += len(gs)
                    n_m += len(ms)
                rec, prec = tp / max(n_gt, 1), tp / max(n_m, 1)
                print(
                    f"{label:<22}{m.name:<9}{len(used):>6}{npts:>8}{rec:>9.3f}{prec:>11.3f}{npts / dt:>9.0f}"
                )
            if len(used) < len(traces):
                print(f"{'':<22}({kind}; {len(traces) - len(used)} of {len(traces)} traces unpaired)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

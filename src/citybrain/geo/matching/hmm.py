"""HMM map matching after Newson & Krumm (2009), written for throughput.

Model: hidden states are candidate positions on edges near each GPS point.
- emission: Gaussian on the perpendicular distance, log p = -0.5 (d / sigma)^2;
- transition: exponential on |route distance - great-circle distance|, log p = -|dr - dg| / beta;
- decoding: Viterbi. Where no transition is possible (or a point has no candidate) the chain breaks
  and restarts at the next point, so one bad fix never loses the rest of the trace.

Speed: candidates for the whole trace come from one vectorised STRtree query; all transition
pairs of the trace are built as flat numpy arrays; node-to-node route lengths come from a cache of
bounded Dijkstra trees (:class:`~citybrain.geo.routing.BoundedRouter`); the Viterbi loop only
does a few numpy operations on k x k blocks per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from citybrain.geo.matching.assemble import assemble
from citybrain.geo.matching.base import MatchResult, as_trace
from citybrain.geo.matching.batch import match_many
from citybrain.geo.matching.model import HMMConfig
from citybrain.geo.matching.viterbi import decode, transitions
from citybrain.geo.network import RoadNetwork

__all__ = ["HMMConfig", "HMMMatcher"]

_NEG = -math.inf


class HMMMatcher:
    """Newson & Krumm HMM over a :class:`RoadNetwork`."""

    name = "hmm"

    def __init__(self, network: RoadNetwork, config: HMMConfig | None = None) -> None:
        self.net = network
        self.cfg = config or HMMConfig()

    def match(self, trace: Sequence[Sequence[float]] | NDArray[np.float64]) -> MatchResult:
        arr = as_trace(trace)
        if len(arr) == 0:
            return MatchResult([], [])
        x, y = self.net.to_xy(arr[:, 1], arr[:, 2])
        return self.match_xy(x, y, arr[:, 0])

    def match_many(
        self, traces: Sequence[Sequence[Sequence[float]] | NDArray[np.float64]]
    ) -> list[MatchResult]:
        """Match several traces; same results as :meth:`match` on each, much faster in bulk."""
        return match_many(self.net, self.cfg, traces)

    def match_xy(
        self, x: NDArray[np.float64], y: NDArray[np.float64], t: NDArray[np.float64] | None = None
    ) -> MatchResult:
        """Match points already in the network's local metric projection."""
        net, cfg = self.net, self.cfg
        n = len(x)
        cand = net.candidates(x, y, cfg.radius_m, cfg.max_candidates)
        counts = np.bincount(cand.point, minlength=n)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        kept = np.flatnonzero(counts > 0)
        if len(kept) == 0:
            return MatchResult([None] * n, [])
        emis = -0.5 * (cand.distance / cfg.sigma_m) ** 2
        p_idx, q_idx = kept[:-1], kept[1:]
        gc = np.hypot(x[q_idx] - x[p_idx], y[q_idx] - y[p_idx])
        limit = np.minimum(gc * cfg.route_factor + cfg.route_slack_m, cfg.max_route_m)
        if cfg.max_speed_mps is not None and t is not None:
            dt = t[q_idx] - t[p_idx]
            ok = np.isfinite(dt) & (dt > 0)
            limit = np.where(ok, np.minimum(limit, cfg.max_speed_mps * dt + 2 * cfg.radius_m), limit)
        k = cfg.max_candidates
        m = len(kept)
        pos = np.full(n, -1, dtype=np.intp)
        pos[kept] = np.arange(m)
        local = np.arange(len(cand)) - starts[cand.point]
        emis_pad = np.full((m, k), _NEG)
        emis_pad[pos[cand.point], local] = emis
        trans = transitions(net, cfg, cand, counts, starts, p_idx, q_idx, gc, limit)
        rows, placed, seg_of = decode(net, cfg, cand, counts, starts, kept, emis_pad, trans, x, y)
        return assemble(self.net, self.cfg, cand, rows, placed, seg_of, x, y)

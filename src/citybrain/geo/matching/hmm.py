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
from citybrain.geo.matching.viterbi import Layers, decode, transitions
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
        layers = Layers.of(self.net, self.cfg, x, y)
        kept = layers.kept
        if len(kept) == 0:
            return MatchResult([None] * len(x), [])
        p_idx, q_idx = kept[:-1], kept[1:]
        gc, limit = layers.limits(x, y, p_idx, q_idx, None if t is None else t[q_idx] - t[p_idx])
        trans = transitions(layers, p_idx, q_idx, gc, limit)
        rows, placed, seg_of = decode(layers, kept, layers.emissions(), trans, x, y)
        return assemble(self.net, self.cfg, layers.cand, rows, placed, seg_of, x, y)

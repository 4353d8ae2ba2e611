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
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from citybrain.geo.matching.assemble import assemble
from citybrain.geo.matching.base import MatchResult, as_trace
from citybrain.geo.network import Candidates, RoadNetwork

__all__ = ["HMMConfig", "HMMMatcher"]

_NEG = -math.inf


@dataclass(frozen=True, slots=True)
class HMMConfig:
    """Tuning knobs; distances in metres."""

    sigma_m: float = 20.0  # GPS noise (standard deviation of the emission Gaussian)
    beta_m: float = 60.0  # scale of the transition exponential
    radius_m: float = 80.0  # candidate search radius
    max_candidates: int = 6  # per point
    route_factor: float = 3.0  # a route longer than factor * straight line + slack is impossible
    route_slack_m: float = 400.0
    max_route_m: float = 15_000.0  # hard cap on one transition's route search
    reverse_tolerance_m: float = 10.0  # backward jitter on the same edge that counts as standing still
    max_speed_mps: float | None = None  # if set and timestamps increase, also bounds the route
    max_skip: int = 3  # points that may be dropped as outliers before the chain breaks


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
        from citybrain.geo.matching.batch import match_many

        return match_many(self, traces)

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
        trans = self._transitions(cand, counts, starts, p_idx, q_idx, gc, limit)
        rows, placed, seg_of = self._decode(cand, counts, starts, kept, emis_pad, trans, x, y)
        return assemble(self.net, self.cfg, cand, rows, placed, seg_of, x, y)

    def _decode(
        self,
        cand: Candidates,
        counts: NDArray[np.intp],
        starts: NDArray[np.intp],
        kept: NDArray[np.intp],
        emis_pad: NDArray[np.float64],
        trans: NDArray[np.float64],
        x: NDArray[np.float64],
        y: NDArray[np.float64],
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """Viterbi over k-padded layers; returns (candidate row, point index, chain) per placed point.

        ``kept``: points with candidates (indices into x/y); ``trans[j - 1]``: block kept[j-1] -> kept[j].
        A step with no possible transition first tries to skip up to ``max_skip`` following points
        (outliers); only then does the chain break and restart.
        """
        cfg = self.cfg
        m, k = len(kept), cfg.max_candidates
        seg_first: list[int] = [0]  # positions in `kept` where a chain (re)starts
        seg_last: list[int] = []  # best final candidate of each finished chain
        back: list[NDArray[np.intp] | None] = [None] * m  # back pointers into the previous live layer
        prev_of: list[int] = [-1] * m  # previous live position in `kept` (skips leave holes)
        live = [False] * m
        live[0] = True
        score = emis_pad[0]
        ar = np.arange(k)
        cur = 0  # position in `kept` of the live layer that `score` belongs to
        j = 1
        while j < m:
            lt = (
                trans[j - 1]
                if cur == j - 1
                else self._one_step(cand, counts, starts, kept[cur], kept[j], x, y)
            )
            tot = score[:, None] + lt
            bp = tot.argmax(axis=0)
            best = tot[bp, ar]
            if best.max() > _NEG:
                back[j], prev_of[j], live[j] = bp, cur, True
                score = best + emis_pad[j]
                cur = j
                j += 1
            elif j - cur <= cfg.max_skip and j + 1 < m:
                j += 1  # leave kept[j] unmatched and try the next point
            else:
                seg_last.append(int(np.argmax(score)))
                cur += 1  # restart at the first point after the chain's last live one
                seg_first.append(cur)
                score, live[cur] = emis_pad[cur], True
                j = cur + 1
            if j % 256 == 0:
                score = score - score.max()
        seg_last.append(int(np.argmax(score)))
        chosen = self._backtrack(back, prev_of, live, seg_first, seg_last)
        pos = np.flatnonzero(np.asarray(live, dtype=bool))
        seg_of = np.searchsorted(np.asarray(seg_first), pos, side="right") - 1
        return starts[kept[pos]] + chosen[pos], kept[pos], seg_of

    # ------------------------------------------------------------------------------------------
    def _transitions(
        self,
        cand: Candidates,
        counts: NDArray[np.intp],
        starts: NDArray[np.intp],
        p_idx: NDArray[np.intp],
        q_idx: NDArray[np.intp],
        gc: NDArray[np.float64],
        limit: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Log transition probabilities, (steps, k, k), -inf where impossible or padding."""
        net, cfg = self.net, self.cfg
        k = cfg.max_candidates
        out = np.full((len(p_idx), k, k), _NEG)
        ka, kb = counts[p_idx], counts[q_idx]
        npair = ka * kb
        total = int(npair.sum())
        if total == 0:
            return out
        pstart = np.concatenate(([0], np.cumsum(npair)[:-1]))
        step = np.repeat(np.arange(len(p_idx)), npair)
        local = np.arange(total) - pstart[step]
        kbs = kb[step]
        la, lb = local // kbs, local % kbs
        ia = starts[p_idx][step] + la
        ib = starts[q_idx][step] + lb
        ea, eb = cand.edge[ia], cand.edge[ib]
        oa, ob = cand.offset[ia], cand.offset[ib]
        lim = limit[step]
        rest = net.length[ea] - oa
        nd = net.router.distances(net.dst[ea], net.src[eb], lim - rest)
        route = rest + nd + ob
        fwd = ob - oa
        same = (ea == eb) & (fwd >= -cfg.reverse_tolerance_m)
        route = np.where(same, np.maximum(fwd, 0.0), route)
        logt = -np.abs(route - gc[step]) / cfg.beta_m
        logt[route > lim] = _NEG
        out[step, la, lb] = logt
        return out

    def _one_step(
        self,
        cand: Candidates,
        counts: NDArray[np.intp],
        starts: NDArray[np.intp],
        p: int,
        q: int,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Transition block between two non-consecutive points (after skipping outliers)."""
        cfg = self.cfg
        gc = np.array([math.hypot(x[q] - x[p], y[q] - y[p])])
        limit = np.minimum(gc * cfg.route_factor + cfg.route_slack_m, cfg.max_route_m)
        pi, qi = np.array([p]), np.array([q])
        block: NDArray[np.float64] = self._transitions(cand, counts, starts, pi, qi, gc, limit)[0]
        return block

    @staticmethod
    def _backtrack(
        back: list[NDArray[np.intp] | None],
        prev_of: list[int],
        live: list[bool],
        seg_first: list[int],
        seg_last: list[int],
    ) -> NDArray[np.intp]:
        """Chosen candidate (local index within its layer) for each live kept point; -1 elsewhere."""
        m = len(live)
        chosen = np.full(m, -1, dtype=np.intp)
        ends = [*seg_first[1:], m]
        for si in range(len(seg_first)):
            j = max(i for i in range(seg_first[si], ends[si]) if live[i])
            cur = seg_last[si]
            while True:
                chosen[j] = cur
                if j == seg_first[si]:
                    break
                bp = back[j]
                assert bp is not None
                cur = int(bp[cur])
                j = prev_of[j]
        return chosen

"""The HMM's two numeric steps, shared by :class:`~citybrain.geo.matching.hmm.HMMMatcher` and the
batch matcher: log transition probabilities between candidate layers, and the Viterbi decoder
that skips outliers and breaks chains where no transition is possible."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from citybrain.geo.matching.model import HMMConfig
from citybrain.geo.network import Candidates, RoadNetwork

__all__ = ["Layers", "decode", "transitions"]

_NEG = -math.inf


@dataclass(frozen=True)
class Layers:
    """The candidate layers of points (x, y in the network's projection): the candidates grouped
    by point (``counts``, ``starts`` into ``cand``) and the points that have any (``kept``)."""

    net: RoadNetwork
    cfg: HMMConfig
    cand: Candidates
    counts: NDArray[np.intp]
    starts: NDArray[np.intp]
    kept: NDArray[np.intp]

    @classmethod
    def of(cls, net: RoadNetwork, cfg: HMMConfig, x: NDArray[np.float64], y: NDArray[np.float64]) -> Layers:
        cand = net.candidates(x, y, cfg.radius_m, cfg.max_candidates)
        counts = np.bincount(cand.point, minlength=len(x))
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return cls(net, cfg, cand, counts, starts, np.flatnonzero(counts > 0))

    def emissions(self) -> NDArray[np.float64]:
        """Log emission probabilities per kept point, (kept, k), padded with -inf."""
        pos = np.full(len(self.counts), -1, dtype=np.intp)
        pos[self.kept] = np.arange(len(self.kept))
        local = np.arange(len(self.cand)) - self.starts[self.cand.point]
        out = np.full((len(self.kept), self.cfg.max_candidates), _NEG)
        out[pos[self.cand.point], local] = -0.5 * (self.cand.distance / self.cfg.sigma_m) ** 2
        return out

    def limits(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        p_idx: NDArray[np.intp],
        q_idx: NDArray[np.intp],
        dt: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Great-circle distance and longest plausible route of each step p -> q (``dt``: seconds
        between them, for the speed limit when one is configured)."""
        cfg = self.cfg
        gc = np.hypot(x[q_idx] - x[p_idx], y[q_idx] - y[p_idx])
        limit = np.minimum(gc * cfg.route_factor + cfg.route_slack_m, cfg.max_route_m)
        if cfg.max_speed_mps is not None and dt is not None:
            ok = np.isfinite(dt) & (dt > 0)
            limit = np.where(ok, np.minimum(limit, cfg.max_speed_mps * dt + 2 * cfg.radius_m), limit)
        return gc, limit


def decode(
    layers: Layers,
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
    cfg = layers.cfg
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
        lt = trans[j - 1] if cur == j - 1 else _one_step(layers, kept[cur], kept[j], x, y)
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
    chosen = _backtrack(back, prev_of, live, seg_first, seg_last)
    pos = np.flatnonzero(np.asarray(live, dtype=bool))
    seg_of = np.searchsorted(np.asarray(seg_first), pos, side="right") - 1
    return layers.starts[kept[pos]] + chosen[pos], kept[pos], seg_of


def transitions(
    layers: Layers,
    p_idx: NDArray[np.intp],
    q_idx: NDArray[np.intp],
    gc: NDArray[np.float64],
    limit: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Log transition probabilities, (steps, k, k), -inf where impossible or padding."""
    net, cfg, cand, counts, starts = layers.net, layers.cfg, layers.cand, layers.counts, layers.starts
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
    layers: Layers, p: int, q: int, x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Transition block between two non-consecutive points (after skipping outliers)."""
    pi, qi = np.array([p]), np.array([q])
    block: NDArray[np.float64] = transitions(layers, pi, qi, *layers.limits(x, y, pi, qi))[0]
    return block


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

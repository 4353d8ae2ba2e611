"""Match many traces at once: one candidate query, one transition table, a lockstep Viterbi.

Per-trace numpy calls dominate :meth:`HMMMatcher.match` on short traces. Here the candidate
search and the transition probabilities are computed for all traces together, and the Viterbi
recursion advances every trace one step per iteration on a (traces, k, k) block, so the number of
numpy calls is set by the longest trace, not by the total number of points.

The lockstep recursion has no skip/restart logic; a trace in which any step has no possible
transition is simply re-run through ``viterbi.decode``, which has. Results are identical
to matching each trace alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from citybrain.geo.matching.assemble import assemble, lonlat_of
from citybrain.geo.matching.base import MatchResult, as_trace
from citybrain.geo.matching.model import HMMConfig
from citybrain.geo.matching.viterbi import Layers, decode, transitions
from citybrain.geo.network import RoadNetwork

__all__ = ["match_many"]

_NEG = -np.inf


def match_many(
    net: RoadNetwork, cfg: HMMConfig, traces: Sequence[Sequence[Sequence[float]] | NDArray[np.float64]]
) -> list[MatchResult]:
    arrs = [as_trace(t) for t in traces]
    lens = np.array([len(a) for a in arrs], dtype=np.intp)
    results: list[MatchResult | None] = [None] * len(arrs)
    if lens.sum() == 0:
        return [MatchResult([], []) for _ in arrs]
    allp = np.vstack([a for a in arrs if len(a)])
    x, y = net.to_xy(allp[:, 1], allp[:, 2])
    first_pt = np.concatenate(([0], np.cumsum(lens)[:-1]))
    tid = np.repeat(np.arange(len(arrs)), lens)
    k = cfg.max_candidates
    layers = Layers.of(net, cfg, x, y)
    cand, starts, kept = layers.cand, layers.starts, layers.kept
    kt = tid[kept]
    same = kt[1:] == kt[:-1]
    p_idx, q_idx = kept[:-1][same], kept[1:][same]
    gc, limit = layers.limits(x, y, p_idx, q_idx, allp[q_idx, 0] - allp[p_idx, 0])
    trans = transitions(layers, p_idx, q_idx, gc, limit)
    # step index of the transition *into* each kept position (-1 at a trace's first point)
    step_into = np.full(len(kept), -1, dtype=np.intp)
    step_into[1:][same] = np.arange(len(p_idx))
    emis_pad = layers.emissions()

    # traces with at least one placed point, longest first so the active ones are a prefix
    kcount = np.bincount(kt, minlength=len(arrs))
    kfirst = np.concatenate(([0], np.cumsum(kcount)[:-1]))
    order = [t for t in np.argsort(-kcount, kind="stable").tolist() if kcount[t] > 0]
    for t in range(len(arrs)):
        if kcount[t] == 0:
            results[t] = MatchResult([None] * int(lens[t]), [])
    if order:
        chosen, bad = _lockstep(trans, emis_pad, step_into, kfirst[order], kcount[order], k)
        good = [(b, t) for b, t in enumerate(order) if not bad[b]]
        rows = {t: starts[kept[kfirst[t] : kfirst[t] + kcount[t]]] + chosen[b, : kcount[t]] for b, t in good}
        if rows:
            lon, lat = lonlat_of(net, cand, np.concatenate(list(rows.values())))
        off = 0
        for t, r in rows.items():  # same order as the concatenation above
            lo, n, c = int(first_pt[t]), int(lens[t]), len(r)
            kp = kept[kfirst[t] : kfirst[t] + c] - lo
            ll = (lon[off : off + c], lat[off : off + c])
            off += c
            segs = np.zeros(c, dtype=np.intp)
            results[t] = assemble(net, cfg, cand, r, kp, segs, x[lo : lo + n], y[lo : lo + n], ll)
        for b, t in enumerate(order):
            if bad[b]:  # redo with skips and restarts, reusing candidates and transitions
                lo, n, f, c = int(first_pt[t]), int(lens[t]), int(kfirst[t]), int(kcount[t])
                s0 = int(step_into[f + 1]) if c > 1 else 0
                r, placed, seg_of = decode(
                    layers, kept[f : f + c], emis_pad[f : f + c], trans[s0 : s0 + c - 1], x, y
                )
                results[t] = assemble(net, cfg, cand, r, placed - lo, seg_of, x[lo : lo + n], y[lo : lo + n])
    return [r if r is not None else MatchResult([], []) for r in results]


def _lockstep(
    trans: NDArray[np.float64],
    emis: NDArray[np.float64],
    step_into: NDArray[np.intp],
    first: NDArray[np.intp],
    count: NDArray[np.intp],
    k: int,
) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """Viterbi for B traces at once; count is non-increasing. Returns chosen (B, Lmax), bad (B,)."""
    nb, lmax = len(first), int(count[0])
    score = emis[first].copy()
    bps = np.zeros((lmax, nb, k), dtype=np.intp)
    bad = np.zeros(nb, dtype=bool)
    # traces still running at step i are a prefix, as count is sorted descending
    running = np.searchsorted(-count, -np.arange(lmax), side="left").tolist()
    for i in range(1, lmax):
        na = running[i]
        kp = first[:na] + i
        lt = trans[step_into[kp]]
        tot = score[:na, :, None] + lt
        bp = tot.argmax(axis=1)
        best = np.take_along_axis(tot, bp[:, None, :], axis=1)[:, 0, :]
        dead = best.max(axis=1) == _NEG
        if dead.any():
            bad[:na] |= dead
            best[dead] = 0.0  # keep the others' numbers finite; the dead ones are redone serially
        score[:na] = best + emis[kp]
        bps[i, :na] = bp
        if i % 128 == 0:
            score[:na] -= score[:na].max(axis=1, keepdims=True)
    chosen = np.zeros((nb, lmax), dtype=np.intp)
    cur = score.argmax(axis=1)
    ar = np.arange(nb)
    for i in range(lmax - 1, -1, -1):
        live = count > i
        chosen[live, i] = cur[live]
        if i > 0:
            cur = np.where(live, bps[i, ar, cur], cur)
    return chosen, bad

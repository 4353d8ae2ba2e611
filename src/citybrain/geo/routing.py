"""Bounded single-source shortest paths with a cache (a lazily built UBODT).

FMM precomputes an "upper-bounded origin-destination table" (all node pairs closer than a bound).
We build the same thing lazily: the first time a node is a route origin we run a Dijkstra that stops
at the requested bound and keep its distances and predecessor edges. Map matching asks for short
routes (consecutive GPS fixes), so the searches are small and the cache hit rate is high.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray

__all__ = ["BoundedRouter"]

Tree = tuple[dict[int, float], dict[int, int]]


class BoundedRouter:
    """Distances from one node to every node within ``limit`` metres, cached per origin node."""

    def __init__(
        self,
        src: NDArray[np.intp],
        dst: NDArray[np.intp],
        length: NDArray[np.float64],
        node_count: int,
        max_cached: int = 200_000,
    ) -> None:
        adj: list[list[tuple[int, float, int]]] = [[] for _ in range(node_count)]
        for i, (s, d, w) in enumerate(zip(src.tolist(), dst.tolist(), length.tolist(), strict=True)):
            adj[s].append((d, w, i))
        self._adj = adj
        self._src = src.tolist()
        self._cache: OrderedDict[int, tuple[float, Tree]] = OrderedDict()
        self._max_cached = max_cached
        self.searches = 0
        # The cached trees flattened into one sorted table (key = origin * n + target) so that
        # lookups for a whole trace are a single searchsorted. Trees newer than the table are
        # "pending" and looked up in their dicts until the next merge.
        self._n = node_count
        self._keys = np.zeros(0, dtype=np.int64)
        self._vals = np.zeros(0, dtype=np.float64)
        self._table_limit = np.full(node_count, -1.0)
        self._pending: set[int] = set()
        self._pending_size = 0

    def clear(self) -> None:
        self._cache.clear()
        self._keys = np.zeros(0, dtype=np.int64)
        self._vals = np.zeros(0, dtype=np.float64)
        self._table_limit[:] = -1.0
        self._pending.clear()
        self._pending_size = 0

    def tree(self, node: int, limit: float) -> Tree:
        """(distance by node, predecessor edge by node) for all nodes within ``limit`` of ``node``."""
        hit = self._cache.get(node)
        if hit is not None and hit[0] >= limit:
            return hit[1]
        if hit is not None:
            limit = max(limit, hit[0] * 1.5)  # grow geometrically so one node is not searched often
        t = self._search(node, limit)
        self._cache[node] = (limit, t)
        self._pending.add(node)
        self._pending_size += len(t[0])
        if len(self._cache) > self._max_cached:
            old, _ = self._cache.popitem(last=False)
            self._pending.discard(old)
            self._table_limit[old] = -1.0  # rows stay in the table but are no longer trusted
        return t

    def distances(
        self, origin: NDArray[np.intp], target: NDArray[np.intp], need: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Route length origin[i] -> target[i] where it is at most need[i] (else inf), vectorised."""
        out = np.full(len(origin), math.inf)
        if len(origin) == 0:
            return out
        ok = need > 0
        miss = ok & (self._table_limit[origin] < need)
        if miss.any():
            o, nm = origin[miss], need[miss]
            order = np.argsort(o, kind="stable")
            so = o[order]
            first = np.flatnonzero(np.r_[True, so[1:] != so[:-1]])
            umax = np.maximum.reduceat(nm[order], first)
            for node, lim in zip(so[first].tolist(), umax.tolist(), strict=True):
                self.tree(node, lim)
            if self._pending_size > max(50_000, len(self._keys) // 4):
                self._merge()
        in_table = ok & (self._table_limit[origin] >= need)
        if len(self._keys) and in_table.any():
            keys = origin[in_table].astype(np.int64) * self._n + target[in_table]
            idx = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
            hit = self._keys[idx] == keys
            out[np.flatnonzero(in_table)[hit]] = self._vals[idx[hit]]
        rest = np.flatnonzero(ok & ~in_table)
        if len(rest):
            cache = self._cache
            inf = math.inf
            out[rest] = [
                cache[a][1][0].get(b, inf)
                for a, b in zip(origin[rest].tolist(), target[rest].tolist(), strict=True)
            ]
        return out

    def compact(self) -> None:
        """Fold every cached tree into the lookup table now (e.g. after a warm-up pass)."""
        if self._pending:
            self._merge()

    def _merge(self) -> None:
        """Fold pending trees into the sorted table."""
        parts_k = [self._keys]
        parts_v = [self._vals]
        for node in self._pending:
            hit = self._cache.get(node)
            if hit is None:
                continue
            limit, (dist, _) = hit
            tg = np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))
            parts_k.append(node * self._n + tg)
            parts_v.append(np.fromiter(dist.values(), dtype=np.float64, count=len(dist)))
            self._table_limit[node] = limit
        keys = np.concatenate(parts_k)
        vals = np.concatenate(parts_v)
        order = np.argsort(keys, kind="stable")
        keys, vals = keys[order], vals[order]
        # a re-searched node appears twice; keep the later (larger-limit) row, which is a superset
        last = np.r_[keys[1:] != keys[:-1], True]
        self._keys, self._vals = keys[last], vals[last]
        self._pending.clear()
        self._pending_size = 0

    def _search(self, origin: int, limit: float) -> Tree:
        self.searches += 1
        dist: dict[int, float] = {origin: 0.0}
        pred: dict[int, int] = {}
        heap: list[tuple[float, int]] = [(0.0, origin)]
        adj = self._adj
        pop, push = heapq.heappop, heapq.heappush
        done: set[int] = set()
        while heap:
            d, u = pop(heap)
            if u in done:
                continue
            done.add(u)
            for v, w, e in adj[u]:
                nd = d + w
                if nd <= limit and nd < dist.get(v, math.inf):
                    dist[v] = nd
                    pred[v] = e
                    push(heap, (nd, v))
        return dist, pred

    def path_edges(self, origin: int, target: int, limit: float) -> list[int] | None:
        """Edge indices of the shortest path origin -> target within ``limit``; None if none."""
        if origin == target:
            return []
        dist, pred = self.tree(origin, limit)
        if target not in dist:
            return None
        out: list[int] = []
        node = target
        src = self._src
        while node != origin:
            e = pred[node]
            out.append(e)
            node = src[e]
        out.reverse()
        return out

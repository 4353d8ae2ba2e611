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

    def clear(self) -> None:
        self._cache.clear()

    def tree(self, node: int, limit: float) -> Tree:
        """(distance by node, predecessor edge by node) for all nodes within ``limit`` of ``node``."""
        hit = self._cache.get(node)
        if hit is not None and hit[0] >= limit:
            return hit[1]
        if hit is not None:
            limit = max(limit, hit[0] * 1.5)  # grow geometrically so one node is not searched often
        t = self._search(node, limit)
        self._cache[node] = (limit, t)
        if len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)
        return t

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

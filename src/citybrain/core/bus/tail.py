"""What both buses keep in memory: each partition's head offset and recent events (the tail), and
each consumer group's reported position. Consumers read the tail; one that fell behind it reads
the store."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from citybrain.core.bus.base import Bus
from citybrain.core.errors import ConfigError
from citybrain.core.events import Event
from citybrain.core.store.base import Store


class Tail:
    """The most recent events of one partition: contiguous offsets ``first .. first+len-1``."""

    __slots__ = ("cap", "first", "items")

    def __init__(self, cap: int, next_offset: int) -> None:
        self.cap = cap
        self.first = next_offset
        self.items: list[Event] = []

    def extend(self, first: int, events: list[Event]) -> None:
        if first != self.first + len(self.items):  # a gap: restart the tail here
            self.first, self.items = first, []
        self.items.extend(events)
        excess = len(self.items) - self.cap
        if excess > self.cap // 4:  # trim in chunks: amortised O(1) per event
            del self.items[:excess]
            self.first += excess

    def after(self, offset: int, limit: int) -> list[tuple[int, Event]] | None:
        """Events after ``offset``, or None when the tail no longer holds ``offset + 1``."""
        start = offset + 1 - self.first
        if start < 0:
            return None
        chunk = self.items[start : start + limit]
        return [(offset + 1 + i, ev) for i, ev in enumerate(chunk)]


class TailedBus(Bus):
    """A bus whose events get their offsets in ``store`` and whose consumers read an in-memory
    tail per partition first. Subclasses publish and call :meth:`_advance` with what is stored."""

    def __init__(self, store: Store, partitions: int, tail: int) -> None:
        if partitions < 1:
            raise ConfigError(f"bus.partitions must be >= 1, got {partitions}")
        self.partitions = partitions
        self.store = store
        heads = store.heads()
        self._heads = [heads.get(p, 0) for p in range(partitions)]
        self._tails = [Tail(tail, self._heads[p] + 1) for p in range(partitions)]
        self._positions: dict[str, list[int]] = {}
        self._cond = threading.Condition()

    def _advance(self, stored: Mapping[int, tuple[int, list[Event]]]) -> None:
        """Events now in the store, per partition as (first offset, events): to the tails, and wake
        the consumers."""
        with self._cond:
            for p, (first, evs) in stored.items():
                self._tails[p].extend(first, evs)
                self._heads[p] = first + len(evs) - 1
            self._cond.notify_all()

    def _reset(self, partition: int, head: int) -> None:
        """Start a partition over at ``head`` with an empty tail."""
        with self._cond:
            self._heads[partition] = head
            self._tails[partition] = Tail(self._tails[partition].cap, head + 1)

    def fetch(self, partition: int, after: int, limit: int, timeout: float = 0.0) -> list[tuple[int, Event]]:
        with self._cond:
            if self._heads[partition] <= after and timeout > 0:
                self._cond.wait(timeout)
            if self._heads[partition] <= after:
                return []
            got = self._tails[partition].after(after, limit)
        if got is not None:
            return got
        return self.store.read_events(partition, after, limit)

    def wait(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    def head(self, partition: int) -> int:
        return self._heads[partition]

    def report_position(self, group: str, partition: int, position: int) -> None:
        self._positions.setdefault(group, [0] * self.partitions)[partition] = position

    def _lag_over(self, partitions: Iterable[int]) -> dict[str, int]:
        """Per consumer group: events in ``partitions`` beyond its reported position."""
        heads, parts = self._heads, list(partitions)
        return {g: sum(max(0, heads[p] - pos[p]) for p in parts) for g, pos in self._positions.items()}

    def queue_depth(self) -> int:
        return sum(len(t.items) for t in self._tails)

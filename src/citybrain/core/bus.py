"""The bus: an ordered log partitioned by entity key.

``publish`` returns only once the events are durable (that is when ingest may acknowledge), and
gives each event a per-partition offset. Consumers read a partition after a position they keep in
their own checkpoint, so a restart resumes exactly where the last committed batch ended.

The embedded bus keeps its durable log in the store's ``events`` table and a bounded in-memory
tail of each partition for live consumers; a consumer that falls behind the tail reads from the
store. Memory is bounded by ``partitions x tail`` whatever the consumers do; ingest is refused with
backpressure when a consumer lags more than ``max_lag`` events. A JetStream bus implements the same
interface with one subject per partition.
"""

from __future__ import annotations

import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from citybrain.core.errors import BackpressureError, ConfigError
from citybrain.core.events import Event
from citybrain.core.store.base import AppendResult, Store


def partition_for(key: str, partitions: int) -> int:
    """Stable across processes and restarts (unlike ``hash``)."""
    return zlib.crc32(key.encode()) % partitions


class Bus(ABC):
    partitions: int

    @abstractmethod
    def publish(self, events: Sequence[Event], *, internal: bool = False) -> AppendResult:
        """Make events durable and visible to consumers; raise BackpressureError when saturated.

        ``internal``: derived events from the pipeline itself, never refused for backpressure
        (refusing them would stall the very consumer whose lag caused it).
        """

    @abstractmethod
    def fetch(self, partition: int, after: int, limit: int, timeout: float = 0.0) -> list[tuple[int, Event]]:
        """Up to ``limit`` events with offset > ``after``; waits up to ``timeout`` s when there are none."""

    @abstractmethod
    def wait(self, timeout: float) -> None:
        """Block until something is published or ``timeout`` seconds pass."""

    @abstractmethod
    def head(self, partition: int) -> int:
        """The highest offset written to a partition."""

    @abstractmethod
    def report_position(self, group: str, partition: int, position: int) -> None:
        """A consumer group's committed position (for lag, backpressure and metrics)."""

    @abstractmethod
    def lag(self) -> dict[str, int]:
        """Events not yet consumed, per consumer group (sum over partitions)."""

    def queue_depth(self) -> int:
        """Events held in memory by the bus (0 where the bus keeps none)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class _Tail:
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


class EmbeddedBus(Bus):
    def __init__(
        self, store: Store, partitions: int = 4, tail: int = 65_536, max_lag: int = 1_000_000
    ) -> None:
        if partitions < 1:
            raise ConfigError(f"bus.partitions must be >= 1, got {partitions}")
        self.partitions = partitions
        self.max_lag = max_lag
        self._store = store
        heads = store.heads()
        if heads and max(heads) >= partitions:
            raise ConfigError(
                f"bus.partitions is {partitions} but the store holds partition {max(heads)}; "
                "the partition count of a data folder cannot shrink"
            )
        self._heads = [heads.get(p, 0) for p in range(partitions)]
        self._tails = [_Tail(tail, self._heads[p] + 1) for p in range(partitions)]
        self._positions: dict[str, list[int]] = {}
        self._part_cache: dict[str, int] = {}
        self._cond = threading.Condition()
        self._lock = threading.Lock()  # orders append + tail update so offsets reach the tail in order

    def _partition_of(self, key: str) -> int:
        p = self._part_cache.get(key)
        if p is None:
            if len(self._part_cache) > 1_000_000:
                self._part_cache.clear()
            p = self._part_cache[key] = partition_for(key, self.partitions)
        return p

    def publish(self, events: Sequence[Event], *, internal: bool = False) -> AppendResult:
        worst = 0 if internal else max(self.lag().values(), default=0)
        if worst > self.max_lag:
            raise BackpressureError(
                f"processing lags {worst} events behind ingest "
                f"(limit bus.max_lag={self.max_lag}); retry later",
                retry_after=1.0,
            )
        with self._lock:
            result = self._store.append_events(events, self._partition_of)
            if not result.accepted:
                return result
            with self._cond:
                for p, (first, evs) in result.by_partition().items():
                    self._tails[p].extend(first, evs)
                    self._heads[p] = first + len(evs) - 1
                self._cond.notify_all()
        return result

    def fetch(self, partition: int, after: int, limit: int, timeout: float = 0.0) -> list[tuple[int, Event]]:
        with self._cond:
            if self._heads[partition] <= after and timeout > 0:
                self._cond.wait(timeout)
            if self._heads[partition] <= after:
                return []
            got = self._tails[partition].after(after, limit)
        if got is not None:
            return got
        return self._store.read_events(partition, after, limit)

    def wait(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait(timeout)

    def head(self, partition: int) -> int:
        return self._heads[partition]

    def report_position(self, group: str, partition: int, position: int) -> None:
        self._positions.setdefault(group, [0] * self.partitions)[partition] = position

    def lag(self) -> dict[str, int]:
        heads = self._heads
        return {
            g: sum(max(0, heads[p] - pos[p]) for p in range(self.partitions))
            for g, pos in self._positions.items()
        }

    def queue_depth(self) -> int:
        return sum(len(t.items) for t in self._tails)

"""The bus interface: an ordered log partitioned by entity key (see the package docstring)."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from citybrain.core.events import Event
from citybrain.core.store.base import AppendResult


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

    def owns(self, partition: int) -> bool:
        """Whether this process's pipeline processes ``partition`` (a scaled-out worker owns some)."""
        return True

    def queue_depth(self) -> int:
        """Events held in memory by the bus (0 where the bus keeps none)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

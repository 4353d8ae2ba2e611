"""The embedded bus: the durable log is the store's ``events`` table, with an in-memory tail per
partition for live consumers (``tail.TailedBus``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from citybrain.core.bus.base import partition_for
from citybrain.core.bus.tail import TailedBus
from citybrain.core.errors import BackpressureError, ConfigError
from citybrain.core.events import Event
from citybrain.core.store.base import AppendResult, Store


class EmbeddedBus(TailedBus):
    def __init__(
        self, store: Store, partitions: int = 4, tail: int = 65_536, max_lag: int = 1_000_000
    ) -> None:
        super().__init__(store, partitions, tail)
        heads = store.heads()
        if heads and max(heads) >= partitions:
            raise ConfigError(
                f"bus.partitions is {partitions} but the store holds partition {max(heads)}; "
                "the partition count of a data folder cannot shrink"
            )
        self.max_lag = max_lag
        self._part_cache: dict[str, int] = {}
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
            result = self.store.append_events(events, self._partition_of)
            if not result.accepted:
                return result
            self._advance(result.by_partition())
        return result

    def lag(self) -> dict[str, int]:
        return self._lag_over(range(self.partitions))

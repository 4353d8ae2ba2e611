"""Token-bucket rate limit of ingested events, per API token."""

from __future__ import annotations

import threading
import time

from citybrain.core.errors import BackpressureError


class RateLimiter:
    def __init__(self, rate: float, burst: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst or rate
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str, n: int) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            level, at = self._buckets.get(who, (self.burst, now))
            level = min(self.burst, level + (now - at) * self.rate)
            need = min(n, self.burst)  # a batch larger than the bucket passes when it is full (overdraws)
            if level < need:
                self._buckets[who] = (level, now)
                wait = (need - level) / self.rate
                raise BackpressureError(
                    f"rate limit: this token is over its {self.rate:.0f} events/s allowance "
                    f"(ingest.rate_limit_eps); retry in {wait:.1f}s",
                    retry_after=wait,
                )
            self._buckets[who] = (level - n, now)

"""The live feed: topics published from any thread, delivered to asyncio subscribers.

A subscriber has a bounded queue. One that cannot keep up is disconnected (with a reason) rather
than silently losing messages: it reconnects and re-reads the current state from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import threading
from typing import Any


class Subscriber:
    def __init__(self, patterns: set[str], maxsize: int) -> None:
        self.patterns = patterns
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.overflowed = False

    def wants(self, topic: str) -> bool:
        return any(p == topic or fnmatch.fnmatchcase(topic, p) for p in self.patterns)


class Hub:
    def __init__(self, queue_size: int = 1_000) -> None:
        self.queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        self.published = 0
        self.disconnected_slow = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, patterns: set[str]) -> Subscriber:
        sub = Subscriber(patterns, self.queue_size)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, topic: str, data: Any) -> None:
        """Thread-safe; a no-op until an event loop is bound."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self.published += 1
        msg = {"topic": topic, "data": data}
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._deliver, topic, msg)

    def _deliver(self, topic: str, msg: dict[str, Any]) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.wants(topic)]
        for s in subs:
            if s.overflowed:
                continue
            try:
                s.queue.put_nowait(msg)
            except asyncio.QueueFull:
                s.overflowed = True
                self.disconnected_slow += 1

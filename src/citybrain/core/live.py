"""The live feed: topics published from any thread, delivered to asyncio subscribers.

A subscriber has a bounded queue. One that cannot keep up is disconnected (with a reason) rather
than silently losing messages: it reconnects and re-reads the current state from the API.
Everything the hub holds is bounded: at most ``max_subscribers`` subscribers, each with at most
``max_patterns`` patterns of at most ``MAX_PATTERN_CHARS`` characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import threading
from typing import Any

from citybrain.core.errors import BackpressureError, Problem, ValidationError

MAX_PATTERN_CHARS = 200


class Subscriber:
    def __init__(self, patterns: set[str], maxsize: int, token_id: str = "", max_patterns: int = 64) -> None:
        self.patterns = patterns
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.token_id = token_id
        self.max_patterns = max_patterns
        self.revoked = asyncio.Event()  # set by Hub.revoke: the owner closes the connection

    def wants(self, topic: str) -> bool:
        return any(p == topic or fnmatch.fnmatchcase(topic, p) for p in self.patterns)

    def add(self, patterns: set[str]) -> None:
        """Add ``patterns``, all or none: ValidationError when one is too long or the total would
        pass ``max_patterns`` (each pattern costs a match on every published message)."""
        long = sorted(p for p in patterns if len(p) > MAX_PATTERN_CHARS)
        if long:
            raise ValidationError(
                [Problem(0, "topics", f"pattern longer than {MAX_PATTERN_CHARS} characters: {p[:40]!r}...")
                 for p in long]
            )  # fmt: skip
        total = len(self.patterns | patterns)
        if total > self.max_patterns:
            raise ValidationError(
                [Problem(0, "topics", f"{total} patterns exceed the limit of {self.max_patterns} per "
                          "connection (server.live_max_patterns); unsubscribe some or use a glob")]
            )  # fmt: skip
        self.patterns |= patterns


class Hub:
    def __init__(self, queue_size: int = 1_000, max_subscribers: int = 1_000, max_patterns: int = 64) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self.max_patterns = max_patterns
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        self.published = 0
        self.disconnected_slow = 0
        self.disconnected_revoked = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, patterns: set[str], token_id: str = "") -> Subscriber:
        """BackpressureError when ``max_subscribers`` are connected already."""
        sub = Subscriber(set(), self.queue_size, token_id, self.max_patterns)
        sub.add(patterns)
        with self._lock:
            if len(self._subs) >= self.max_subscribers:
                raise BackpressureError(
                    f"{len(self._subs)} live-feed clients are connected, the limit "
                    f"(server.live_max_clients); retry later",
                    retry_after=5.0,
                )
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def subscribers(self) -> int:
        return len(self._subs)

    def revoke(self, token_id: str) -> None:
        """Thread-safe: every subscriber of ``token_id`` is told to close (its endpoint closes it)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._revoke, token_id)

    def _revoke(self, token_id: str) -> None:
        with self._lock:
            subs = [s for s in self._subs if s.token_id == token_id]
        for s in subs:
            s.revoked.set()

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

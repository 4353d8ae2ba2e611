"""An asyncio loop on a daemon thread: the Bus interface is synchronous (the pipeline runs on a
thread), so the asyncio nats-py client runs on its own event-loop thread inside the bus."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class EventLoopThread:
    """An asyncio loop on a daemon thread; synchronous code submits coroutines and waits."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except FutureTimeout as err:
            fut.cancel()
            raise TimeoutError(f"NATS operation took longer than {timeout} s") from err

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def cancel_rest() -> None:  # e.g. a pull in flight: end it here, not in a closed loop
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.run(cancel_rest(), timeout=5)
        except Exception as err:  # closing anyway
            log.debug("cancelling NATS tasks: %s", err)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

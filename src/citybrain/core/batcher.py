"""Group small submissions (one TCP frame, one MQTT message) into large durable appends.

``await submit(events)`` returns only once those events are durable, so a gateway may then
acknowledge the device. Submissions arriving within ``max_delay`` seconds (or until ``max_batch``
events) share one store append: thousands of connections cost a few transactions per second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from citybrain.core.events import Event


class BatchPublisher:
    def __init__(
        self,
        publish: Callable[[list[Event]], Any],
        max_batch: int = 5_000,
        max_delay: float = 0.01,
        max_pending: int = 200_000,
    ) -> None:
        self._publish = publish
        self.max_batch, self.max_delay = max_batch, max_delay
        self._queue: asyncio.Queue[tuple[list[Event], asyncio.Future[None]]] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="citybrain-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, events: list[Event]) -> None:
        """Wait until ``events`` are durable; raises what the publish raised (e.g. backpressure)."""
        if not events:
            return
        self.start()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((events, fut))  # blocks when max_pending is reached: backpressure
        await fut

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            events, fut = await self._queue.get()
            batch, futs = list(events), [fut]
            deadline = loop.time() + self.max_delay
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    more, f = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
                batch.extend(more)
                futs.append(f)
            try:
                await loop.run_in_executor(None, self._publish, batch)
            except Exception as err:
                for f in futs:
                    if not f.done():
                        f.set_exception(err)
            else:
                for f in futs:
                    if not f.done():
                        f.set_result(None)
            self.batches += 1

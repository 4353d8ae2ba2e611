"""The scene's one server: not a network gateway but the index's schedule, started and stopped
with the platform's servers (``Scene.servers``; the layout check names the module).

Every ``recompute_every_min`` it makes sure the month just closed has its final computation (made
once after the month closed, then left as stored), recomputes the running month, and computes any
earlier month of the trend whose result is missing, not final, or an error made before the
departments' latest delivery (history backfilled after the platform started, or late data). With
``recompute_every_min = 0`` the index is computed only on demand (``POST /recompute``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from citybrain import sdk
from citybrain.scenes.safety.index import TREND_MONTHS, Safety, datasets, month_of, shift
from citybrain.scenes.safety.settings import SafetySettings

log = logging.getLogger(__name__)
FIRST_AFTER_S = 5.0  # the first round waits for the pipeline to catch up with what it holds


class Scheduler:
    name = "safety-schedule"

    def __init__(self, rt: sdk.Runtime[SafetySettings]) -> None:
        self.rt = rt
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.rt.settings.recompute_every_min > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def tick(self, now: int) -> dict[str, str]:
        """One round: the trend's earlier months that want it, the month just closed (if not final
        yet) and the running month."""
        w: Safety = self.rt.world
        current = month_of(now)
        done: dict[str, str] = {}
        delivered = self._last_delivery()
        for month in (shift(current, -k) for k in range(TREND_MONTHS - 1, 1, -1)):
            state = w.lookup(self.rt.store, month)
            if state is not None and not state["error"] and state["final"]:
                continue  # final and good
            if state is not None and state["error"] and state["computed_ms"] >= delivered:
                continue  # failed, and no data came since
            done[month] = (await w.ensure(self.rt, month))["error"] or "ok"
        for month in (shift(current, -1), current):
            state = await w.ensure(self.rt, month)
            done[month] = state["error"] or "ok"
        self.rounds += 1
        return done

    def _last_delivery(self) -> int:
        """When the index's datasets last received a run (0: never)."""
        store = self.rt.aggregator.store
        return max(
            (
                r.finished_ts or r.started_ts
                for name in datasets(self.rt.settings)
                for r in store.runs(name, 1)
            ),
            default=0,
        )

    async def _loop(self) -> None:
        every = self.rt.settings.recompute_every_min * 60.0
        await asyncio.sleep(FIRST_AFTER_S)
        while True:
            try:
                done = await self.tick(sdk.now_ms())
                log.info("safety index computed: %s", done)
            except Exception:  # one failed round must not end the schedule
                log.exception("safety index round failed")
            await asyncio.sleep(every)


def servers(rt: sdk.Runtime[SafetySettings]) -> list[Any]:
    return [Scheduler(rt)]

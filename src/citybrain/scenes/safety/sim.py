"""The safety simulator: a year of history for a fresh ``make run``, then the running month.

At start the departments deliver their monthly statistics by district (``departments``: synthetic,
seeded) for the ``months`` months before this one, oldest first, each month as the push its
department would make after the month closed (``as_of`` the first day of the month after), through
the platform's aggregation (``POST /api/v1/aggregation/datasets/{name}/batches``); then the
statistics of the running month so far. It then asks the scene to compute each month in order
(``POST /api/v1/scenes/safety/recompute``), so every month has its month-on-month change and, with
13 months, the last has its year-on-year one. Every ``refresh_every_s`` it delivers the running
month's figures again (they grow as the month goes on); the scene's schedule recomputes.

Started again on the same data folder, the same deliveries are answered ``already`` and the closed
months are not recomputed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.safety import departments
from citybrain.scenes.safety.index import datasets, month_of, month_range, shift, units_of
from citybrain.scenes.safety.settings import SafetySettings
from citybrain.sdk import SimContext, data

log = logging.getLogger(__name__)
AGG = "/api/v1/aggregation"
SCENE = "/api/v1/scenes/safety"
BJT = timezone(timedelta(hours=8))


class SafetySimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 2026
    months: int = 13  # closed months delivered at start (13: a year-on-year change for the last)
    start_after_s: float = 3.0
    refresh_every_s: float = 3600.0  # the running month's figures delivered again this often


def elapsed(now: int, month: str) -> float:
    """The share of ``month`` gone by at ``now`` (at least a day's worth)."""
    start, end = month_range(month)
    return min(1.0, max(86_400_000, now - start) / (end - start))


def day_of(now: int) -> str:
    return datetime.fromtimestamp(now / 1000, BJT).date().isoformat()


def day_after(month: str) -> str:
    return f"{shift(month, 1)}-01"


async def deliver(
    http: Any,
    sets: Mapping[str, data.Dataset],
    units: list[str],
    month: str,
    seed: int,
    so_far: float = 1.0,
    as_of: str = "",
) -> int:
    """Push every dataset's rows of ``month``; the rows pushed."""
    sent = 0
    for ds in sets.values():
        body = b"".join(
            msgspec.json.encode(r) + b"\n" for r in departments.rows(ds, month, units, seed, so_far)
        )
        await http.post_bytes(
            f"{AGG}/datasets/{ds.name}/batches?as_of={as_of or day_after(month)}",
            body,
            "application/x-ndjson",
        )
        sent += body.count(b"\n")
    return sent


async def backfill(http: Any, cfg: SafetySettings, months: int, seed: int, now: int) -> list[dict[str, Any]]:
    """Deliver ``months`` closed months and the running one, then compute them oldest first; the
    index answers."""
    sets, units = datasets(cfg), units_of(cfg)
    current = month_of(now)
    past = [shift(current, -k) for k in range(months, 0, -1)]
    for m in past:
        await deliver(http, sets, units, m, seed)
    await deliver(http, sets, units, current, seed, elapsed(now, current), as_of=day_of(now))
    answers = []
    for m in [*past, current]:
        try:
            r = await http.post(f"{SCENE}/recompute?month={m}", {})
        except RuntimeError as err:  # a token without operate: the scene's schedule computes them
            log.info("safety sim: %s not computed now (%s); the schedule will", m, err)
            answers.append({"month": m, "error": "left to the schedule"})
            continue
        answers.append(r.json())
    return answers


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


class SafetySimulator:
    name = "safety"

    def __init__(self, cfg: SafetySimConfig) -> None:
        self.cfg = cfg
        self.answers: list[dict[str, Any]] = []

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        await ctx.http.wait_ready()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.cfg.start_after_s)
        scene = msgspec.convert(dict(ctx.scene_settings), SafetySettings)
        history = asyncio.ensure_future(
            backfill(ctx.http, scene, self.cfg.months, self.cfg.seed, sdk.now_ms())
        )
        history.add_done_callback(_retrieved)  # what it ends with once the platform stopped is no news
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({history, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # this task cancelled, or the platform stopping: no delivery retried against it
            stopping.cancel()
            if not history.done():
                history.cancel()
        if not history.done() or history.cancelled():
            return
        try:
            self.answers = history.result()
        except (RuntimeError, sdk.CitybrainError) as err:
            if not stop.is_set():  # else the client closed under it as the platform stopped
                log.error("safety sim: the history was not delivered: %s", err)
            return
        log.info(
            "safety sim: %d months delivered and computed (%s)",
            len(self.answers),
            ", ".join(f"{a.get('month')}: {a.get('error') or 'ok'}" for a in self.answers),
        )
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.refresh_every_s)
            if stop.is_set():
                return
            now = sdk.now_ms()
            with contextlib.suppress(RuntimeError):
                await deliver(
                    ctx.http,
                    datasets(scene),
                    units_of(scene),
                    month_of(now),
                    self.cfg.seed,
                    elapsed(now, month_of(now)),
                    as_of=day_of(now),
                )


def simulator(cfg: Mapping[str, Any]) -> SafetySimulator:
    return SafetySimulator(msgspec.convert(dict(cfg), SafetySimConfig))

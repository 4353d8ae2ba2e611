"""A seeded city-pulse simulator: Poisson report counts per district with a daily rhythm and a
recurring surge in one district, sent once a second over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.geo.regions import NANCHANG as DISTRICTS
from citybrain.scenes.pulse.events import PulseReport
from citybrain.sdk import SimContext

CATEGORIES = ("hotline", "parking", "clinic", "traffic", "welfare")
# real Nanchang streets, for the addresses
STREETS = (
    "八一大道", "红谷中大道", "阳明路", "北京西路", "井冈山大道", "洪都中大道", "丰和中大道", "昌北大道",
)  # fmt: skip
# typical reports per minute at the daily peak, roughly by population
BASE_PER_MIN = {
    "360102": 90, "360103": 80, "360104": 50, "360111": 100, "360112": 70,
    "360113": 110, "360121": 90, "360123": 25, "360124": 45,
}  # fmt: skip


class PulseSimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 7
    scale: float = 1.0  # multiplies every rate
    surge_district: str = "360113"
    surge_every_s: int = 600  # a surge starts every this many seconds of simulated time...
    surge_len_s: int = 180  # ...lasts this long...
    surge_factor: float = 4.0  # ...at this multiple of the normal rate
    tick_s: float = 1.0


def daily_factor(ts_ms: int) -> float:
    """0.35 at night to 1.0 at the 09:00 and 18:00 peaks (China time)."""
    hour = ((ts_ms / 3_600_000) + 8) % 24
    return 0.35 + 0.65 * max(math.exp(-((hour - 9) ** 2) / 8), math.exp(-((hour - 18) ** 2) / 8), 0.4)


class PulseSimulator:
    name = "pulse"

    def __init__(self, cfg: PulseSimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.seq = 0

    def events_for(self, ts_ms: int, seconds: float) -> list[PulseReport]:
        """The reports of one tick; deterministic for a given seed and sequence of calls."""
        c = self.cfg
        surge = (ts_ms // 1000) % c.surge_every_s < c.surge_len_s
        out: list[PulseReport] = []
        for code in DISTRICTS:
            lam = BASE_PER_MIN[code] / 60 * seconds * c.scale * daily_factor(ts_ms)
            if surge and code == c.surge_district:
                lam *= c.surge_factor
            for _ in range(sdk.poisson(self.rng, lam)):
                self.seq += 1
                out.append(PulseReport(
                    key=code, ts=ts_ms - self.rng.randrange(0, int(seconds * 1000)), source="sim.pulse",
                    id=f"sim-pulse-{c.seed}-{self.seq}", category=self.rng.choice(CATEGORIES),
                    address=f"{DISTRICTS[code]['zh-CN']}{self.rng.choice(STREETS)}"
                    f"{self.rng.randint(1, 999)}号",
                ))  # fmt: skip
        return out

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = self.events_for(time.time_ns() // 1_000_000, self.cfg.tick_s)
            if batch:
                await ctx.http.send(batch)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.tick_s)


def simulator(settings: Mapping[str, Any]) -> PulseSimulator:
    return PulseSimulator(msgspec.convert(dict(settings), PulseSimConfig))

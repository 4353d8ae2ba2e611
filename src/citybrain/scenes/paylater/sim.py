"""The pay-later simulator: cars coming to Nanchang's car parks through real gate calls, with what
goes wrong at real gates.

``ParkingWorld`` (pure, seeded) decides what happens: cars arrive at the lots (a daily profile),
stay a log-normal time and leave; a share of them is bound to a payer with signed consent (the
simulator binds them first, over the API); a share of reads is doubtful (low confidence, which an
operator must confirm), a share of exits is never read (a missed exit: the session goes to
review), a share of reads is sent twice (the lot system retrying). ``ParkingSimulator`` posts each
read to ``/gate`` and acts on the answer as a driver would: a car told to pay at the gate pays
through the cashier route when there is one, and is read again.

Rates and shares are configuration; they are assumptions for a demo, not measured figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import string
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater.plates import PROVINCES

log = logging.getLogger(__name__)
BASE = "/api/v1/scenes/paylater"
SERIAL = "".join(c for c in string.ascii_uppercase + string.digits if c not in "IO")


class PaylaterSimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 32_960
    cars: int = 400  # the cars that come and go
    arrivals_per_min: float = 6.0  # across every lot
    stay_minutes: float = 50.0  # median stay (log-normal, sigma 0.9)
    bound_share: float = 0.6  # cars bound to a payer with 免密 consent
    nev_share: float = 0.2  # new-energy cars (green plates)
    doubtful_share: float = 0.03  # reads below the confidence threshold
    missed_exit_share: float = 0.01  # exits never read
    repeat_share: float = 0.02  # reads the lot system sends twice
    lots: list[str] = msgspec.field(
        default_factory=lambda: ["bayi-square", "honggutan-wanda", "provincial-hospital", "shengjinta-street"]
    )
    tick_s: float = 1.0
    pay_after_s: float = 12.0  # a driver told to pay scans the code and pays after about this long
    booth_after_s: float = 15.0  # the remote booth confirms a held read after about this long


@dataclass(order=True)
class Due:
    at: float
    plate: str = field(compare=False)
    lot: str = field(compare=False)
    direction: str = field(compare=False)


class ParkingWorld:
    """Seeded: which car arrives where and when, how long it stays, and what the camera makes of it."""

    def __init__(self, cfg: PaylaterSimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.plates = [self._plate(i) for i in range(cfg.cars)]
        self.bound = {p for p in self.plates if self.rng.random() < cfg.bound_share}
        self.parked: dict[str, str] = {}  # plate -> lot
        self.due: list[Due] = []

    def _plate(self, i: int) -> str:
        province = "赣" if self.rng.random() < 0.85 else self.rng.choice(sorted(PROVINCES))
        authority = "A" if province == "赣" else self.rng.choice("ABCDEF")
        if self.rng.random() < self.cfg.nev_share:
            return f"{province}{authority}{self.rng.choice('DF')}{self.rng.choice(SERIAL)}{i % 10_000:04d}"
        return f"{province}{authority}{self.rng.choice(SERIAL)}{i % 10_000:04d}"

    def arrivals(self, now: float, dt: float) -> list[Due]:
        """Cars that arrive in the next ``dt`` seconds (entries), and schedules their exits."""
        out: list[Due] = []
        for _ in range(sdk.poisson(self.rng, self.cfg.arrivals_per_min * dt / 60)):
            free = [p for p in self.plates if p not in self.parked]
            if not free:
                break
            plate, lot = self.rng.choice(free), self.rng.choice(self.cfg.lots)
            self.parked[plate] = lot
            out.append(Due(now, plate, lot, "entry"))
            stay = self.cfg.stay_minutes * 60 * math.exp(self.rng.gauss(0, 0.9))
            heapq.heappush(self.due, Due(now + stay, plate, lot, "exit"))
        return out

    def exits(self, now: float) -> list[Due]:
        out: list[Due] = []
        while self.due and self.due[0].at <= now:
            d = heapq.heappop(self.due)
            self.parked.pop(d.plate, None)
            if self.rng.random() >= self.cfg.missed_exit_share:
                out.append(d)
        return out

    def read(self, d: Due, read_id: str, now_ms: int) -> dict[str, Any]:
        doubtful = self.rng.random() < self.cfg.doubtful_share
        green = len(d.plate) == 8
        confidence = self.rng.uniform(0.5, 0.85) if doubtful else self.rng.uniform(0.92, 0.999)
        return {
            "id": read_id, "lot": d.lot, "gate": f"{d.direction}-1", "direction": d.direction,
            "plate": d.plate, "colour": "green" if green else "blue", "ts": now_ms,
            "confidence": round(confidence, 3),
        }  # fmt: skip


class ParkingSimulator:
    """Plays ``ParkingWorld`` through the gate API and acts on each answer as people would: a
    driver told to pay scans the lot's code (the cashier route) and is read again; a read held for
    an operator is confirmed from the picture by the lot's remote booth (``/confirm``) a little
    later. Never crashes on an answer it dislikes: a refused request is logged and dropped."""

    name = "paylater"

    def __init__(self, cfg: PaylaterSimConfig) -> None:
        self.cfg = cfg
        self.answers: Counter[str] = Counter()  # decision/reason -> how many

    async def run(self, ctx: sdk.SimContext, stop: asyncio.Event) -> None:
        world = ParkingWorld(self.cfg)
        run = f"{time.time_ns() // 1_000_000:x}"
        for plate in sorted(world.bound):
            payer = f"sim-{plate[1:]}"
            bind = {"plate": plate, "action": "bind", "payer": payer, "consent": f"agreement-{payer}"}
            await _post(ctx, "/bindings", bind)
        later: list[tuple[float, int, Due, dict[str, Any]]] = []  # (when, n, the read, what follows)
        n = 0
        while not stop.is_set():
            now = time.time()
            for d in world.arrivals(now, self.cfg.tick_s) + world.exits(now):
                n += 1
                await self._read(ctx, world, d, f"sim-{run}-{n}", later, n)
            while later and later[0][0] <= now:
                _, _, d, step = heapq.heappop(later)
                n += 1
                await self._follow(ctx, world, d, step, f"sim-{run}-{n}", later, n)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.tick_s)

    async def _read(self, ctx: sdk.SimContext, world: ParkingWorld, d: Due, read_id: str,
                    later: list[tuple[float, int, Due, dict[str, Any]]], n: int) -> None:  # fmt: skip
        body = world.read(d, read_id, int(time.time() * 1000))
        answer: dict[str, Any] | None = None
        for _ in range(2 if world.rng.random() < self.cfg.repeat_share else 1):
            answer = await _post(ctx, "/gate", body)
        if answer is None:
            return
        self.answers[f"{answer['decision']}/{answer['reason']}"] += 1
        now = time.time()
        if answer["decision"] == "pay" and d.direction == "exit":  # scans the code, pays, is read again
            step = {"pay": answer["session"]}
            heapq.heappush(later, (now + world.rng.uniform(0.5, 1.5) * self.cfg.pay_after_s, n, d, step))
        elif answer["reason"] in ("low_confidence", "bad_plate"):  # the booth confirms from the picture
            step = {"confirm": f"{d.lot}:{read_id}"}
            heapq.heappush(later, (now + world.rng.uniform(0.5, 1.5) * self.cfg.booth_after_s, n, d, step))

    async def _follow(self, ctx: sdk.SimContext, world: ParkingWorld, d: Due, step: dict[str, Any],
                      read_id: str, later: list[tuple[float, int, Due, dict[str, Any]]],
                      n: int) -> None:  # fmt: skip
        if "pay" in step:
            if await _post(ctx, f"/sessions/{step['pay']}/pay", {}) is not None:
                # read again once the provider has answered (a session paid already is refused: 409)
                heapq.heappush(later, (time.time() + self.cfg.pay_after_s / 4, n, d, {"again": True}))
            return
        if "confirm" in step:
            await _post(ctx, "/confirm", {"gate_event": step["confirm"], "plate": d.plate})
            return
        await self._read(ctx, world, d, read_id, later, n)


async def _post(ctx: sdk.SimContext, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The answer of a route, or None when it refused (logged: a refusal ends that step only)."""
    try:
        r = await ctx.http.post(BASE + path, body)
    except RuntimeError as err:  # the client's refusal (4xx, or 5xx after its retries)
        log.info("paylater sim: %s", err)
        return None
    answer: dict[str, Any] = r.json()
    return answer


def simulator(settings: Mapping[str, Any]) -> ParkingSimulator:
    return ParkingSimulator(msgspec.convert(dict(settings), PaylaterSimConfig))

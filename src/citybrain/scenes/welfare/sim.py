"""The welfare simulator: the departments of a synthetic Nanchang deliver their data, then life
happens to some households (an illness, a job loss, a flood), and the village plays its part.

At start it builds the population (``population.Population``: ``households`` households in the
city's real villages, seeded) and delivers it the way the departments would: the file datasets
written into their drop folders under the platform's data folder (civil affairs' CSV in GBK, real
estate's Excel, market regulation's Parquet ...), read by the platform's aggregation within a
poll, and the push datasets posted as NDJSON (``POST /api/v1/aggregation/datasets/{name}/batches``).
The same day's delivery again is the same files and bodies: the platform answers ``already``.

Once the register is in, it scripts shocks: ``shock_after_s`` later an illness in a household
picked so that the risk shows (authorised, rural, a low income: a 30,000 yuan self-paid bill is
over half of it), then every ``shock_every_s`` a job loss, a flood in a village, another illness.
Each arrives as one department's push; the platform re-screens the households concerned and a
risk opens a ``welfare.relapse`` case at the village. The simulator then plays the village
cadre and the caseworker (入户核查 with the 授权承诺, 信息比对), so the case reaches 公示 and the
village's publicity list (``GET /api/v1/scenes/welfare/publicity``) shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.welfare.departments import ndjson_chunks, write_files
from citybrain.scenes.welfare.population import Population
from citybrain.scenes.welfare.screening import screening_day
from citybrain.sdk import SimContext, data

log = logging.getLogger(__name__)
DROP = Path("welfare") / "drop"  # under the data folder: where the shipped file datasets are read
AGG = "/api/v1/aggregation"


class WelfareSimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 2026
    households: int = 2_000  # a few villages' worth for a laptop demo (the benchmark takes 1,000,000)
    start_after_s: float = 10.0  # the departments deliver once the platform's live scenes run
    pace_s: float = 0.2  # between two pushes of the baseline: a delivery does not crowd out live data
    shock_after_s: float = 20.0  # the first illness, once the register is in
    shock_every_s: float = 120.0  # then a job loss, a flood, an illness ... this often
    illness_amount: float = 30_000.0  # yuan self-paid
    flood_households: int = 5
    play_village: bool = True  # take the village's and caseworker's first steps on new cases
    tick_s: float = 2.0


class WelfareSimulator:
    name = "welfare"

    def __init__(self, cfg: WelfareSimConfig) -> None:
        self.cfg = cfg
        self.pushed = 0
        self.shocks: list[dict[str, str]] = []  # what happened to whom (for tests and the log)

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        if ctx.data_path is None:
            log.error("welfare sim: no data folder to drop the departments' files in")
            return
        await ctx.http.wait_ready()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.cfg.start_after_s)
        if stop.is_set():
            return
        day = screening_day(sdk.now_ms())
        pop = await asyncio.to_thread(Population, self.cfg.households, self.cfg.seed, day)
        datasets = pop.datasets
        await asyncio.to_thread(write_files, ctx.data_path / DROP, pop, datasets)
        for ds in datasets.values():
            if ds.origin == "push":
                await self._push(ctx, ds, pop.rows(ds.name), day)
        log.info("welfare sim: %d households delivered (files dropped, %d rows pushed)", pop.households,
                 self.pushed)  # fmt: skip
        if not await self._register_in(ctx, stop):
            return
        kinds = ["illness", "job_loss", "flood"]
        wait, turn = self.cfg.shock_after_s, 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.cfg.tick_s)
            wait -= self.cfg.tick_s
            if wait <= 0:
                await self._shock(ctx, pop, kinds[turn % len(kinds)], day)
                turn, wait = turn + 1, self.cfg.shock_every_s
            if self.cfg.play_village:
                await self._play_village(ctx)

    async def _push(self, ctx: SimContext, ds: data.Dataset, rows: Any, day: date) -> None:
        for body in ndjson_chunks(ds, rows):
            await ctx.http.post_bytes(f"{AGG}/datasets/{ds.name}/batches?as_of={day.isoformat()}", body,
                                      "application/x-ndjson")  # fmt: skip
            self.pushed += body.count(b"\n")
            await asyncio.sleep(self.cfg.pace_s)

    async def _register_in(self, ctx: SimContext, stop: asyncio.Event) -> bool:
        """Wait until the register and the members are read from their folders (a poll or two)."""
        while not stop.is_set():
            done = 0
            for name in ("civil.households", "civil.members"):
                runs = await ctx.http.get_json(f"{AGG}/runs", {"dataset": name})
                done += any(r.get("status") in ("done", "already") for r in runs or [])
            if done == 2:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
        return False

    async def _shock(self, ctx: SimContext, pop: Population, kind: str, day: date) -> None:
        try:
            if kind == "flood":
                village = pop.pick_village(self.cfg.flood_households)
                batch = pop.flood(village, self.cfg.flood_households)
                what = {"kind": kind, "village": village}
            else:
                household = pop.pick_household("illness" if kind == "illness" else "job_loss")
                batch = pop.illness(household, self.cfg.illness_amount) if kind == "illness" \
                    else pop.job_loss(household)  # fmt: skip
                what = {"kind": kind, "household": household}
        except (LookupError, ValueError) as err:
            log.warning("welfare sim: no %s this time: %s", kind, err)
            return
        dataset = {
            "illness": "medical.bills",
            "job_loss": "hrss.unemployment",
            "flood": "emergency.disasters",
        }[kind]
        await self._push(ctx, pop.datasets[dataset], [batch], day)
        self.shocks.append(what)
        log.info("welfare sim: %s", what)

    async def _play_village(self, ctx: SimContext) -> None:
        """The first two steps of each new identification: the village's visit (with the household's
        授权承诺), then the caseworker's comparison; the reviews are left to people."""
        steps = {"clue": ("visit", {"visit_note": "村干部入户核实, 情况属实", "consent": "已签署授权承诺"}),
                 "comparing": ("compare", {"comparison": "多部门数据比对一致"})}  # fmt: skip
        for state, (action, fields) in steps.items():
            found = await ctx.http.get_json("/api/v1/cases", {"type": "welfare.relapse", "state": state})
            for case in (found or [])[:20]:
                body = {
                    "version": case["version"],
                    "command_id": f"sim:{case['id']}:{action}",
                    "fields": fields,
                    "note": "模拟: 村干部/社工",
                }
                try:
                    await ctx.http.post(f"/api/v1/cases/{case['id']}/actions/{action}", body)
                except RuntimeError as err:  # moved on meanwhile: the next tick sees where it is
                    log.debug("welfare sim: %s %s: %s", action, case["id"], err)


def simulator(settings: Mapping[str, Any]) -> WelfareSimulator:
    return WelfareSimulator(msgspec.convert(dict(settings), WelfareSimConfig))

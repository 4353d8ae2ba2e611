"""The civic simulator: its pure core is deterministic for a seed, follows a daily rhythm, opens only
valid cases and takes only actions their case types allow (checked with the engine's own
``advance``); against a real platform over HTTP it moves cases through their states to closed,
with callbacks, and the platform never answers 5xx."""

from __future__ import annotations

import asyncio
import re
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import citybrain
from citybrain.api.app import create_app
from citybrain.core.cases.engine import Actor, advance
from citybrain.core.cases.records import Case
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.core.tokens import create_token
from citybrain.geo.regions import NANCHANG
from citybrain.scenes import civic
from citybrain.scenes.civic.casetypes import HOTLINE_KINDS, case_types
from citybrain.scenes.civic.settings import CivicSettings
from citybrain.scenes.civic.sim import (
    BJT,
    ENTERPRISE_PROFILE,
    GRID_PROFILE,
    HOTLINE_PROFILE,
    NANCHANG_BOX,
    Act,
    CivicSimConfig,
    CivicWorld,
    Command,
    Life,
    Open,
    Step,
    rate_per_ms,
    simulator,
)
from citybrain.sim.base import IngestClient, SimContext
from citybrain.testing import free_port, server_ports_env

DAY0 = int(datetime(2026, 12, 7, 0, 0, tzinfo=BJT).timestamp() * 1000)  # a Monday, midnight in Nanchang
TYPES = {ct.name: ct for ct in case_types(CivicSettings())}
ORG = Path(citybrain.__file__).parent / "data" / "identity" / "org.toml"
DEPARTMENTS = {d["id"] for d in tomllib.loads(ORG.read_text())["departments"]}
GRID_CODE = re.compile(r"^(\d{6})(\d{3})(\d{3})(\d{3})$")
PHOTO = re.compile(r"^photo://grid/\d{4}/\d{2}/\d{2}/[0-9a-f]{16}\.jpg$")
ADMIN = Actor("sim", ("admin",))


def play(world: CivicWorld, start: int, end: int, every_ms: int) -> Iterator[tuple[int, Command]]:
    """Run the core from ``start`` to ``end``, every command settled at once as done."""
    for now in range(start, end, every_ms):
        for cmd in world.step(now):
            yield now, cmd
            world.settle(cmd.key, "ok", now)


def test_the_core_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[Command]:
        cfg = CivicSimConfig(seed=seed, speed=100_000)
        return [
            c for _, c in play(CivicWorld(cfg, run="t"), DAY0 + 9 * 3_600_000, DAY0 + 10 * 3_600_000, 5000)
        ]

    first, again, other = run(7), run(7), run(8)
    assert len(first) > 500 and first == again
    assert other != first


def test_arrivals_peak_in_the_day_and_are_few_at_night() -> None:
    for profile in (HOTLINE_PROFILE, GRID_PROFILE, ENTERPRISE_PROFILE):
        at = [rate_per_ms(1000, profile, DAY0 + h * 3_600_000) for h in range(24)]
        assert max(at) == max(at[9:17]) and max(at[0:5]) < 0.25 * max(at)
        assert sum(at) * 3_600_000 == pytest.approx(1000, rel=0.05)  # per_day is what a day brings
    world = CivicWorld(CivicSimConfig(seed=3, scale=0.5), run="t")
    per_hour: Counter[int] = Counter()
    for now, cmd in play(world, DAY0, DAY0 + 86_400_000, 20_000):
        if isinstance(cmd, Open):
            per_hour[datetime.fromtimestamp(now / 1000, BJT).hour] += 1
    day = sum(per_hour[h] for h in (9, 10, 14, 15)) / 4
    night = sum(per_hour[h] for h in (1, 2, 3, 4)) / 4
    assert day > 8 * night > 0
    assert sum(per_hour.values()) == pytest.approx(0.5 * (8000 + 3000 + 24), rel=0.05)


def test_every_case_is_valid_and_every_action_possible() -> None:
    """Three busy hours replayed through the engine's own ``advance``: states, roles' needs and
    choices all as the case types declare them."""
    world = CivicWorld(CivicSimConfig(seed=11, speed=2_000), run="t")
    cal, cases = WorkCalendar(), {}
    seen: Counter[str] = Counter()
    scores: list[int] = []
    for now, cmd in play(world, DAY0 + 9 * 3_600_000, DAY0 + 12 * 3_600_000, 10_000):
        if isinstance(cmd, Open):
            b = cmd.body
            ct = TYPES[b["type"]]
            seen[b["type"]] += 1
            f = b["fields"]
            assert f["description"] and f["address"] and b["title"] and len(b["title"]) <= 200
            code = GRID_CODE.match(b["area"])
            assert code and code.group(1) in NANCHANG and "000" not in code.groups()[1:]
            assert (
                NANCHANG_BOX[0] < b["lon"] < NANCHANG_BOX[2] and NANCHANG_BOX[1] < b["lat"] < NANCHANG_BOX[3]
            )
            if b["type"] == "civic.grid":
                assert b["category"] in CivicSettings().grid_limits and PHOTO.match(f["photos"][0])
            else:
                assert re.match(r"^1[3-9]\d{9}$", f["phone"]) and 2 <= len(f["name"]) <= 3
            if b["type"] == "civic.hotline":
                assert b["category"] in HOTLINE_KINDS
            assert re.match(r"^[A-Za-z0-9._:-]{1,100}$", b["command_id"])
            cases[cmd.key] = Case(cmd.key, ct.name, ct.initial, 1, now, now, b["department"], b["area"],
                                  b["category"], b["title"])  # fmt: skip
        else:
            assert isinstance(cmd, Act) and cmd.note
            case = cases[cmd.key]
            cases[cmd.key] = advance(TYPES[case.type], case, cmd.action, ADMIN, cmd.fields, now, cal)
            seen[cmd.action] += 1
            if "department" in cmd.fields:
                assert cmd.fields["department"] in DEPARTMENTS
            if cmd.action == "callback":
                scores.append(cmd.fields["satisfaction"])
    assert seen["civic.hotline"] > 1000 and seen["civic.grid"] > 300 and seen["civic.enterprise"] >= 1
    for action in ("dispatch", "sign", "return", "ask_info", "info_received", "request_extension",
                   "approve_extension", "reply", "callback", "rework", "file", "verify",
                   "contact"):  # fmt: skip
        assert seen[action] > 0, action
    assert sum(s >= 4 for s in scores) / len(scores) > 0.8 and min(scores) == 1
    states = Counter(c.state for c in cases.values())
    assert states["closed"] > 100 and states["not_filed"] > 0


def test_a_refused_step_skips_what_depended_on_it() -> None:
    world = CivicWorld(CivicSimConfig(speed=60), run="t")
    world.lives["k"] = Life([
        Step(1, "request_extension", {"reason": "x"}, "n"),
        Step(1, "approve_extension", {}, "n", after_previous=True),
        Step(1, "reply", {"reply": "y"}, "n"),
    ])  # fmt: skip
    world.settle("k", "ok", 0)
    assert [c.action for c in world.step(1_000) if isinstance(c, Act)] == ["request_extension"]
    world.settle("k", "skip", 1_000)
    assert [c.action for c in world.step(2_000) if isinstance(c, Act)] == ["reply"]
    world.settle("k", "ok", 2_000)
    assert "k" not in world.lives  # its life is over


def _cases_app(statuses: list[int], tmp_path: Path) -> tuple[Any, Platform]:
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env()})
    platform = Platform(settings, scenes={**discover(), "civic": civic.scene})
    app = create_app(settings, platform=platform)

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        async def send_and_note(message: Any) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            await send(message)

        await app(scope, receive, send_and_note)

    return recorded, platform


def test_a_run_against_the_platform_closes_cases_with_callbacks(tmp_path: Path) -> None:
    statuses: list[int] = []
    app, platform = _cases_app(statuses, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def main() -> tuple[list[dict[str, Any]], dict[str, Any], Any]:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        token = create_token(platform.store, "civic-sim", ["admin"])[1]
        now = time.time_ns() // 1_000_000  # arrivals per second whatever the hour it is
        per_second = {"hotline": 1.5, "grid": 0.8, "enterprise": 0.3}
        profiles = {"hotline": HOTLINE_PROFILE, "grid": GRID_PROFILE, "enterprise": ENTERPRISE_PROFILE}
        days = {f"{k}_per_day": per_second[k] / max(rate_per_ms(1, p, now), 1e-12) / 1000
                for k, p in profiles.items()}  # fmt: skip
        sim = simulator({"seed": 5, "speed": 1_000_000, "tick_s": 0.05, **days})
        ctx = SimContext(IngestClient(url, token), "127.0.0.1")
        stop = asyncio.Event()
        running = asyncio.create_task(sim.run(ctx, stop))
        await asyncio.sleep(8)
        stop.set()
        await running
        await ctx.http.aclose()
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
            found = (await c.get("/api/v1/cases", params={"scene": "civic", "limit": 1000})).json()
            closed = [x for x in found if x["type"] == "civic.hotline" and x["state"] == "closed"]
            one = (await c.get(f"/api/v1/cases/{closed[0]['id']}")).json() if closed else {}
        server.should_exit = True
        await serving
        return found, one, sim

    found, one, sim = asyncio.run(main())
    assert not [s for s in statuses if s >= 500]
    assert len(found) >= 5
    assert Counter(c["state"] for c in found)["closed"] >= 1
    closed = [c for c in found if c["state"] == "closed" and c["type"] == "civic.hotline"]
    assert closed and all(1 <= c["fields"]["satisfaction"] <= 5 for c in closed)
    actions = [e["action"] for e in one["timeline"]]
    assert actions[0] == "open" and "dispatch" in actions and "sign" in actions and actions[-1] == "callback"
    assert all(e["note"] for e in one["timeline"][1:])  # who acted, in words
    passed = {e["to_state"] for e in one["timeline"]}
    assert {"registered", "dispatched", "handling", "replied", "closed"} <= passed
    assert sim.statuses[201] >= 5 and sim.actions["callback"] >= 1

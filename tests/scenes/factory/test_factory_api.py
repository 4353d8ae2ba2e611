"""The factory API: plant model read and edit (persisted), machines, OEE history and live,
output, genealogy, district view, the report section; token and size checked before a body is
read; finished replay sessions bounded and expired."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.errors import NotFoundError
from citybrain.core.tokens import create_token
from citybrain.scenes.factory import report
from citybrain.scenes.factory.events import FactoryTags, FactoryTrace, MaterialInput
from citybrain.scenes.factory.replay import Replayer, publisher
from tests.scenes.factory.factory_testkit import (
    D0,
    H,
    M,
    factory_platform,
    factory_settings,
    small_site,
    write_plants,
)

BASE = "/api/v1/scenes/factory"


def test_api(tmp_path: Path) -> None:
    s = factory_settings(tmp_path, write_plants(tmp_path, small_site()), ingest={"enabled": False})
    p = factory_platform(s)
    read = {"Authorization": f"Bearer {create_token(p.store, 'r', ['read'])[1]}"}
    admin = {"Authorization": f"Bearer {create_token(p.store, 'a', ['admin'])[1]}"}
    p.publish(
        [
            FactoryTags(
                key="t1/a", ts=D0, source="t", values={"good": 0.0, "reject": 0.0, "state": "running"}
            ),
            FactoryTags(key="t1/a", ts=D0 + H, source="t", values={"good": 3000.0, "reject": 60.0}),
            FactoryTags(key="t1/c", ts=D0, source="spb:g/n1/c", values={"Good": 0.0, "State": "running"}),
            FactoryTags(key="t1/c", ts=D0 + H, source="spb:g/n1/c", values={"Good": 1800.0}),
            FactoryTrace(key="KB-1", ts=D0 + M, source="t", machine="a", inputs=[MaterialInput(lot="YL-1")]),
        ]
    )
    p.pipeline.drain()
    with TestClient(create_app(s, platform=p)) as c:
        assert c.get(f"{BASE}/plants").status_code == 401
        assert [x["id"] for x in c.get(f"{BASE}/plants", headers=read).json()] == ["t1"]
        rows = c.get(f"{BASE}/oee/t1", params={"start": D0, "end": D0 + 8 * H}, headers=read).json()
        line = next(r for r in rows if r["level"] == "line")
        assert line["period"] == "2026-07-06/A" and line["produced"] == 4860
        # a: 3060 pieces at 1 s + c: 1800 at 1 s over 2 x 3600 s running: OEE = (3000 + 1800) / 7200
        assert abs(line["oee"] - 4800 / 7200) < 1e-9
        day = c.get(
            f"{BASE}/oee/t1", params={"start": D0, "end": D0 + 8 * H, "by": "day"}, headers=read
        ).json()
        assert day[0]["period"] == "2026-07-06" and day[0]["level"] == "site"
        live = c.get(f"{BASE}/oee/t1/live", headers=read).json()
        assert live["lines"]["L"]["produced"] == 4860
        out = c.get(f"{BASE}/output/t1/L", params={"start": D0, "end": D0 + 8 * H}, headers=read).json()
        assert out["hours"][0]["good"] == 1800 and out["machines"][0]["first_pass_yield"] == 3000 / 3060
        assert c.get(f"{BASE}/genealogy/KB-1/backward", headers=read).json()["lots"] == ["YL-1"]
        assert c.get(f"{BASE}/genealogy/YL-1/forward", headers=read).json()["units"] == ["KB-1"]
        assert c.get(f"{BASE}/genealogy/none/backward", headers=read).status_code == 404
        dist = c.get(f"{BASE}/district", headers=read).json()
        assert dist["plants"][0]["site"] == "t1" and dist["target_share"] == 0.55
        assert [m["key"] for m in c.get(f"{BASE}/machines", headers=read).json()] == ["t1/a", "t1/c"]
        # edit the plant model: validated, applied at once, saved for the next start
        spec = c.get(f"{BASE}/plants/t1", headers=read).json()
        spec["workshops"][0]["lines"][0]["machines"][0]["ideal_cycle_s"] = 0.5
        assert c.put(f"{BASE}/plants/t1", json=spec, headers=read).status_code == 403
        assert c.put(f"{BASE}/plants/t1", json=spec, headers=admin).status_code == 200
        spec["workshops"][0]["lines"][0]["machines"][0]["ideal_cycle_s"] = -1
        assert c.put(f"{BASE}/plants/t1", json=spec, headers=admin).status_code == 400
        assert p.runtime("factory").world.book.machine("t1/a").machine.ideal_cycle_s == 0.5
        saved = msgspec.json.decode((tmp_path / "var" / "factory" / "plants.json").read_bytes())
        assert saved["t1"]["workshops"][0]["lines"][0]["machines"][0]["ideal_cycle_s"] == 0.5
        section = report.report(p.runtime("factory"), D0, D0 + 8 * H)
        assert section["rows"][0]["output"] == 1800 and section["figures"]["plants_reporting"] == 1


def test_plant_edit_checks_the_token_and_bounds_the_body(tmp_path: Path) -> None:
    s = factory_settings(tmp_path, write_plants(tmp_path, small_site()), ingest={"enabled": False})
    p = factory_platform(s)
    admin = {"Authorization": f"Bearer {create_token(p.store, 'a', ['admin'])[1]}"}
    read = {"Authorization": f"Bearer {create_token(p.store, 'r', ['read'])[1]}"}
    huge = b'{"id": "t1", "pad": "' + b"x" * (2 << 20) + b'"}'
    with TestClient(create_app(s, platform=p)) as c:
        assert c.put(f"{BASE}/plants/t1", content=huge).status_code == 401
        assert c.put(f"{BASE}/plants/t1", content=huge, headers=read).status_code == 403
        big = c.put(f"{BASE}/plants/t1", content=huge, headers={**admin, "Content-Type": "application/json"})
        assert big.status_code == 413 and "server.max_body_bytes=1048576" in big.json()["message"]
        assert c.post(f"{BASE}/replay", json={"site": "t1", "line": "L", "start": D0}).status_code == 401
        unknown = c.post(f"{BASE}/replay", json={"site": "t1", "line": "nope", "start": D0}, headers=read)
        assert unknown.status_code == 404 and "t1/nope" in unknown.json()["message"]


def test_finished_replays_are_bounded_and_expire(tmp_path: Path) -> None:
    s = factory_settings(tmp_path, write_plants(tmp_path, small_site()), ingest={"enabled": False})
    p = factory_platform(s)
    book = p.runtime("factory").world.book

    async def finish_all(r: Replayer, n: int) -> list[str]:
        ids = []
        for _ in range(n):  # an empty stretch of the line: each replay is done at once
            ids.append(r.start("t1", "L", D0 - 100 * H, minutes=1, speed=60).id)
            while ids[-1] in r.sessions and r.sessions[ids[-1]].status in ("loading", "playing"):
                await asyncio.sleep(0.01)
        return ids

    async def main() -> None:
        p.hub.bind(asyncio.get_running_loop())
        kept = Replayer(p.store, publisher(p.runtime("factory")), book, keep_finished=3)
        ids = await finish_all(kept, 20)  # before: all 20 kept for ever
        assert sorted(kept.sessions) == sorted(ids[-3:])
        assert kept.get(ids[-1]).status == "done"
        with pytest.raises(NotFoundError):
            kept.get(ids[0])
        expiring = Replayer(p.store, publisher(p.runtime("factory")), book, finished_ttl_s=0.0)
        [rid] = await finish_all(expiring, 1)
        with pytest.raises(NotFoundError):
            expiring.get(rid)
        # a replay whose load fails (its plant removed meanwhile) ends as failed, never "loading"
        # for ever: before, nine such failures left every later replay refused as "8 are running"
        failing = Replayer(p.store, publisher(p.runtime("factory")), book)
        for _ in range(9):
            sid = failing.start("t1", "L", D0, minutes=1, speed=60).id
            book.delete_site("t1")  # before the session's task first runs
            while failing.sessions[sid].status == "loading":
                await asyncio.sleep(0.01)
            assert failing.sessions[sid].status == "failed"
            assert "not in the plant model" in failing.sessions[sid].error
            book.put_site(small_site())

    try:
        asyncio.run(main())
    finally:
        p.stop()

"""The factory API: plant model read and edit (persisted), machines, OEE history and live,
output, genealogy, district view, and the report section."""

from __future__ import annotations

from pathlib import Path

import msgspec
from factory_testkit import D0, H, M, factory_platform, factory_settings, small_site, write_plants
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.tokens import create_token
from citybrain.scenes.factory import report
from citybrain.scenes.factory.events import FactoryTags, FactoryTrace, MaterialInput
from citybrain.scenes.factory.plant import book_for

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
        assert book_for(s.scenes["factory"]).machine("t1/a").machine.ideal_cycle_s == 0.5  # type: ignore[union-attr]
        saved = msgspec.json.decode((tmp_path / "var" / "factory" / "plants.json").read_bytes())
        assert saved["t1"]["workshops"][0]["lines"][0]["machines"][0]["ideal_cycle_s"] == 0.5
        section = report.report(p.store, book_for(s.scenes["factory"]), D0, D0 + 8 * H)
        assert section["rows"][0]["output"] == 1800 and section["figures"]["plants_reporting"] == 1

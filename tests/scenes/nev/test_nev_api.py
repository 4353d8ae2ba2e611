"""The NEV API through FastAPI's TestClient, on events processed by the real pipeline."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token
from citybrain.scenes.nev.events import NevLogin
from tests.scenes.nev.nev_testkit import T0, nev_platform, report

BASE = "/api/v1/scenes/nev"
SEDAN, BUS, VAN = "LCBEV1A0100000000", "LCBBS3A0100000002", "LCBLG4B0100000003"


class Client:
    def __init__(self, client: TestClient, platform: Platform) -> None:
        self.client, self.platform = client, platform
        self.headers = {"Authorization": f"Bearer {create_token(platform.store, 'reader', ['read'])[1]}"}

    def get(self, path: str, **params: str | int | float) -> Any:  # the decoded JSON (or the text)
        r = self.client.get(BASE + path, params=params, headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json() if r.headers["content-type"].startswith("application/json") else r.text


@pytest.fixture
def nev(tmp_path: Path) -> Iterator[Client]:
    p = nev_platform(tmp_path)
    app = create_app(p.settings, platform=p)
    with TestClient(app) as client:
        events: list[Event] = [
            NevLogin(key=v, ts=T0, edition="2016", serial=1, ingest_ts=T0) for v in (SEDAN, BUS, VAN)
        ]
        # the sedan drives for an hour, one report every 10 s
        events += [report(SEDAN, T0 + i * 10_000, speed_kmh=float(i % 60), soc_pct=80 - i / 36,
                          odometer_km=1000 + i * 0.1, lon=115.9 + i * 1e-4) for i in range(360)]  # fmt: skip
        events.append(report(BUS, T0 + 5_000, charging_state=1, vehicle_state=2, speed_kmh=0.0, alarm_level=3,
                             alarms=["insulation"], alarm_flags=1 << 11))  # fmt: skip
        events.append(report(VAN, T0 + 5_000, lon=121.47, lat=31.23, insulation_kohm=20.0))
        events.append(report(VAN, T0 + 35_000, lon=121.47, lat=31.23, insulation_kohm=20.0))
        p.publish(events)
        p.pipeline.drain()
        yield Client(client, p)


def test_vehicle_list_with_filters(nev: Client) -> None:
    all_ = nev.get("/vehicles")
    assert all_["total"] == 3 and all_["items"][0]["vin"] == BUS  # most severe alarm first
    assert [v["vin"] for v in nev.get("/vehicles", mode="charging")["items"]] == [BUS]
    assert [v["vin"] for v in nev.get("/vehicles", model="LCBEV1")["items"]] == [SEDAN]
    assert [v["vin"] for v in nev.get("/vehicles", region="other")["items"]] == [VAN]
    assert [v["vin"] for v in nev.get("/vehicles", min_alarm_level=3)["items"]] == [BUS]
    assert nev.get("/vehicles", q="bs3")["total"] == 1
    page = nev.get("/vehicles", limit=1, offset=1)
    assert page["total"] == 3 and len(page["items"]) == 1
    assert nev.get("/vehicles", status="offline")["total"] == 0


def test_vehicle_detail(nev: Client) -> None:
    d = nev.get(f"/vehicles/{SEDAN}")
    assert d["driving"]["speed_kmh"] == 359 % 60 and d["driving"]["odometer_km"] == pytest.approx(1035.9)
    assert d["battery"]["soc_pct"] == pytest.approx(80 - 359 / 36) and d["mode"] == "driving"
    assert d["model_name"]["en"] == "City sedan E1" and d["alarm"]["level"] == 0
    bus = nev.get(f"/vehicles/{BUS}")
    assert bus["alarm"]["words"]["zh-CN"] == ["绝缘报警"] and bus["alarm"]["level"] == 3
    assert [a["rule"] for a in bus["alerts"]] == ["nev.vehicle_alarm"]
    r = nev.client.get(f"{BASE}/vehicles/NOSUCHVIN", headers=nev.headers)
    assert r.status_code == 404


def test_history_raw_downsampled_and_csv(nev: Client) -> None:
    h = nev.get(f"/vehicles/{SEDAN}/history", start=T0, end=T0 + 3_600_000, signals="speed,soc,lon,lat")
    assert not h["downsampled"] and len(h["signals"]["speed"]["points"]) == 360
    assert len(h["track"]) == 360 and h["track"][1] == [T0 + 10_000, pytest.approx(115.9001), 28.68]
    d = nev.get(f"/vehicles/{SEDAN}/history", start=T0, end=T0 + 3_600_000, signals="speed", max_points=60)
    pts = d["signals"]["speed"]["points"]
    assert d["downsampled"] and d["bucket_ms"] == 60_000 and len(pts) == 60
    assert pts[0][1] == pytest.approx(sum(range(6)) / 6)  # mean speed of the first minute
    text = nev.get(f"/vehicles/{SEDAN}/history", start=T0, end=T0 + 60_000, signals="speed,soc", format="csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert (
        rows[0] == ["ts_ms", "speed_km/h", "soc_%"]
        and len(rows) == 7
        and rows[2][:2] == [str(T0 + 10_000), "1"]
    )
    bad = nev.client.get(f"{BASE}/vehicles/{SEDAN}/history", params={"signals": "warp"}, headers=nev.headers)
    assert bad.status_code == 422 and "warp" in bad.text


def test_fleet_summary_by_model_and_region(nev: Client) -> None:
    s = nev.get("/summary")
    assert (s["total"], s["online"], s["driving"], s["charging"], s["in_alarm"]) == (3, 3, 2, 1, 1)
    by_model = {r["model"]: r for r in s["by_model"]}
    assert by_model["LCBBS3"]["charging"] == 1 and by_model["LCBBS3"]["level_3"] == 1
    by_region = {r["region"]: r for r in s["by_region"]}
    assert by_region["360100"]["total"] == 2 and by_region["other"]["name"]["en"] == "elsewhere"
    assert s["open_alerts"] == 2


def test_alarms_and_rules(nev: Client) -> None:
    alarms = nev.get("/alarms", status="open")
    assert sorted(a["rule"] for a in alarms) == ["nev.low_insulation", "nev.vehicle_alarm"]
    assert [a["key"] for a in nev.get("/alarms", rule="nev.low_insulation")] == [VAN]
    assert nev.get("/alarms", severity="critical")[0]["key"] == VAN
    rules = nev.get("/rules")
    names = [r["name"] for r in rules["rules"]]
    assert names[0] == "nev.vehicle_alarm" and "nev.soc_jump" in names
    assert rules["thresholds"]["temp_rise_c"] == 5.0 and all(r["doc"] for r in rules["rules"])


def test_reading_needs_a_token(nev: Client) -> None:
    assert nev.client.get(f"{BASE}/vehicles").status_code == 401

"""The traffic API through FastAPI's TestClient on a real platform: the probe feed with datum
conversion, segment GeoJSON with filters, hotspots, series, peak hours and top roads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token
from citybrain.scenes.traffic.events import TrafficPosition
from tests.scenes.traffic.traffic_testkit import MIN, T_PEAK, network, stored, traffic_platform, traversal

BASE = "/api/v1/scenes/traffic"
# The reference point of the datum tests (tests/geo/test_geo_datum.py): WGS-84 (116.404, 39.915)
WGS = (116.404, 39.915)
GCJ = (116.41024449916938, 39.91640428150164)
BD = (116.41662724378733, 39.922699552216216)


class Api:
    def __init__(self, client: TestClient, platform: Platform) -> None:
        self.c, self.p = client, platform
        self.read = {"Authorization": f"Bearer {create_token(platform.store, 'r', ['read'])[1]}"}
        self.ingest = {"Authorization": f"Bearer {create_token(platform.store, 'i', ['ingest'])[1]}"}

    def get(self, path: str, **params: Any) -> Any:
        r = self.c.get(BASE + path, params=params, headers=self.read)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    p = traffic_platform(tmp_path)
    app = create_app(p.settings, platform=p)
    with TestClient(app) as client:
        yield Api(client, p)


def probe(datum: str, lon: float, lat: float, **kw: Any) -> dict[str, Any]:
    return {
        "source": "didi",
        "source_type": "ride-hail",
        "datum": datum,
        "positions": [{"vehicle": "car-7", "ts": T_PEAK, "lon": lon, "lat": lat, "speed_kmh": 22.5, **kw}],
    }


@pytest.mark.parametrize(
    ("datum", "point", "tol"), [("GCJ-02", GCJ, 1e-6), ("BD-09", BD, 2e-6), ("WGS-84", WGS, 0)]
)
def test_probe_feed_converts_to_wgs84_before_storing(
    api: Api, datum: str, point: tuple[float, float], tol: float
) -> None:
    r = api.c.post(f"{BASE}/probes", json=probe(datum, *point), headers=api.ingest)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "datum_in": datum, "datum": "WGS-84"}
    [ev] = stored(api.p, TrafficPosition)  # durable before the 200
    assert isinstance(ev, TrafficPosition)
    assert ev.lon == pytest.approx(WGS[0], abs=tol) and ev.lat == pytest.approx(WGS[1], abs=tol)
    assert (ev.key, ev.source, ev.vehicle_type, ev.datum_in) == (
        "didi:car-7",
        "probe:didi",
        "ride-hail",
        datum,
    )


def test_probe_feed_refuses_bad_batches_naming_each_position(api: Api) -> None:
    body = probe("GCJ-02", *GCJ)
    body["positions"] += [
        {"vehicle": "x", "ts": 5, "lon": 1, "lat": 2},
        {"vehicle": "y", "ts": T_PEAK, "lon": 300, "lat": 2},
    ]
    r = api.c.post(f"{BASE}/probes", json=body, headers=api.ingest)
    assert r.status_code == 422
    text = r.text
    assert "positions[1].ts" in text and "positions[2].lon" in text
    assert stored(api.p, TrafficPosition) == []
    r = api.c.post(f"{BASE}/probes", json={**probe("GCJ-02", *GCJ), "datum": "ETRS89"}, headers=api.ingest)
    assert r.status_code == 422 and "datum" in r.text
    assert api.c.post(f"{BASE}/probes", json=probe("GCJ-02", *GCJ), headers=api.read).status_code == 403
    assert api.c.get(f"{BASE}/segments").status_code == 401


def load_congestion(api: Api) -> None:
    """Three minutes of traversals on every segment of the Sveavägen hotspot: 12 km/h (congested
    against the limit), plus one minute later to close them; processed by the real pipeline."""
    tn = network()
    segs = tn.areas["hotspot:sveavagen"].segments
    events: list[Event] = []
    for m in range(3):
        for s in segs:
            length = tn.segments[s].length_m
            for i in range(3):
                events.append(
                    traversal(s, T_PEAK + m * MIN + 10_000 + i * 1000, length, length / (12 / 3.6), f"v{i}")
                )
    events.append(traversal(1, T_PEAK + 8 * MIN, 150.0, 10.0, "late"))
    api.p.publish(events)
    for _ in range(6):  # stage 1 -> 2 -> 3: derived events need further rounds
        api.p.pipeline.drain(60)


def test_segments_geojson_with_filters(api: Api) -> None:
    load_congestion(api)
    fc = api.get("/segments")
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(network().segments)
    jammed = (
        api.get("/segments", level="severe")["features"] + api.get("/segments", level="congested")["features"]
    )
    assert jammed and all(f["properties"]["name"] == "Sveavägen" for f in jammed)
    f = jammed[0]
    assert f["geometry"]["type"] == "LineString" and f["properties"]["speed_kmh"] == pytest.approx(
        12.0, abs=0.05
    )
    assert f["properties"]["freeflow_source"] in ("speed_limit", "road_class")
    assert all(
        x["properties"]["road_class"] == "secondary"
        for x in api.get("/segments", road_class="secondary")["features"]
    )
    box = api.get("/segments", bbox="18.0296,59.3348,18.0400,59.3400")["features"]
    assert 0 < len(box) < len(fc["features"])
    assert api.c.get(f"{BASE}/segments", params={"bbox": "1,2,3"}, headers=api.read).status_code == 400
    one = api.get(f"/segments/{f['properties']['key']}")
    assert "hotspot:sveavagen" in one["areas"] and one["state"]["level"] == f["properties"]["level"]


def test_hotspots_series_peak_hours_and_top_roads(api: Api) -> None:
    load_congestion(api)
    hs = {h["id"]: h for h in api.get("/hotspots")}
    assert len(hs) == 7 and hs["sveavagen"]["level"] in ("congested", "severe")
    assert hs["odengatan"]["level"] == "no_data"
    detail = api.get("/hotspots/sveavagen", minutes=100_000_000)
    assert detail["name"]["zh-CN"] == "斯维亚大道走廊" and detail["segment_states"]
    series = api.get("/series", scope="hotspot", id="sveavagen", start=T_PEAK - MIN, end=T_PEAK + 10 * MIN)
    assert [t for t, _ in series["index"]] == [T_PEAK, T_PEAK + MIN, T_PEAK + 2 * MIN]
    city = api.get("/series", scope="city", start=T_PEAK - MIN, end=T_PEAK + 10 * MIN)
    assert city["index"] and city["index"][0][1] > 2.0
    day = "2026-07-02"  # T_PEAK is 08:00 China time that day
    peaks = api.get("/peak-hours", day=day)
    row = next(r for r in peaks["areas"] if r["key"] == "hotspot:sveavagen")
    assert row["am_peak"]["mean_index"] > 2.0 and row["pm_peak"]["mean_index"] is None
    top = api.get("/top-roads", day=day, period="am_peak")
    assert top["roads"][0]["road"] == "Sveavägen" and top["roads"][0]["mean_index"] > 2.0
    summary = api.get("/summary")
    assert summary["hotspots"] == 7 and summary["segments_by_level"]["no_data"] < summary["segments"]
    assert api.c.get(f"{BASE}/hotspots/nowhere", headers=api.read).status_code == 404
    districts = api.get("/areas", kind="district")
    assert {d["id"] for d in districts} == {"vasastan", "ostermalm", "norrmalm"}


def test_probe_feed_goes_through_the_one_ingest_gate(api: Api) -> None:
    """Regression: with ingest.max_body_bytes=2000 a 13,970-byte probe batch got 200 while
    /api/v1/events said 413; gzip and the event count are the gate's too."""
    import gzip
    import json

    big = probe("WGS-84", *WGS)
    big["positions"] = big["positions"] * 150
    raw = json.dumps(big).encode()
    assert len(raw) > 13_000
    api.p.settings.ingest.max_body_bytes = 2_000
    r = api.c.post(f"{BASE}/probes", content=raw, headers={**api.ingest, "Content-Type": "application/json"})
    assert r.status_code == 413 and "ingest.max_body_bytes=2000" in r.text
    api.p.settings.ingest.max_body_bytes = 64 << 20
    api.p.settings.ingest.max_events = 100
    r = api.c.post(f"{BASE}/probes", content=raw, headers={**api.ingest, "Content-Type": "application/json"})
    assert r.status_code == 413 and "ingest.max_events=100" in r.text
    small = json.dumps(probe("WGS-84", *WGS)).encode()
    zipped = {**api.ingest, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = api.c.post(f"{BASE}/probes", content=gzip.compress(small), headers=zipped)
    assert r.status_code == 200 and r.json()["accepted"] == 1

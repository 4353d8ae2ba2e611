"""The 平安指数 as a scene, on a real DuckDB store behind the real app: the departments' monthly
statistics pushed through the aggregation API (the simulator's backfill, over the app), each month
computed and stored as the month's state, month-on-month changes read from the stored month before,
a closed month not recomputed unless forced, the API's answers (index, history, district,
robustness), the schedule's round, and the report section with its narrative."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.config import Settings, load_settings
from citybrain.core.platform import Platform
from citybrain.core.reports import adapt, monthly
from citybrain.core.reports.model import Chart, Figure, Table, Text
from citybrain.core.scenes import discover
from citybrain.scenes.safety import sim
from citybrain.scenes.safety.gateway import Scheduler
from citybrain.scenes.safety.index import Safety, datasets, month_of, month_range, shift, units_of
from citybrain.scenes.safety.report import report
from citybrain.sdk import now_ms
from tests.support.api import Api

BASE = "/api/v1/scenes/safety"
NOW = now_ms()
THIS = month_of(NOW)
M1, M2, M3 = shift(THIS, -3), shift(THIS, -2), shift(THIS, -1)


class Http:
    """The simulator's HTTP client (sim.base.IngestClient's calls) over the test app."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.h = {"Authorization": f"Bearer {self.api.tokens['ingest']}"}

    async def post_bytes(self, path: str, body: bytes, content_type: str) -> Any:
        r = self.api.client.post(path, content=body, headers={**self.h, "Content-Type": content_type})
        assert r.status_code < 300, r.text
        return r

    async def post(self, path: str, payload: Any) -> Any:
        r = self.api.client.post(path, json=payload, headers=self.api.h("operate"))
        assert r.status_code < 300, r.text
        return r


def _safety_platform(tmp: Path, runs: int) -> tuple[Settings, Platform]:
    """A platform with the safety scene alone, its schedule off (tests run its rounds)."""
    settings = load_settings(
        env={
            "CITYBRAIN_DATA_DIR": str(tmp / "var"),
            "CITYBRAIN_SCENES__SAFETY__RECOMPUTE_EVERY_MIN": "0",
            "CITYBRAIN_SCENES__SAFETY__ROBUSTNESS_RUNS": str(runs),
        }
    )
    return settings, Platform(settings, scenes=discover({"safety"}))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings, platform = _safety_platform(tmp_path_factory.mktemp("safety"), runs=200)
    with TestClient(create_app(settings, platform)) as client:
        a = Api(client, platform)
        answers = asyncio.run(sim.backfill(Http(a), platform.runtime("safety").settings, 3, 7, NOW))
        assert [x["month"] for x in answers] == [M1, M2, M3, THIS]
        platform.pipeline.drain()
        yield a


def _get(api: Api, path: str, **params: Any) -> Any:
    r = api.client.get(f"{BASE}{path}", params=params, headers=api.h("read"))
    assert r.status_code == 200, r.text
    return r.json()


def test_backfill_delivers_and_computes_every_month_and_stores_it(api: Api) -> None:
    runs = api.client.get(
        "/api/v1/aggregation/runs", params={"dataset": "police.district_monthly"}, headers=api.h("read")
    ).json()
    assert sum(r["status"] == "done" for r in runs) == 4  # three closed months and the running one
    stored = {s["key"]: s["data"] for s in api.platform.store.states("safety")}
    assert sorted(stored) == [M1, M2, M3, THIS]
    assert all(not s["error"] for s in stored.values())
    assert [stored[m]["final"] for m in (M1, M2, M3, THIS)] == [True, True, True, False]
    assert all(len(s["result"]["units"]) == 9 for s in stored.values())
    # the road-network metric is never written here: left out, named, not imputed from nothing
    assert stored[M1]["excluded"] == ["traffic_delay"]


def test_month_on_month_changes_come_from_the_stored_month_before(api: Api) -> None:
    stored = {s["key"]: s["data"]["result"]["units"] for s in api.platform.store.states("safety")}
    index = _get(api, "/index", month=M3)
    assert len(index["districts"]) == 9 and [d["rank"] for d in index["districts"]] == sorted(
        d["rank"] for d in index["districts"]
    )
    for d in index["districts"]:
        assert d["mom"] == pytest.approx(stored[M3][d["code"]]["score"] - stored[M2][d["code"]]["score"])
        assert d["rank_change"] == stored[M2][d["code"]]["rank"] - stored[M3][d["code"]]["rank"]
        assert d["yoy"] is None  # no month a year before
        assert 60 <= d["score"] <= 100 and d["colour"] in {"green", "blue", "orange", "red"}
        assert d["rank_low"] <= d["rank"] <= d["rank_high"]
    first = _get(api, "/index", month=M1)
    assert all(d["mom"] is None for d in first["districts"])  # nothing stored before the first month
    assert first["mean"] == pytest.approx(sum(d["score"] for d in first["districts"]) / 9)


def test_a_closed_month_is_not_recomputed_unless_forced(api: Api) -> None:
    before = _get(api, "/index", month=M2)["computed_ms"]
    r = api.client.post(f"{BASE}/recompute", params={"month": M2}, headers=api.h("operate"))
    assert r.status_code == 200 and r.json()["computed_ms"] == before
    forced = api.client.post(
        f"{BASE}/recompute", params={"month": M2, "force": "true"}, headers=api.h("operate")
    )
    assert forced.json()["computed_ms"] > before
    assert [d["score"] for d in forced.json()["districts"]] == [
        d["score"] for d in _get(api, "/index", month=M2)["districts"]
    ]
    refused = api.client.post(f"{BASE}/recompute", params={"month": M2}, headers=api.h("read"))
    assert refused.status_code == 403


def test_history_district_and_robustness_answers(api: Api) -> None:
    hist = _get(api, "/history", month=M3, months=4)
    assert hist["months"] == [shift(M1, -1), M1, M2, M3]
    assert hist["mean"][0] is None and all(v is not None for v in hist["mean"][1:])
    assert len(hist["districts"]) == 9 and all(len(d["points"]) == 4 for d in hist["districts"])
    d = _get(api, "/districts/360102", month=M3)
    assert d["name"] == "东湖区" and len(d["dimensions"]) == 6 and len(d["indicators"]) == 19
    assert [i["id"] for i in d["indicators"] if i["excluded"]] == ["traffic_delay"]
    assert sum(x["contribution"] for x in d["dimensions"]) == pytest.approx(d["score"])
    assert [p["month"] for p in d["trend"]][-1] == M3
    rob = _get(api, "/robustness", month=M3)
    assert rob["runs"] == 200 and len(rob["districts"]) == 9 and rob["influence"]
    assert rob["influence"][0]["mean_shift"] >= rob["influence"][-1]["mean_shift"]
    missing = api.client.get(f"{BASE}/districts/999999", headers=api.h("read"))
    assert missing.status_code == 404
    bad = api.client.get(f"{BASE}/index", params={"month": "1999-01"}, headers=api.h("read"))
    assert bad.status_code == 422


def test_the_report_section_states_the_numbers(api: Api) -> None:
    rt = api.platform.runtime("safety")
    start, end = month_range(M3)
    raw = report(rt, start, end)
    section = adapt.section("safety", raw)
    index = _get(api, "/index", month=M3)
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert figures[0].value == pytest.approx(round(index["mean"], 2))
    assert figures[0].change == pytest.approx(round(index["mean_mom"], 2))
    assert sum(f.value or 0 for f in figures[1:]) == 9  # districts by band
    text = " ".join(b.words.zh for b in section.blocks if isinstance(b, Text))
    best, worst = index["districts"][0], index["districts"][-1]
    assert f"最高为{best['name']}（{best['score']:.1f}" in text and f"最低为{worst['name']}" in text
    # an indicator left out is named by its name, never its id
    assert (
        "蒙特卡洛" in text
        and "未计入的指标：道路交通拥堵指数（月均）" in text
        and "traffic_delay" not in text
    )
    ranking = next(b for b in section.blocks if isinstance(b, Table))
    assert [r[0] for r in ranking.rows] == [d["rank"] for d in index["districts"]]
    assert any(isinstance(b, Chart) and b.kind == "line" for b in section.blocks)
    whole = monthly.build(M3, {"civic": {"title": "x", "rows": []}, "safety": raw}, None, now_ms())
    assert whole.title.zh == "平安报告" and whole.sections[0].key == "safety"


def test_the_schedule_finalises_the_month_just_closed_and_recomputes_the_running_one(api: Api) -> None:
    rt = api.platform.runtime("safety")
    w: Safety = rt.world
    before = {m: w.lookup(rt.store, m) for m in (M3, THIS)}
    assert api.client.portal is not None  # the app's event loop: where the scene's runtime submits
    done = api.client.portal.call(Scheduler(rt).tick, NOW)
    assert done[M3] == "ok" and done[THIS] == "ok"
    assert M1 not in done and M2 not in done  # computed after they closed, with data: final
    assert all(done[m] != "ok" for m in done if m < M1)  # before the backfill: no data, and said so
    after = {m: w.lookup(rt.store, m) for m in (M3, THIS)}
    assert after[M3] == before[M3]  # closed and final: kept
    was, now = before[THIS], after[THIS]
    assert was is not None and now is not None and now["computed_ms"] > was["computed_ms"]


def test_the_schedule_computes_history_that_came_after_the_month_failed(tmp_path: Path) -> None:
    """A platform whose departments deliver their history after it started (the simulator's
    backfill with a token that may not recompute, a late department): the months that failed for
    want of data are computed by the schedule's next round once data came, and left alone after."""
    settings, platform = _safety_platform(tmp_path, runs=50)
    with TestClient(create_app(settings, platform)) as client:
        a = Api(client, platform)
        rt = platform.runtime("safety")
        w: Safety = rt.world
        assert client.portal is not None
        first = client.portal.call(Scheduler(rt).tick, NOW)
        assert M2 in first and first[M2] != "ok"  # no data yet: the month failed, and says why
        failed = w.lookup(rt.store, M2)
        assert failed is not None and failed["error"]
        cfg = rt.settings
        asyncio.run(sim.deliver(Http(a), datasets(cfg), units_of(cfg), M2, 7))
        platform.pipeline.drain()
        second = client.portal.call(Scheduler(rt).tick, NOW)
        assert second[M2] == "ok"  # its data came after it failed: computed again
        good = w.lookup(rt.store, M2)
        assert good is not None and not good["error"] and good["final"]
        assert M1 in second and second[M1] != "ok"  # still no data, tried again once
        third = client.portal.call(Scheduler(rt).tick, NOW)
        assert M2 not in third and M1 not in third  # final, or failed with no data since: left

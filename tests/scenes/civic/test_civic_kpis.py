"""The civic scene's KPIs over HTTP, on the big screen and in the monthly report: all three read the
one function (core/cases/kpi.py) and agree with it on the hand-computed month of
tests/core/cases/test_kpi.py; the panel is sound (its paths are routes, its fields are answers')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain import sdk
from citybrain.api.app import create_app
from citybrain.core.cases import kpi
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.core.tokens import create_token
from citybrain.scenes.civic import api, panel, report
from citybrain.scenes.civic.casetypes import case_types
from citybrain.scenes.civic.settings import CivicSettings
from citybrain.testing import server_ports_env
from tests.core.cases.casekit import bjt
from tests.core.cases.test_kpi import H, U, build_november

BASE = "/api/v1/scenes/civic"
C6_DUE = bjt(2026, 12, 7, 17, 30)  # the extended deadline of the month's case C6 (build_november)


def overdue_at(now: int) -> int:
    """The month's cases overdue at ``now`` (the API counts against the clock): C8 and C9 always,
    C6 from its extended deadline on."""
    return 2 + (now >= C6_DUE)


def civic_scene() -> sdk.Scene[CivicSettings]:
    """The civic scene with its API, panel and report (as its package will declare them)."""
    return sdk.Scene(
        "civic", title={"zh-CN": "民情与网格", "en": "Civic requests"},
        description={"zh-CN": "诉求与网格", "en": "Civic requests"}, settings=CivicSettings,
        case_types=case_types, router=api.router, panel=panel.PANEL, report=report.report,
    )  # fmt: skip


class Screen:
    def __init__(self, client: TestClient, platform: Platform, scene: sdk.Scene[Any], token: str) -> None:
        self.client, self.platform, self.scene = client, platform, scene
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, status: int = 200, **params: Any) -> Any:
        r = self.client.get(f"{BASE}{path}", params=params, headers=self.headers)
        assert r.status_code == status, r.text
        return r.json()


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[Screen]:
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env()})
    scene = civic_scene()
    platform = Platform(settings, scenes={**discover(), "civic": scene})
    app = create_app(settings, platform=platform)
    with TestClient(app) as client:
        token = create_token(platform.store, "screen", ["read"])[1]
        yield Screen(client, platform, scene, token)


def _table(p: Platform, month: str, by: str, now: int) -> dict[str, Any]:
    e = p.cases
    t = kpi.month_kpis(e.store, e.types, e.calendar, month, by, now=now, scene="civic")  # type: ignore[arg-type]
    return api.kpi_answer(t).model_dump()


def test_the_api_and_the_report_agree_with_the_function(screen: Screen) -> None:
    build_november(screen.platform.store)
    for by in ("department", "district"):
        answer = screen.get("/kpis", month="2026-11", by=by)
        assert answer == _table(screen.platform, "2026-11", by, answer["now"])
    answer = screen.get("/kpis", month="2026-11")
    rows = {r["key"]: r for r in answer["rows"]}
    # the hand-computed figures (tests/core/cases/test_kpi.py), through HTTP
    assert (
        rows[U]["sign_rate"] == 0.6 and rows[U]["on_time_rate"] == 0.6 and rows[U]["satisfaction_rate"] == 0.8
    )
    assert rows[H]["paused"] == 1 and rows[H]["on_time_rate"] == pytest.approx(1 / 3)
    assert rows["nc-12345"]["sign_rate"] is None  # nothing to judge: null, not 0
    late = overdue_at(answer["now"])
    assert answer["overdue_count"] == late and [o["department"] for o in answer["overdue"]] == [H] * late

    section = screen.scene.section(screen.platform, bjt(2026, 11, 1), bjt(2026, 12, 1))
    assert section is not None and section["month"] == "2026-11"
    assert section["rows"] == answer["rows"] and section["total"] == answer["total"]
    assert section["figures"]["on_time_rate"] == answer["total"]["on_time_rate"] == 0.5


def test_the_overview_is_the_months_kpis_and_the_open_cases(screen: Screen) -> None:
    build_november(screen.platform.store)
    o = screen.get("/overview")
    e = screen.platform.cases
    expected = kpi.overview(e.store, e.types, e.calendar, now=o["now"], scene="civic")
    late = overdue_at(o["now"])
    assert (o["open"], o["overdue"]) == (expected.open, expected.overdue) == (4, late)  # C5 C6 C8 C9
    assert o["satisfaction_rate"] == expected.satisfaction_rate and o["month"] == kpi.month_of(o["now"])
    assert o["opened_today"] == o["closed_today"] == 0  # the month was built in November
    grids = {g["area"]: g for g in o["grids"]}
    assert sorted(grids) == ["360102001004", "360102001005", "360103001003", "360103001004"]
    assert sum(g["overdue"] for g in grids.values()) == late
    assert o["departments"] == _table(screen.platform, o["month"], "department", o["now"])["rows"]


def test_a_month_that_is_not_one_is_refused_and_the_panel_is_sound(screen: Screen) -> None:
    assert screen.get("/kpis", 422, month="2026-1")["detail"]  # not the form YYYY-MM
    assert "YYYY-MM" in str(screen.get("/kpis", 422, month="2026-13"))  # the form, but no such month
    assert screen.scene.check() == []
    kinds = [w["kind"] for w in screen.scene.panel["widgets"]]
    assert kinds == ["figures", "figure", "figure", "table", "map"]

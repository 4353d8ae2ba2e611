"""The dashboard with the real scenes (pulse, NEV, traffic and their simulators), not only the
contract fixture: every installed scene's panel is on screen, the header carries the traffic index,
vehicles online and alerts, the map opens on the road network with the NEV fleet on it, and the
labels come from the catalogues."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web import platform_server
from tests.web.browser import Screen, open_screen

SCENES = ("pulse", "nev", "traffic")
# the demo road network's box (citybrain/data/networks/stockholm.geojson), where the NEV simulator drives
LON0, LAT0, LON1, LAT1 = 18.0296, 59.3348, 18.0732, 59.3525


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[platform_server.Running]:
    run = platform_server.start(
        tmp_path_factory.mktemp("web-scenes") / "var",
        scene_settings={"nev": {"gateway": {"port": 0}}, "traffic": {"gateway": {"port": 0}}},
        # a smaller probe fleet than the demo's 820 keeps a 2-core test machine responsive
        simulators={"traffic": {"buses": 20, "taxis": 40, "ride_hail": 30}, "nev": {"interval_s": 2.0}},
        installed=set(SCENES),
    )
    yield run
    run.stop()


@pytest.fixture
def page_of(browser: Any, real: platform_server.Running) -> Iterator[Screen]:
    yield from open_screen(browser, real.url)


def _box(page: Any, selector: str) -> dict[str, float]:
    box: dict[str, float] = page.locator(selector).bounding_box()
    return box


def test_every_real_scene_panel_is_on_screen(page_of: Screen, real: platform_server.Running) -> None:
    page = page_of.page
    page_of.sign_in(real.tokens["read"])
    for scene in SCENES:
        panel = page.locator(f".panel[data-scene={scene}]")
        assert panel.count() == 1, f"no panel for scene {scene}"
        box = panel.bounding_box()
        assert box is not None and box["height"] > 100, f"{scene}'s panel is not visible: {box}"
        assert box["y"] >= 0 and box["y"] + box["height"] <= 1080 + 1, f"{scene}'s panel is off screen: {box}"
        assert panel.locator(".widget").count() >= 3
    # traffic is the headline: its card leads the left column and shows index, levels, hotspots
    # and top roads without scrolling
    traffic = ".panel[data-scene=traffic]"
    assert page.locator(f"{traffic}.lead[data-column=left]").count() == 1
    bottom = _box(page, traffic)["y"] + _box(page, traffic)["height"]
    for kind in ("figures", "share", "table", "bar"):
        w = _box(page, f"{traffic} .widget[data-kind={kind}] >> nth=0")
        assert w["y"] + min(w["height"], 60) <= bottom, (
            f"traffic {kind} widget is not visible without scrolling"
        )
    hotspots = page.locator(f"{traffic} .widget[data-kind=table]").first
    hotspots.locator("tbody tr").first.wait_for(timeout=10_000)
    assert "斯维亚大道走廊" in hotspots.inner_text() and "热点" in hotspots.locator("thead").inner_text()
    assert "畅通" in page.locator(f"{traffic} .share-legend").inner_text()

    # header: city congestion index (its value may still be "no data") with its level, vehicles
    # online, open alerts by severity
    index = page.locator(".headline .fig[data-scene=traffic][data-field=city_index]")
    assert index.count() == 1 and "城市拥堵指数" in index.inner_text()
    level = index.locator(".status-badge")
    page.wait_for_function("el => el.textContent !== ''", arg=level.element_handle(), timeout=10_000)
    assert level.inner_text() in ("畅通", "缓行", "拥堵", "严重拥堵", "无数据")
    online = page.locator(".headline .fig[data-scene=nev][data-field=online] .value")
    page.wait_for_function(
        "el => /^[0-9,]+$/.test(el.textContent)", arg=online.element_handle(), timeout=20_000
    )
    assert page.locator(".headline [data-widget=alert-counts] [data-severity]").count() == 4

    # the map opens on the road network (not on wherever other layers' features are) and the NEV
    # fleet drives on it
    page.wait_for_function("() => window.citybrain.layers.get('traffic.segments').features.size > 100")
    lng, lat = page.evaluate(
        "() => { const c = window.citybrain.getMap().getCenter(); return [c.lng, c.lat]; }"
    )
    assert LON0 < lng < LON1 and LAT0 < lat < LAT1
    fleet = "window.citybrain.layers.get('nev.map1').features"
    page.wait_for_function(f"() => {fleet}.size > 0", timeout=20_000)
    coords = page.evaluate(f"() => [...{fleet}.values()].map(f => f.geometry.coordinates)")
    assert coords and all(LON0 <= x <= LON1 and LAT0 <= y <= LAT1 for x, y in coords)

    # legend labels come from the catalogues, not raw property values
    legend = page.locator("#legend").inner_text()
    assert "alarm_level" not in legend and "无故障" in legend and "路段拥堵" in legend
    path: Path = page_of.shot("10-real-scenes")
    assert path.exists()

    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert "City congestion index" in index.inner_text()
    assert "no fault" in page.locator("#legend").inner_text()
    assert "Traffic" in page.locator(f"{traffic} h2").inner_text()

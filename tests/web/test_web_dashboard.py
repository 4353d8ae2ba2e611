"""The dashboard in a real browser (Debian chromium) against a running platform with simulators."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.browser import Screen
from tests.web.platform_server import Running

LIVE_TEXT = "() => document.querySelector('.panel[data-scene=fleet] table.grid tbody').innerText"


def test_web_loads_with_live_numbers(screen: Screen, running: Running) -> None:
    page = screen.page
    screen.sign_in(running.tokens["read"])
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    assert page.title().startswith("城市大脑")
    # the token stays in this tab's session, out of the URL and of persistent storage
    assert running.tokens["read"] not in page.url
    assert page.evaluate("() => sessionStorage.getItem('citybrain.token')") == running.tokens["read"]
    assert page.evaluate("() => JSON.stringify(localStorage)").find(running.tokens["read"]) < 0
    page.wait_for_function(LIVE_TEXT + ".includes('北京西路')", timeout=15_000)
    first = page.evaluate(LIVE_TEXT)
    page.wait_for_function(f"() => ({LIVE_TEXT})() !== {first!r}", timeout=15_000)
    # headline figures declared by the scene, and pulse's generic widgets
    online = page.locator(".headline .fig", has_text="在线车辆").locator(".value")
    page.wait_for_function("el => el.textContent !== '—'", arg=online.element_handle(), timeout=10_000)
    assert int(online.inner_text().replace(",", "")) > 0
    assert page.locator(".panel[data-scene=pulse] .widget").count() == 3
    # the map holds the scene's layers, fed live
    vehicles = "() => window.citybrain.layers.get('fleet.vehicles').features.size"
    page.wait_for_function(f"() => ({vehicles})() >= 40", timeout=10_000)
    for layer in ("fleet.segments", "fleet.hotspots", "fleet.vehicles"):
        assert page.locator(f"#layers input[data-layer='{layer}']").count() == 1
    assert "畅通" in page.locator("#legend").inner_text()
    screen.shot("01-live-zh")


def test_web_language_switch(screen: Screen, running: Running) -> None:
    page = screen.page
    screen.sign_in(running.tokens["read"])
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator(".brand h1").inner_text() == "City Brain"
    assert "Fleet (contract fixture)" in page.locator(".panel[data-scene=fleet] h2").inner_text()
    assert "Road congestion" in page.locator("#legend").inner_text()
    assert "Alerts" in page.locator("#alerts h2").inner_text()
    assert "," in page.locator("#clock").inner_text() or "AM" not in page.locator("#clock").inner_text()
    screen.shot("02-english")
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert page.locator(".brand h1").inner_text() == "城市大脑"


def _alerts(running: Running, **q: Any) -> list[dict[str, Any]]:
    h = {"Authorization": f"Bearer {running.tokens['read']}"}
    res = httpx.get(f"{running.url}/api/v1/alerts", params=q, headers=h, timeout=10)
    res.raise_for_status()
    out: list[dict[str, Any]] = res.json()
    return out


def test_web_alert_acknowledge_and_resolve(screen: Screen, running: Running) -> None:
    page = screen.page
    screen.sign_in(running.tokens["operate"])
    row = "#alert-list li[data-status=open][data-severity=major]"
    alert_id = screen.acknowledge(row, ("severity", "major"), "已派交警疏导")
    assert "已派交警疏导" in page.locator(f"#alert-list li[data-id='{alert_id}']").inner_text()
    screen.shot("03-alert-acknowledged")
    stored = next(a for a in _alerts(running, scene="fleet") if a["id"] == alert_id)
    assert stored["status"] == "acknowledged" and stored["ack_note"] == "已派交警疏导"
    assert stored["acked_by"].startswith("web-operate")
    row = page.locator(f"#alert-list li[data-id='{alert_id}']")
    row.locator("button[data-action=resolve]").click()
    row.locator("textarea").fill("已恢复通行")
    row.locator("button[data-action=confirm]").click()
    page.locator(f"#alert-list li[data-id='{alert_id}'][data-status=resolved]").wait_for(timeout=10_000)
    stored = next(a for a in _alerts(running, scene="fleet") if a["id"] == alert_id)
    assert stored["status"] == "resolved" and stored["resolve_note"] == "已恢复通行"


def test_web_read_only_token_cannot_operate(screen: Screen, running: Running) -> None:
    page = screen.page
    screen.sign_in(running.tokens["read"])
    page.locator("#alert-list li").first.wait_for(timeout=20_000)
    assert page.locator("#alert-list button[data-action]").count() == 0
    assert page.locator("#alerts .hint").count() == 1


def test_web_drill_down_segment_and_vehicle(screen: Screen, running: Running) -> None:
    page = screen.page
    screen.sign_in(running.tokens["read"])
    page.wait_for_function("() => window.citybrain.layers.get('fleet.segments').features.size === 5")
    # the layer switches: only the roads are clickable for the first drill-down
    page.uncheck("#layers input[data-layer='fleet.vehicles']")
    page.uncheck("#layers input[data-layer='fleet.hotspots']")
    drill = screen.open_drill("fleet.segments", "s3")
    assert "北京西路" in drill.inner_text()
    page.wait_for_function(
        "() => Number(document.querySelector('#drill .history')?.dataset.points) > 0", timeout=10_000
    )
    drill.locator("button[data-range='24h']").first.click()
    page.wait_for_timeout(300)
    screen.shot("04-drill-segment")
    drill.locator("button[data-action=close]").click()
    # a vehicle: its detail, its SOC history and a track replay
    key = "赣A10002"
    page.uncheck("#layers input[data-layer='fleet.segments']")
    page.check("#layers input[data-layer='fleet.vehicles']")
    page.wait_for_timeout(3_000)  # a few seconds of track
    drill = screen.open_drill("fleet.vehicles", key)
    # vehicles on one road can overlap: whichever is on top opens, with its own detail
    assert (drill.get_attribute("data-key") or "").startswith("赣A")
    assert drill.locator("tr[data-field=soc] td").inner_text().endswith("%")
    page.wait_for_function(
        "() => Number(document.querySelector('#drill .track')?.dataset.points) >= 3", timeout=10_000
    )
    drill.locator(".track select").select_option("60")
    drill.locator("button[data-action=play-track]").click()
    page.wait_for_function(
        "() => document.querySelector('#drill .track').dataset.done === '1'", timeout=20_000
    )
    screen.shot("05-drill-vehicle-track")


def test_web_replay(screen: Screen, running: Running) -> None:
    page = screen.page
    screen.sign_in(running.tokens["read"])
    page.click("#mode button[data-mode=replay]")
    assert page.locator("#conn").get_attribute("data-state") == "replay"
    page.select_option("#mode select[data-replay=speed]", "60")
    page.click("#mode button[data-replay=play]")
    page.wait_for_function("() => Number(document.getElementById('clock').dataset.replay) > 0")
    t0 = int(page.locator("#clock").get_attribute("data-replay") or 0)
    page.wait_for_timeout(1_500)
    t1 = int(page.locator("#clock").get_attribute("data-replay") or 0)
    assert 45_000 <= t1 - t0 <= 150_000, f"replay at 60x advanced {t1 - t0} ms in 1.5 s"
    assert "回放" in page.locator("#clock").inner_text()
    assert page.locator(".panel[data-scene=pulse] .widget.figure.dim").count() == 1  # live-only figure
    screen.shot("06-replay")
    page.click("#mode button[data-mode=live]")
    page.wait_for_function("() => document.getElementById('conn').dataset.state === 'live'")
    assert page.locator("#clock").get_attribute("data-replay") == ""

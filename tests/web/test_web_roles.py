"""People of three roles sign in through the real page (Debian chromium) and see exactly what their
role allows: a traffic engineer the traffic panel and none of the NEV or factory ones, a viewer
every panel but no acknowledge button and a vehicle's plate masked in its drill-down, an operator
who acknowledges an alert (the session's CSRF token end to end) and sees the plate in full. An
administrator searches the audit log in the console and finds the operator's read of plates with
its purpose; nobody else has the audit view. A wrong password says so; signing out or an ended
session returns to the sign-in screen; the live feed authenticates with the session cookie and
carries only the topics of scenes the person may read."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from citybrain.api.auth import SESSION_COOKIE
from citybrain.core.tokens import create_token
from citybrain.identity.policy import mask_value
from citybrain.scenes.nev.sim import FleetSimulator, NevSimConfig
from tests.web import platform_server
from tests.web.browser import Screen, open_screen

SCENES = ("pulse", "traffic", "nev", "factory")
PASSWORD = "南昌城市大脑-测试口令-2024"
# username -> (name, department, role); the demo organisation (citybrain/data/identity/org.toml)
PEOPLE = {
    "li.jt": ("李交通", "nc-traffic", "traffic_engineer"),
    "wang.dp": ("王大屏", "nc-data", "viewer"),
    "zhao.yy": ("赵运营", "nc-data", "operator"),
    "qian.gl": ("钱管理", "nc-data", "admin"),
}
# a plate for every vehicle the NEV simulator drives (its VINs are deterministic)
PLATES = {v.vin: f"赣AD{12300 + i}" for i, v in enumerate(FleetSimulator(NevSimConfig()).vehicles)}
REFUSED = "401"  # the console line Chromium writes for an answer the test provokes on purpose


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[platform_server.Running, dict[str, str]]]:
    run = platform_server.start(
        tmp_path_factory.mktemp("web-roles") / "var",
        scene_settings={
            "pulse": {"surge_per_min": 5},
            "nev": {"vehicles": {vin: {"plate": plate} for vin, plate in PLATES.items()}},
        },
        # pulse raises the alerts, NEV drives a small fleet; traffic and factory need no data here
        simulators={"traffic": {"enabled": False}, "factory": {"enabled": False}, "nev": {"interval_s": 2.0}},
        installed=set(SCENES),
    )
    try:
        admin = {"Authorization": f"Bearer {create_token(run.platform.store, 'web-admin', ['admin'])[1]}"}
        ids = {}
        for username, (name, department, role) in PEOPLE.items():
            body = {"username": username, "name": name, "department": department, "roles": [role],
                    "password": PASSWORD}  # fmt: skip
            r = httpx.post(f"{run.url}/api/v1/users", json=body, headers=admin, timeout=10)
            assert r.status_code == 200, r.text
            ids[username] = r.json()["id"]
        yield run, {"admin": admin["Authorization"], **ids}
    finally:
        run.stop()


@pytest.fixture
def screen(browser: Any, org: tuple[platform_server.Running, dict[str, str]]) -> Iterator[Screen]:
    yield from open_screen(browser, org[0].url)


def _panels(page: Any) -> set[str]:
    return set(page.eval_on_selector_all(".panel[data-scene]", "ns => ns.map(n => n.dataset.scene)"))


def _scene_options(page: Any) -> set[str]:
    return set(
        page.eval_on_selector_all("#alerts select[data-filter=scene] option", "os => os.map(o => o.value)")
    )


def _open_alerts(run: platform_server.Running, admin: str, scene: str) -> list[dict[str, Any]]:
    """Waits until ``scene`` has open alerts (the NEV simulator raises some within seconds)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = httpx.get(f"{run.url}/api/v1/alerts", params={"scene": scene, "status": "open"},
                      headers={"Authorization": admin}, timeout=10)  # fmt: skip
        if r.json():
            out: list[dict[str, Any]] = r.json()
            return out
        time.sleep(1)
    raise AssertionError(f"no open {scene} alert within 60 s")


def test_traffic_engineer_sees_traffic_and_no_nev_or_factory(
    screen: Screen, org: tuple[platform_server.Running, dict[str, str]]
) -> None:
    run, ids = org
    page = screen.page
    _open_alerts(run, ids["admin"], "nev")  # there are NEV alerts: the engineer's list has none
    screen.sign_in_as("li.jt", PASSWORD)
    assert _panels(page) == {"pulse", "traffic"}
    assert page.locator(".headline .fig[data-scene=nev]").count() == 0
    assert page.locator("#layers input[data-layer^='nev.']").count() == 0
    assert page.locator("#layers input[data-layer^='traffic.']").count() >= 1
    assert _scene_options(page) == {"", "pulse", "traffic"}
    who = page.locator("#who").inner_text()
    assert "李交通" in who and "交通工程师" in who
    page.wait_for_timeout(2_000)  # every widget loaded, the alerts read and live alerts arriving
    assert page.locator("#alert-list li").count() == 0
    assert page.locator("#alert-list").get_attribute("data-total") == "0"
    assert page.locator("#alert-list button[data-action]").count() == 0
    assert not screen.refused, f"the page asked for what the role may not see: {screen.refused}"
    screen.shot("20-role-traffic-engineer")


def test_viewer_sees_every_panel_but_cannot_acknowledge(screen: Screen) -> None:
    page = screen.page
    screen.sign_in_as("wang.dp", PASSWORD)
    assert _panels(page) == set(SCENES)
    assert "大屏值守" in page.locator("#who").inner_text()
    page.locator("#alert-list li[data-id][data-status=open]").first.wait_for(timeout=30_000)
    assert page.locator("#alert-list button[data-action]").count() == 0
    assert page.locator("#alerts .hint").count() == 1
    page.wait_for_timeout(1_500)
    assert not screen.refused


def _open_vehicle(screen: Screen) -> tuple[str, str, str]:
    """Open an NEV vehicle's drill-down from the map, with the other layers off so nothing else is
    on top: (its VIN, the plate row's heading, the plate shown)."""
    page = screen.page
    layer = page.evaluate("() => [...window.citybrain.layers.keys()].find((id) => id.startsWith('nev.'))")
    assert layer, "the NEV scene has no map layer"
    size = f"() => window.citybrain.layers.get({layer!r}).features.size"
    page.wait_for_function(f"() => ({size})() > 0", timeout=30_000)
    for box in page.locator("#layers input[data-layer]").all():
        if box.get_attribute("data-layer") != layer:
            box.uncheck()
    key = page.evaluate(f"() => [...window.citybrain.layers.get({layer!r}).features.keys()][0]")
    drill = screen.open_drill(layer, key)
    row = drill.locator("tr[data-field=plate]")
    row.wait_for(timeout=10_000)
    vin = drill.get_attribute("data-key") or ""  # vehicles on top of each other: whichever opened
    assert vin in PLATES, vin
    return vin, row.locator("th").inner_text(), row.locator("td").inner_text()


def test_viewer_sees_the_plate_masked_and_no_audit_view(screen: Screen) -> None:
    page = screen.page
    screen.sign_in_as("wang.dp", PASSWORD)
    vin, heading, shown = _open_vehicle(screen)
    assert heading == "车牌"
    assert shown == mask_value(PLATES[vin]) and shown != PLATES[vin], (vin, shown)
    assert shown[0] == "赣" and shown[1:7] == "******" and shown[-1] == PLATES[vin][-1]
    screen.shot("22-role-viewer-plate-masked")
    assert page.locator("#audit-open").count() == 0 and page.locator("#audit").count() == 0
    assert not screen.refused, f"the page asked for what the role may not see: {screen.refused}"


def test_operator_sees_the_plate_in_full(screen: Screen) -> None:
    page = screen.page
    screen.sign_in_as("zhao.yy", PASSWORD)
    vin, heading, shown = _open_vehicle(screen)
    assert heading == "车牌" and shown == PLATES[vin]
    assert page.locator("#audit-open").count() == 0  # operating is not administering
    # the heading comes from the catalogues: English in a drill-down opened after switching
    page.locator("#drill button[data-action=close]").click()
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    vin, heading, shown = _open_vehicle(screen)
    assert heading == "plate" and shown == PLATES[vin]
    assert not screen.refused


def _read_plates(run: platform_server.Running, username: str, purpose: str) -> None:
    """``username`` reads the NEV vehicles, plates unmasked, saying why (X-Purpose, percent-encoded);
    the route (``?limit=7``) is one no page asks for, so the audit record is this read's."""
    r = httpx.get(f"{run.url}/api/v1/scenes/nev/vehicles", params={"limit": 7},
                  headers={"Cookie": f"{SESSION_COOKIE}={_session(run, username)}",
                           "X-Purpose": quote(purpose)}, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    assert {v["plate"] for v in r.json()["items"]} <= set(PLATES.values())


def test_admin_finds_an_operators_read_of_plates_in_the_audit_view(
    screen: Screen, org: tuple[platform_server.Running, dict[str, str]]
) -> None:
    why = "12345 工单 #88 核实车辆"
    _read_plates(org[0], "zhao.yy", why)
    screen.sign_in_as("qian.gl", PASSWORD)
    page = screen.page
    page.click("#audit-open")
    view = page.locator("#audit")
    view.wait_for(state="visible", timeout=10_000)
    assert view.locator("h2").inner_text() == "审计日志"
    assert view.locator("thead th").all_inner_texts() == ["时间", "操作人", "操作", "对象", "详情"]
    page.fill("#audit input[data-filter=action]", "read")
    page.click("#audit button[data-action=search]")
    rows = "[...document.querySelectorAll('#audit tbody tr')]"
    page.wait_for_function(
        f"() => {rows}.length > 0 && {rows}.every((r) => r.dataset.action === 'read')"
        f" && {rows}.some((r) => r.innerText.includes('?limit=7'))",
        timeout=10_000,
    )
    record = view.locator("tbody tr", has_text="/api/v1/scenes/nev/vehicles?limit=7")
    assert record.count() == 1
    cells = record.locator("td").all_inner_texts()
    assert cells[1] == f"赵运营 ({org[1]['zhao.yy']})" and cells[2] == "查看个人信息"
    assert record.locator("[data-part=purpose]").inner_text() == f"用途:{why}"
    assert record.locator("[data-part=fields]").inner_text() == "字段:车牌"
    assert record.locator("[data-part=department]").inner_text() == "部门:nc-data"
    # the actor filter narrows further: the administrator's own reads are gone
    page.fill("#audit input[data-filter=actor]", "赵运营")
    page.click("#audit button[data-action=search]")
    page.wait_for_function(f"() => {rows}.length > 0 && {rows}.every((r) => r.innerText.includes('赵运营'))")
    screen.shot("23-audit-search")
    assert not screen.refused


def test_operator_acknowledges_an_alert_with_the_session_csrf(
    screen: Screen, org: tuple[platform_server.Running, dict[str, str]]
) -> None:
    run, ids = org
    page = screen.page
    screen.sign_in_as("zhao.yy", PASSWORD)
    assert _panels(page) == set(SCENES)
    alert_id = screen.acknowledge("#alert-list li[data-status=open]", ("scene", "nev"), "值班员已核实")
    stored = httpx.get(f"{run.url}/api/v1/alerts/{alert_id}", headers={"Authorization": ids["admin"]}).json()
    assert stored["status"] == "acknowledged" and stored["ack_note"] == "值班员已核实"
    assert stored["acked_by"] == f"赵运营 ({ids['zhao.yy']})"
    # the same session without its CSRF token is refused: the page really sent it
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    r = httpx.post(f"{run.url}/api/v1/alerts/{alert_id}/resolve", json={"note": "x"},
                   headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})  # fmt: skip
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    # the page never sees the session cookie nor keeps the CSRF token in storage
    assert page.evaluate("() => document.cookie").find(SESSION_COOKIE) < 0
    storage = page.evaluate("() => JSON.stringify([localStorage, sessionStorage])")
    assert cookie not in storage
    screen.shot("21-role-operator-acknowledged")


def test_wrong_password_says_so(screen: Screen) -> None:
    page = screen.page
    screen.expected.append(REFUSED)
    screen.sign_in_as("wang.dp", "not the password at all", ready=False)
    error = page.locator("#signin-error")
    page.wait_for_function("el => el.textContent !== ''", arg=error.element_handle())
    assert "用户名、密码或动态口令错误" in error.inner_text()
    assert page.locator("#app").is_hidden() and page.input_value("#password") == ""
    screen.sign_in_as("wang.dp", PASSWORD)  # and the right one still works
    assert page.locator("#app").is_visible()


def test_sign_out_returns_to_the_sign_in_screen(screen: Screen) -> None:
    page = screen.page
    screen.expected.append(REFUSED)  # a widget's request racing the sign-out may be refused
    screen.sign_in_as("li.jt", PASSWORD)
    page.click("#signout")
    page.locator("#signin-form").wait_for(state="visible", timeout=10_000)
    assert "已退出登录" in page.locator("#signin-error").inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    page.reload()
    page.locator("#signin-form").wait_for(state="visible", timeout=10_000)
    assert page.locator("#app").is_hidden()
    # English from the same catalogues
    page.click("#signin-lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.locator("label[for=username]").inner_text() == "Username"
    page.click("#signin-lang")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert page.locator("label[for=password]").inner_text() == "密码"


def test_an_ended_session_returns_to_the_sign_in_screen(
    screen: Screen, org: tuple[platform_server.Running, dict[str, str]]
) -> None:
    run, ids = org
    page = screen.page
    screen.expected.append(REFUSED)
    screen.sign_in_as("wang.dp", PASSWORD)
    page.wait_for_function("() => document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
    # an admin sets a new password: the person's sessions end, the page notices (live feed re-check)
    r = httpx.put(f"{run.url}/api/v1/users/{ids['wang.dp']}/password", json={"password": PASSWORD},
                  headers={"Authorization": ids["admin"]})  # fmt: skip
    assert r.status_code == 200, r.text
    page.locator("#signin-form").wait_for(state="visible", timeout=30_000)
    assert "会话已结束" in page.locator("#signin-error").inner_text()


def _session(run: platform_server.Running, username: str) -> str:
    r = httpx.post(f"{run.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.cookies[SESSION_COOKIE]


def _plates(value: Any, out: set[str]) -> set[str]:
    """Every ``plate`` value anywhere in a live message's data."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "plate" and isinstance(v, str) and v:
                out.add(v)
            else:
                _plates(v, out)
    elif isinstance(value, list):
        for v in value:
            _plates(v, out)
    return out


def _topics(
    run: platform_server.Running,
    cookie: str,
    origin: str | None = None,
    seconds: float = 6,
    plates: set[str] | None = None,
) -> set[str]:
    url = run.url.replace("http://", "ws://") + "/api/v1/live"
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    with connect(
        url, additional_headers=headers, origin=Origin(origin) if origin else None, open_timeout=10
    ) as ws:
        ws.send(json.dumps({"op": "auth"}))
        ready = json.loads(ws.recv(timeout=10))
        if ready.get("op") != "ready":
            return {f"refused: {ready.get('message')}"}
        ws.send(json.dumps({"op": "subscribe", "topics": ["*"]}))
        seen: set[str] = set()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                if "topic" in msg:
                    seen.add(msg["topic"])
                    if plates is not None:
                        _plates(msg.get("data"), plates)
        except (TimeoutError, ConnectionClosed):
            pass
        return seen


def test_live_feed_takes_the_session_cookie_and_carries_only_readable_scenes(
    org: tuple[platform_server.Running, dict[str, str]],
) -> None:
    run, _ = org
    masked: set[str] = set()
    viewer = _topics(run, _session(run, "wang.dp"), plates=masked)
    assert "state.nev" in viewer and "state.pulse" in viewer, viewer
    # the feed masks what the API masks: the viewer never receives a plate in full
    assert masked and all(p in {mask_value(x) for x in PLATES.values()} for p in masked), masked
    full: set[str] = set()
    _topics(run, _session(run, "zhao.yy"), plates=full, seconds=4)
    assert full and full <= set(PLATES.values()), full
    engineer = _topics(run, _session(run, "li.jt"))
    assert "state.pulse" in engineer, engineer
    assert not {t for t in engineer if t.split(".")[1] in ("nev", "factory")}, engineer
    # a handshake from another site carries the cookie too: it is not accepted
    cross = _topics(run, _session(run, "li.jt"), origin="http://evil.example")
    assert len(cross) == 1 and next(iter(cross)).startswith("refused"), cross

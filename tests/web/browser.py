"""A dashboard page in Debian's chromium that fails the test on console errors or on any request
leaving the machine, with screenshots under test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


class Screen:
    """A signed-in dashboard page plus what it logged and fetched."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.expected: list[str] = []  # console errors a test provokes on purpose (a refused sign-in)
        self.refused: list[str] = []  # URLs the server answered 403 (the page asked beyond its role)

    def sign_in(self, token: str) -> None:
        """With an API token (the big-screen way)."""
        self.page.goto(self.url + "/")
        self.page.click("#token-way summary")
        self.page.fill("#token", token)
        self.page.click("#signin-form button[type=submit]")
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

    def sign_in_as(self, username: str, password: str, code: str = "", ready: bool = True) -> None:
        """As a person, through the sign-in form (``ready``: wait for the signed-in screen)."""
        if not self.page.locator("#signin-form").is_visible():
            self.page.goto(self.url + "/")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.fill("#code", code)
        self.page.click("#signin-form button[type=submit]")
        if ready:
            self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

    def acknowledge(self, row: str, filter_by: tuple[str, str], note: str) -> str:
        """Acknowledge the first alert matching ``row`` with ``note``, with the list filtered by
        ``(filter, value)`` so the row stays put while others arrive; its id."""
        page = self.page
        first = page.locator(row).first
        first.wait_for(timeout=30_000)
        alert_id: str | None = first.get_attribute("data-id")
        assert alert_id
        page.select_option(f"#alerts select[data-filter={filter_by[0]}]", filter_by[1])
        it = page.locator(f"#alert-list li[data-id='{alert_id}']")
        it.locator("button[data-action=ack]").click()
        it.locator("textarea").fill(note)
        it.locator("button[data-action=confirm]").click()
        page.locator(f"#alert-list li[data-id='{alert_id}'][data-status=acknowledged]").wait_for(
            timeout=10_000
        )
        return alert_id

    def click_feature(self, layer: str, key: str) -> None:
        """Centre the map feature ``key`` of ``layer``, let the map render, then click where it is
        now (vehicles move)."""
        locate = """([layer, key, centre]) => {
            const f = window.citybrain.layers.get(layer).features.get(key);
            const g = f.geometry;
            const [a, b] = g.type === 'Point' ? [g.coordinates, g.coordinates] : g.coordinates;
            const c = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
            const map = window.citybrain.getMap();
            if (centre) map.jumpTo({center: c, zoom: 14});
            const p = map.project(c);
            const r = map.getCanvas().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }"""
        self.page.evaluate(locate, [layer, key, True])
        self.page.wait_for_timeout(400)
        x, y = self.page.evaluate(locate, [layer, key, False])
        self.page.mouse.click(x, y)

    def open_drill(self, layer: str, key: str, tries: int = 6) -> Any:
        """Click ``key`` on ``layer`` until its drill-down opens (a moving vehicle on a loaded machine
        can be missed); the drill's locator. Features on top of each other open whichever is on top:
        read the drill's ``data-key``."""
        drill = self.page.locator(f"#drill[data-layer='{layer}']")
        for _ in range(tries):
            self.click_feature(layer, key)
            self.page.wait_for_timeout(700)
            if drill.is_visible():
                break
        drill.wait_for(state="visible", timeout=10_000)
        return drill

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


def open_screen(browser: Any, url: str) -> Iterator[Screen]:
    """A 1920x1080 zh-CN page on ``url`` that fails the test on console errors or on any request
    leaving the machine (use with ``yield from`` in a fixture)."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    s = Screen(page, url)
    page.on("console", lambda m: s.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: s.errors.append(str(e)))
    page.on("response", lambda r: s.refused.append(r.url) if r.status == 403 else None)

    def guard(route: Any) -> None:
        if route.request.url.startswith((url, "blob:", "data:")):
            route.continue_()
        else:
            s.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    yield s
    context.close()
    assert not s.outside, f"the page tried to leave the machine: {s.outside}"
    errors = [e for e in s.errors if not any(x in e for x in s.expected)]
    assert not errors, f"console errors: {errors}"


def signed_in_console(browser: Any, url: str, username: str, password: str) -> Iterator[Any]:
    """The operator console at ``url`` in a fresh screen, signed in as ``username``: yields its page
    (the screen's checks, no console error and no request leaving the machine, run at the end)."""
    screens = open_screen(browser, url)
    page = next(screens).page
    page.goto(f"{url}/console/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.locator("#who").wait_for(timeout=15_000)
    yield page
    next(screens, None)


# the console's people of the operations desk: an officer who operates, a supervisor who reads
DESK = (("yun.wei", "运维值班", ["operator"]), ("zhi.ban", "值班长", ["supervisor"]))


def add_console_people(store: Any, url: str, password: str, people: Any = DESK) -> None:
    """People of the operations centre (department nc-data, every area) with ``password``, made
    through the API with an admin token, as an administrator would."""
    from citybrain.core.tokens import create_token

    admin = {"Authorization": f"Bearer {create_token(store, 'console-admin', ['admin'])[1]}"}
    with httpx.Client(base_url=url, headers=admin, timeout=10) as c:
        for username, name, roles in people:
            body = {"username": username, "name": name, "department": "nc-data", "roles": roles,
                    "password": password, "areas": []}  # fmt: skip
            assert c.post("/api/v1/users", json=body).status_code == 200

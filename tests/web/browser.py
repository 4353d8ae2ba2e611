"""A dashboard page in Debian's chromium that fails the test on console errors or on any request
leaving the machine, with screenshots under test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


class Screen:
    """A signed-in dashboard page plus what it logged and fetched."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.errors: list[str] = []
        self.outside: list[str] = []

    def sign_in(self, token: str) -> None:
        self.page.goto(self.url + "/")
        self.page.fill("#token", token)
        self.page.click("#signin-form button[type=submit]")
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)

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
    assert not s.errors, f"console errors: {s.errors}"

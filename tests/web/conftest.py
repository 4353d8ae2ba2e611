"""Browser-test fixtures: one real platform with its simulators for the session, Debian's chromium
driven by Playwright (never a downloaded browser), a page that fails the test on console errors or
on any request that leaves the machine, and screenshots under test-artifacts/web/."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import platform_server
import scene_fixture

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "web"
CHROMIUM = os.environ.get("CITYBRAIN_CHROMIUM", "/usr/bin/chromium")
# WebGL (MapLibre) in headless Chromium >= 144 needs SwiftShader explicitly; the rest keeps
# Chromium from calling out to Google's services on a closed network.
CHROMIUM_ARGS = [
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--ignore-gpu-blocklist",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-quic",
    "--metrics-recording-only",
    "--disable-breakpad",
]


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[platform_server.Running]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run 'make deps' (installs Debian's chromium)")
    if not (REPO / "web" / "node_modules" / "maplibre-gl").is_dir():
        pytest.fail("web/node_modules is missing: run 'make deps' (npm ci in web/)")
    run = platform_server.start(
        tmp_path_factory.mktemp("web") / "var",
        [scene_fixture.scene],
        scene_settings={"pulse": {"surge_per_min": 5}},
        installed={"pulse"},  # the fixture scene stands in for the others, whose own tests cover them
    )
    yield run
    run.stop()


# module scope: Playwright's sync API keeps an event loop running on this thread while it is
# open, which would break asyncio.run() in any test collected after the browser tests
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


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


@pytest.fixture
def screen(browser: Any, running: platform_server.Running) -> Iterator[Screen]:
    yield from open_screen(browser, running.url)

"""Browser-test fixtures: one real platform with its simulators for the session, Debian's chromium
driven by Playwright (never a downloaded browser), a page that fails the test on console errors or
on any request that leaves the machine, and screenshots under test-artifacts/web/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web import platform_server, scene_fixture
from tests.web.browser import Screen, open_screen

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
    if not (REPO / "src" / "citybrain" / "web" / "vendor" / "maplibre-gl").is_dir():
        pytest.fail("the dashboard's npm files are missing: run 'make deps' (npm ci in web/, then copied)")
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


@pytest.fixture
def screen(browser: Any, running: platform_server.Running) -> Iterator[Screen]:
    yield from open_screen(browser, running.url)

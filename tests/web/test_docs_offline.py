"""The API reference pages render in a real browser with every request off this machine refused
(issue 18: /docs and /redoc loaded Swagger UI and ReDoc from a CDN and stayed blank offline)."""

from __future__ import annotations

from typing import Any

from tests.web import platform_server
from tests.web.browser import open_screen


def test_swagger_ui_lists_the_operations_offline(browser: Any, running: platform_server.Running) -> None:
    for screen in open_screen(browser, running.url):  # aborts (and fails on) any request leaving it
        page = screen.page
        page.goto(f"{running.url}/docs")
        page.locator(".opblock").first.wait_for(timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert len(paths) > 20 and any("/api/v1/events" in p for p in paths), paths[:5]
        assert page.locator(".info .title").inner_text().startswith("citybrain")
        screen.shot("docs-offline")


def test_redoc_renders_the_reference_offline(browser: Any, running: platform_server.Running) -> None:
    for screen in open_screen(browser, running.url):
        page = screen.page
        page.goto(f"{running.url}/redoc")
        page.locator("[data-section-id^='operation/']").first.wait_for(timeout=30_000)
        assert page.locator("[data-section-id^='operation/']").count() > 20
        assert "citybrain" in page.locator("h1").first.inner_text()
        screen.shot("redoc-offline")

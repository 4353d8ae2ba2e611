"""The monthly reports in the operator console, in Debian's chromium (issue 17 item 6): an operations
officer makes last month's report (生成) and finds it listed with its period, language, size and
checksum; the PDF its download link answers has exactly the SHA-256 the list shows. A shift
supervisor reads the list but is offered no 生成. Every page fails on a console error or on a
request leaving the machine."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citybrain.core.clock import now_ms
from citybrain.core.reports.monthly import month_of, previous_month
from tests.web import platform_server
from tests.web.browser import add_console_people, signed_in_console

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "src" / "citybrain" / "web" / "console" / "index.html"
PASSWORD = "南昌城市大脑-报告口令-2026"
MONTH = previous_month(month_of(now_ms()))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[platform_server.Running]:
    if not BUILT.is_file():
        pytest.fail(f"{BUILT} is missing: run 'make deps' (scripts/console-build.sh builds the console)")
    # one scene: the PDF renders in about a second
    run = platform_server.start(tmp_path_factory.mktemp("reports-console") / "var", simulate=False,
                                installed={"pulse"}, reports=True)  # fmt: skip
    try:
        add_console_people(run.platform.store, run.url, PASSWORD)
        yield run
    finally:
        run.stop()


def test_an_officer_makes_last_month_s_report_and_downloads_the_listed_pdf(browser: Any, served: Any) -> None:
    for page in signed_in_console(browser, served.url, "yun.wei", PASSWORD):
        page.click("#nav-reports")
        page.locator("#report-generate").wait_for(timeout=10_000)
        assert page.input_value("#report-month") == MONTH  # last month, Beijing time
        page.click("#report-generate")
        page.locator("#report-made", has_text=f"monthly-{MONTH}-zh-v1").wait_for(timeout=60_000)
        row = page.locator(".report-row").first
        text = row.inner_text()
        assert MONTH in text and "中文" in text and "运维值班" in text and "KB" in text
        shown = row.locator(".report-file", has_text="PDF").locator(".report-sha")
        full = shown.get_attribute("title")
        assert full and shown.inner_text() == full[:12]
        with page.expect_download(timeout=30_000) as info:
            row.locator("a.report-pdf").click()
        download = info.value
        assert download.suggested_filename == f"report-{MONTH}.zh.pdf"
        data = Path(download.path()).read_bytes()
        assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == full
        entry = httpx.get(
            f"{served.url}/api/v1/reports/monthly-{MONTH}-zh-v1",
            headers={"Authorization": f"Bearer {served.tokens['read']}"},
        ).json()
        assert {f["name"]: f["sha256"] for f in entry["files"]}[f"report-{MONTH}.zh.pdf"] == full


def test_a_supervisor_reads_the_list_but_is_not_offered_generation(browser: Any, served: Any) -> None:
    headers = {"Authorization": f"Bearer {served.tokens['operate']}"}
    body = {"month": MONTH, "language": "en"}
    made = httpx.post(f"{served.url}/api/v1/reports", json=body, headers=headers, timeout=60)
    assert made.status_code == 201, made.text
    for page in signed_in_console(browser, served.url, "zhi.ban", PASSWORD):
        page.click("#nav-reports")
        page.locator(".report-row", has_text="English").wait_for(timeout=10_000)
        assert page.locator("#report-generate").count() == 0
        assert "每月1日6时" in page.inner_text("#report-schedule")
        assert page.locator(".report-row .report-pdf").count() >= 1

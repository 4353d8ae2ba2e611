"""The pay-later views of the operator console in Debian's chromium (issue 16 item 9): an
operations officer looks a plate up (payer, arrears, sessions, every read of its gates), opens a
session and reads the evidence a dispute is answered with (the fee's lines, the gate reads with
their confidence, the ledger's postings), then the channel's reconciliations with their buckets.
Every page fails on a console error or on a request leaving the machine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from citybrain.core.tokens import create_token
from tests.web import platform_server
from tests.web.browser import signed_in_console

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "src" / "citybrain" / "web" / "console" / "index.html"
PASSWORD = "南昌城市大脑-停车口令-2026"
BASE = "/api/v1/scenes/paylater"
PLATE = "赣A12345"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[platform_server.Running, str]]:
    if not BUILT.is_file():
        pytest.fail(f"{BUILT} is missing: run 'make deps' (scripts/console-build.sh builds the console)")
    run = platform_server.start(tmp_path_factory.mktemp("paylater-console") / "var", simulate=False,
                                installed={"paylater"},
                                scene_settings={"paylater": {"dispatch_every_ms": 50}})  # fmt: skip
    try:
        admin = {"Authorization": f"Bearer {create_token(run.platform.store, 'console-admin', ['admin'])[1]}"}
        with httpx.Client(base_url=run.url, headers=admin, timeout=10) as c:
            body = {"username": "yun.wei", "name": "运维值班", "department": "nc-data", "roles": ["operator"],
                    "password": PASSWORD, "areas": []}  # fmt: skip
            assert c.post("/api/v1/users", json=body).status_code == 200
            c.post(
                f"{BASE}/bindings", json={"plate": PLATE, "action": "bind", "payer": "wx-1", "consent": "c-1"}
            )
            now = time.time_ns() // 1_000_000
            # yesterday 12:00 in Beijing: the tariff's day rate, whatever hour the test runs at
            noon = (now + 8 * 3_600_000) // 86_400_000 * 86_400_000 - 8 * 3_600_000 - 12 * 3_600_000
            read = {
                "lot": "bayi-square",
                "gate": "g1",
                "plate": PLATE,
                "confidence": 0.97,
                "image": "img://r",
            }
            assert c.post(f"{BASE}/gate", json={**read, "id": "e1", "direction": "entry",
                                                  "ts": noon - 2 * 3_600_000}).status_code == 200  # fmt: skip
            deadline = time.monotonic() + 20
            while not c.get(f"{BASE}/plates/{PLATE}").json()["state"]["open"]:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            exit_ = c.post(f"{BASE}/gate", json={**read, "id": "x1", "direction": "exit", "ts": noon}).json()
            sid = exit_["session"]
            while c.get(f"{BASE}/sessions/{sid}").json()["session"]["status"] != "settled":
                assert time.monotonic() < deadline, "the sandbox provider did not settle the session"
                time.sleep(0.1)
            day = time.strftime("%Y-%m-%d", time.gmtime(now / 1000 + 8 * 3600))
            assert c.post(f"{BASE}/reconciliation", json={"channel": "wechat", "day": day}).status_code == 200
        yield run, sid
    finally:
        run.stop()


def test_an_officer_finds_a_plate_and_reads_a_session_s_evidence(browser: Any, served: Any) -> None:
    run, sid = served
    for page in signed_in_console(browser, run.url, "yun.wei", PASSWORD):
        page.click("#nav-parking")
        page.fill("#plate-query", "赣a·12345")  # as a person types it: normalised by the API
        page.click("#plate-search")
        page.locator("#plate-title", has_text=PLATE).wait_for(timeout=10_000)
        assert "wx-1" in page.inner_text("#parking") and page.inner_text("#plate-arrears").startswith("0")
        row = page.locator(".session-row")
        assert row.count() == 1 and "已结算" in row.inner_text() and "¥9.00" in row.inner_text()
        evidence = page.inner_text("#plate-evidence")
        assert "paylater.binding" in evidence and "open (pay_later)" in evidence
        row.click()
        page.locator("#session-title", has_text="bayi-square").wait_for(timeout=10_000)
        assert page.inner_text("#session-fee") == "¥9.00"
        assert "白天 day" in page.inner_text("#fee-lines")  # the receipt: 10:00-12:00-like, 3 units
        reads = page.inner_text("#session-reads")
        assert "entry" in reads and "exit" in reads and "0.97" in reads and "img://r" in reads
        postings = page.inner_text("#session-postings")
        assert f"accrue:{sid}" in postings and f"settle:{sid}" in postings and "channel:wechat" in postings


def test_an_officer_reads_the_reconciliations(browser: Any, served: Any) -> None:
    run, _ = served
    for page in signed_in_console(browser, run.url, "yun.wei", PASSWORD):
        page.click("#nav-reconciliation")
        page.locator(".recon-row").first.wait_for(timeout=10_000)
        assert page.locator(".recon-row .recon-clean").first.inner_text() == "平"  # clean, not 不平
        cells = page.locator(".recon-row").first.locator("td")
        assert [cells.nth(i).inner_text() for i in (3, 4, 5)] == ["1", "0", "0"]  # matched 1, none missing

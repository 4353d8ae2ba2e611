"""The welfare views of the operator console in Debian's chromium (issue 15 item 8): a village
cadre opens 返贫风险户, sees their village's households at risk (names in clear, nothing of another
village), opens one and reads every decision clause by clause with the values, the departments
they came from and the rule version, then opens its case; an operations officer opening the same
household sees the name and the ID number masked. Every page fails on a console error or on a
request leaving the machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.tokens import create_token
from citybrain.scenes import welfare
from tests.scenes.welfare.welfare_testkit import TOWN, deliver, screen_all
from tests.web import platform_server
from tests.web.browser import signed_in_console

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "src" / "citybrain" / "web" / "console" / "index.html"
PASSWORD = "南昌城市大脑-帮扶口令-2026"
PEOPLE = {"cun.gb": ("村干部", "village_cadre", [TOWN]), "yun.wei": ("运维值班", "operator", [])}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[platform_server.Running]:
    if not BUILT.is_file():
        pytest.fail(f"{BUILT} is missing: run 'make deps' (scripts/console-build.sh builds the console)")
    tmp = tmp_path_factory.mktemp("welfare-console")
    run = platform_server.start(tmp / "var", [welfare.scene], simulate=False, installed=set())
    try:
        deliver(run.platform, tmp)
        screen_all(run.platform)
        token = create_token(run.platform.store, "console-admin", ["admin"])[1]
        import httpx

        for username, (name, role, areas) in PEOPLE.items():
            body = {"username": username, "name": name, "department": "donghu-civil", "roles": [role],
                    "password": PASSWORD, "areas": areas}  # fmt: skip
            r = httpx.post(f"{run.url}/api/v1/users", json=body, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text
        yield run
    finally:
        run.stop()


def test_a_village_cadre_reads_the_risks_and_a_household_explained(browser: Any, served: Any) -> None:
    for page in signed_in_console(browser, served.url, "cun.gb", PASSWORD):
        page.click("#nav-risks")
        page.locator("#risk-count", has_text="2").wait_for(timeout=10_000)
        rows = page.locator(".risk-row")
        assert rows.count() == 2
        text = page.inner_text("#risk-list")
        assert "H2" in text and "H4" in text and "H1" not in text  # 斗门村 is not theirs
        assert "李四" in text  # their own village: in clear
        page.locator(".risk-row", has_text="H2").click()
        page.locator("#household-title", has_text="H2").wait_for(timeout=10_000)
        assert page.inner_text("#head-name") == "李四"
        page.locator(".decision-dibao").click()
        clauses = page.locator(".decision-dibao .clauses").inner_text()
        assert "cars = 1" in clauses and "机动车登记" in clauses and "nc-traffic" in clauses
        assert "income_12m = 24000" in clauses and "standard_month = 1000" in clauses
        assert "v2026.1" in page.inner_text(".decision-dibao")
        page.locator("#household-cases a").first.click()
        page.locator("#case-state[data-state=clue]").wait_for(timeout=10_000)


def test_an_operations_officer_sees_the_household_masked(browser: Any, served: Any) -> None:
    for page in signed_in_console(browser, served.url, "yun.wei", PASSWORD):
        page.goto(f"{served.url}/console/#/households/H2")
        page.locator("#household-title", has_text="H2").wait_for(timeout=10_000)
        assert page.inner_text("#head-name") == "李*"
        text = page.inner_text("#household")
        assert "13900002222" not in text and "李四" not in text

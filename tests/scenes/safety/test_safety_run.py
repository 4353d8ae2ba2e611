"""The Done-when of issue 17 from a fresh ``citybrain run`` (what ``make run`` starts): the
simulator's backfill gives the 平安指数 a year of history (13 months with year-on-year changes), and
the report schedule archives last month's 平安报告 by itself, its index section first, its PDF's
text layer in Chinese with the index's figures."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx

from citybrain.core.clock import now_ms
from citybrain.core.reports.monthly import month_of, previous_month
from citybrain.testing import free_port
from tests.support.server import Server, wait_for

LAST = previous_month(month_of(now_ms()))


def test_a_fresh_run_shows_a_year_of_the_index_and_archives_last_month_s_report(tmp_path: Path) -> None:
    run = Server(
        tmp_path / "var",
        free_port(),
        "run",
        CITYBRAIN_REPORTS__FIRST_CHECK_S="60",  # the default 120: the history is in by then
        CITYBRAIN_REPORTS__LANGUAGES='["zh"]',
        CITYBRAIN_SIMULATORS__SAFETY__START_AFTER_S="0",
    )
    run.start(90)
    url = run.url
    try:
        h = {"Authorization": f"Bearer {run.token}"}

        def year() -> Any:
            got = httpx.get(f"{url}/api/v1/scenes/safety/history", headers=h, timeout=10).json()
            return got if len(got["months"]) >= 13 and all(m is not None for m in got["mean"]) else None

        history = wait_for("13 months of the index", year, 240, every=1.0)
        assert history["months"][-2] == LAST and len(history["districts"]) == 9
        index = httpx.get(f"{url}/api/v1/scenes/safety/index", params={"month": LAST}, headers=h).json()
        assert len(index["districts"]) == 9 and index["mean_mom"] is not None
        assert all(d["yoy"] is not None for d in index["districts"])  # a year back is there

        def report() -> Any:
            got = httpx.get(f"{url}/api/v1/reports", params={"period": LAST}, headers=h, timeout=10).json()
            return [e for e in got if e["language"] == "zh" and e["generated_by"] == "schedule"]

        [entry] = wait_for("last month's report, made by the schedule", report, 240, every=1.0)
        assert "safety" in entry["sections"]
        pdf = next(f for f in entry["files"] if f["name"].endswith(".pdf"))
        got = httpx.get(f"{url}/api/v1/reports/{entry['id']}/files/{pdf['name']}", headers=h, timeout=30)
        assert got.status_code == 200 and got.content.startswith(b"%PDF-")
        (tmp_path / "r.pdf").write_bytes(got.content)
        text = subprocess.run(
            ["pdftotext", "-l", "4", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "平安报告" in text and "1. 平安指数" in text and "区县排名与等级" in text  # the index first
    finally:
        run.stop()
    assert "Traceback" not in run.log_text

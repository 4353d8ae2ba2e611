"""The Done-when of issue 17 from a fresh ``citybrain run`` (what ``make run`` starts): the
simulator's backfill gives the 平安指数 a year of history (13 months with year-on-year changes), and
the report schedule archives last month's 平安报告 by itself, its index section first, its PDF's
text layer in Chinese with the index's figures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from citybrain.core.clock import now_ms
from citybrain.core.reports.monthly import month_of, previous_month
from citybrain.testing import free_port, server_ports_env

LAST = previous_month(month_of(now_ms()))


def _wait(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(1.0)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_fresh_run_shows_a_year_of_the_index_and_archives_last_month_s_report(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CITYBRAIN_DATA_DIR": str(tmp_path / "var"),
        "CITYBRAIN_SERVER__PORT": str(port),
        "CITYBRAIN_REPORTS__FIRST_CHECK_S": "60",  # the default 120: the history is in by then
        "CITYBRAIN_REPORTS__LANGUAGES": '["zh"]',
        "CITYBRAIN_SIMULATORS__SAFETY__START_AFTER_S": "0",
        **server_ports_env(),
    }
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from citybrain.cli import main; main()", "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        token_file = tmp_path / "var" / "admin.token"
        _wait("the server", lambda: token_file.exists() and _up(url), 90)
        h = {"Authorization": f"Bearer {token_file.read_text().strip()}"}

        def year() -> Any:
            got = httpx.get(f"{url}/api/v1/scenes/safety/history", headers=h, timeout=10).json()
            return got if len(got["months"]) >= 13 and all(m is not None for m in got["mean"]) else None

        history = _wait("13 months of the index", year, 240)
        assert history["months"][-2] == LAST and len(history["districts"]) == 9
        index = httpx.get(f"{url}/api/v1/scenes/safety/index", params={"month": LAST}, headers=h).json()
        assert len(index["districts"]) == 9 and index["mean_mom"] is not None
        assert all(d["yoy"] is not None for d in index["districts"])  # a year back is there

        def report() -> Any:
            got = httpx.get(f"{url}/api/v1/reports", params={"period": LAST}, headers=h, timeout=10).json()
            return [e for e in got if e["language"] == "zh" and e["generated_by"] == "schedule"]

        [entry] = _wait("last month's report, made by the schedule", report, 240)
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
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

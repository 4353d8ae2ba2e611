"""kill -9 during a pull from a departmental MariaDB table, then a new pull (issue 15): it resumes
after the last page whose facts were durable, and every row is a fact exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from citybrain.core.aggregation.facts import Fact
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.testing import server_ports_env

ROWS = 57
PAGE = 10


@pytest.fixture
def table() -> Iterator[str]:
    name = f"ledger_{uuid.uuid4().hex[:8]}"
    con = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                          charset="utf8mb4", autocommit=True)  # fmt: skip
    with con.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, household VARCHAR(20), amount DECIMAL(10,2), "
                    "updated_at DATETIME) CHARACTER SET utf8mb4")  # fmt: skip
        rows = [(i, f"H{i:04d}", 100 + i, f"2026-11-{1 + i % 28:02d} 08:00:00") for i in range(ROWS)]
        cur.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s, %s)", rows)
    yield name
    with con.cursor() as cur:
        cur.execute(f"DROP TABLE {name}")
    con.close()


def _env(tmp_path: Path, table: str) -> dict[str, str]:
    (tmp_path / "datasets.toml").write_text(textwrap.dedent(f"""
        [[datasets]]
        name = "finance.ledger"
        title = "台账"
        owner = "nc-civil"
        key = ["household"]
        origin = "pull"
        snapshot = false
        dsn = "mysql://root@127.0.0.1:3306/test"
        table = "{table}"
        watermark = "updated_at"
        columns = [
          {{ name = "household", required = true }},
          {{ name = "amount", type = "float" }},
          {{ name = "updated_at", type = "date" }},
        ]
        """), encoding="utf-8")  # fmt: skip
    return {"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env(),
            "CITYBRAIN_AGGREGATION__DATASETS_FILE": str(tmp_path / "datasets.toml")}  # fmt: skip


CHILD = """
import os, signal, sys
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
p = Platform(load_settings(), scenes={})
agg = p.aggregator
publish, pages = agg._publish, []
def dying(events):
    n = publish(events)  # durable
    pages.append(n)
    if len(pages) == 3:  # the third page's facts are stored, its watermark is not
        os.kill(os.getpid(), signal.SIGKILL)
    return n
agg._publish = dying
agg.pull("finance.ledger", page_size=int(sys.argv[1]))
"""


def test_a_pull_killed_mid_way_resumes_and_loses_or_doubles_nothing(tmp_path: Path, table: str) -> None:
    env = {**os.environ, **_env(tmp_path, table)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(PAGE)], env=env, capture_output=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]

    p = Platform(load_settings(env=_env(tmp_path, table)), scenes={})
    try:
        (killed,) = p.store.runs("finance.ledger")
        assert killed.status == "running" and killed.rows_read == 2 * PAGE  # two pages saved, not the third
        resumed = p.aggregator.pull("finance.ledger", page_size=PAGE)
        assert resumed.status == "done" and resumed.rows_read == ROWS - 2 * PAGE
        assert resumed.facts_new == ROWS - 3 * PAGE  # the third page's facts were there already
        assert resumed.source_rows == ROWS - 2 * PAGE  # the source agrees with what was read
        facts = [e for e in p.store.find_events(["facts.row"]) if isinstance(e, Fact)]
        assert sorted(f.key for f in facts) == [f"H{i:04d}" for i in range(ROWS)]
        assert {r.status for r in p.store.runs("finance.ledger")} == {"done", "failed"}
        assert p.aggregator.pull("finance.ledger").rows_read == 0  # nothing new since
    finally:
        p.store.close()

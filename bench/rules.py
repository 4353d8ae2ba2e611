"""Rules (issue 15 item 3): deciding a whole population with dated, versioned rule sets.

A million households (Arrow table: key, area in 12 districts and counties, five features drawn at
random, 3 % of incomes missing) decided for 低保 by three rule sets (南昌 3601 with four clauses,
南昌县 360121 in two versions): ``core.rules.evaluate.screen``, one SQL statement per region in an
in-memory DuckDB. Also: one household explained in Python (``explain``), per second. The full
screening target of the issue (< 10 s for 1M households against all sources) also includes building
the features from the facts, which is not measured here yet.
``python bench/rules.py``; ``BENCH_HOUSEHOLDS`` (default 1,000,000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.core.rules.test_rules import RULES

from _harness import machine_facts
from citybrain.core.rules.evaluate import explain, screen
from citybrain.core.rules.rulesets import load_rules

N = int(os.environ.get("BENCH_HOUSEHOLDS", "1000000"))
AREAS = ["360102", "360103", "360104", "360111", "360112", "360113", "360121", "360123", "360124"]


def population() -> pa.Table:
    rng = np.random.default_rng(7)
    income = rng.gamma(2.0, 900.0, N)
    missing = rng.random(N) < 0.03
    area = np.array([a + "100201" for a in AREAS])[rng.integers(0, len(AREAS), N)]
    return pa.table({
        "key": pa.array([f"H{i:07d}" for i in range(N)]),
        "area": pa.array(area),
        "income_pc_month": pa.array(np.round(income, 2), mask=missing),
        "vehicles": pa.array(rng.poisson(0.3, N)),
        "dwellings": pa.array(rng.integers(0, 3, N)),
        "non_residential": pa.array((rng.random(N) < 0.05).astype(np.int64)),
        "assets_pc": pa.array(np.round(rng.exponential(15_000.0, N), 2)),
    })  # fmt: skip


def main() -> None:
    print(machine_facts())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.toml"
        path.write_text(RULES, encoding="utf-8")
        book = load_rules(path)
    t0 = time.perf_counter()
    people = population()
    print(f"  {N:,} households built in {time.perf_counter() - t0:.1f} s")
    for run in (1, 2, 3):
        t0 = time.perf_counter()
        out = screen(book, "dibao", date(2026, 12, 1), people)
        took = time.perf_counter() - t0
        kinds, n = np.unique(out.column("outcome").to_numpy(zero_copy_only=False), return_counts=True)
        counts = {str(k): int(v) for k, v in zip(kinds, n, strict=True)}
        print(f"  screen run {run}: {out.num_rows:,} decisions in {took:.2f} s "
              f"({out.num_rows / took:,.0f}/s): {counts}")  # fmt: skip
    rs = book.for_area("dibao", "360102100201", date(2026, 12, 1))
    assert rs is not None
    row = people.slice(0, 1).to_pylist()[0]
    t0 = time.perf_counter()
    for _ in range(20_000):
        explain(rs, row["key"], row)
    print(f"  explain one household: {20_000 / (time.perf_counter() - t0):,.0f}/s")


if __name__ == "__main__":
    main()

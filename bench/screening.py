"""Full screening (issue 15 item 9): a million households decided against the departments' data,
from the datasets' current rows in the store to every decision.

A temporary DuckDB store holds, as current rows of four datasets (written by bulk SQL, as the runs
would leave them): 1,000,000 households (civil.households: village, members), 1,500,000 wage
records (hrss.wages), 1,000,000 medical bills over two years (medical.bills) and 300,000 vehicles
(police.vehicles); then the same on PostgreSQL when the machine's server answers. Timed:
``core.rules.features.build`` (aggregate the typed current rows per household where they are:
per-capita income, 12-month medical spending, vehicles) and ``core.rules.evaluate.screen`` (低保
rules), target < 10 s on 2 cores; then one household's features and decision again (``keys``), as
after one new fact of it (target < 1 s end to end, of which this is the store-to-decision part).
``python bench/screening.py``; ``BENCH_HOUSEHOLDS`` (1,000,000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.core.rules.test_features import DATASETS
from tests.core.rules.test_features import FEATURES as TEST_FEATURES

from _harness import machine_facts, postgres_store
from citybrain.core.aggregation.runner import declare
from citybrain.core.rules.evaluate import explain, screen
from citybrain.core.rules.features import SubjectSpec, build
from citybrain.core.rules.rulesets import ClauseSpec, RuleBook, RuleSet, RuleSetSpec
from citybrain.core.store.base import Store
from citybrain.core.store.duck import DuckStore
from citybrain.core.store.sql_aggregation import rows_table

N = int(os.environ.get("BENCH_HOUSEHOLDS", "1000000"))
VILLAGES = ["360121100202", "360121100201", "360102002001", "360111001001", "360124100201"]


# the test's datasets and features (hand-checked there), without the authorisations not filled here
FEATURES = [f for f in TEST_FEATURES if f.dataset != "civil.authorisations"]


FILL = {  # dataset -> (rows, key expression, column -> expression), over range(rows) t(i)
    "civil.households": (N, "'H' || i", {
        "household": "'H' || i",
        "village": "(['360121100202','360121100201','360102002001','360111001001',"
                   "'360124100201'])[1 + i % 5]",
        "members": "1 + i % 5"}),
    "hrss.wages": (N * 3 // 2, "'P' || i", {
        "person": "'P' || i", "household": "'H' || (i % {N})", "wage": "600.0 + (i * 7919) % 4000"}),
    "medical.bills": (N, "'B' || i", {
        "bill": "'B' || i", "household": "'H' || ((i * 31) % {N})", "amount": "((i * 104729) % 20000) + 0.5",
        "settled": "CAST(DATE '2024-12-01' + CAST(i % 730 AS INTEGER) AS VARCHAR)"}),
    "police.vehicles": (N * 3 // 10, "'V' || i", {
        "plate": "'V' || i", "household": "'H' || ((i * 7) % {N})"}),
}  # fmt: skip


def _inserts(series: Callable[[int], str]) -> list[str]:
    """Each dataset's rows written straight into its table of current rows (``series(rows)``:
    the backend's i = 0 .. rows - 1)."""
    out = []
    for name, (rows, key, cols) in FILL.items():
        names = ", ".join(f'"{c}"' for c in cols)
        exprs = ", ".join(e.replace("{N}", str(N)) for e in cols.values())
        out.append(f'INSERT INTO "{rows_table(name)}" (_key, _as_of, _batch, _ts, {names}) '
                   f"SELECT {key}, '2026-11-30', '{name}:bench', 0, {exprs} FROM {series(rows)}")  # fmt: skip
    return out


def fill(store: DuckStore) -> float:
    t0 = time.perf_counter()
    declare(store, DATASETS.values())
    cur = store._cur()
    for sql in _inserts(lambda rows: f"range({rows}) t(i)"):
        cur.execute(sql)
    cur.execute("CHECKPOINT")
    return time.perf_counter() - t0


PG_DIALECT = {"(['": "(ARRAY['", "AS VARCHAR)": "AS TEXT)"}


def fill_pg(store: Any) -> float:
    """The same rows on PostgreSQL: generate_series for range(), text casts, 1-based arrays alike."""
    t0 = time.perf_counter()
    declare(store, DATASETS.values())
    with store._db.tx() as cur:
        for sql in _inserts(lambda rows: f"generate_series(0::bigint, {rows - 1}) AS t(i)"):
            for duck, pg in PG_DIALECT.items():
                sql = sql.replace(duck, pg)
            cur.execute(sql)
    with store._db.tx() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - t0


def timed(name: str, store: Store, rs: RuleSet) -> None:
    for run in (1, 2, 3):
        t0 = time.perf_counter()
        pop = build(store, SubjectSpec("civil.households", "household", "village"), FEATURES, DATASETS)
        t1 = time.perf_counter()
        out = screen(RuleBook([rs]), "dibao", date(2026, 12, 1), pop.table)
        t2 = time.perf_counter()
        eligible = sum(1 for o in out.column("outcome").to_pylist() if o == "eligible")
        print(f"  {name} run {run}: features of {pop.table.num_rows:,} households in {t1 - t0:.2f} s, "
              f"decided in {t2 - t1:.2f} s: {t2 - t0:.2f} s in all ({eligible:,} eligible)")  # fmt: skip
    took = []
    for i in range(5):  # one household again, as after a new fact of it
        key = f"H{(i * 197_101) % N}"
        t0 = time.perf_counter()
        one = build(
            store, SubjectSpec("civil.households", "household", "village"), FEATURES, DATASETS, keys=[key]
        )
        explain(rs, key, one.table.to_pylist()[0], one.sources)
        took.append(time.perf_counter() - t0)
    print(f"  {name}: one household's features and decision again: "
          f"{', '.join(f'{t * 1000:.0f}' for t in took)} ms")  # fmt: skip


def main() -> None:
    print(machine_facts())
    rs = RuleSet.of(RuleSetSpec(
        name="dibao", title="低保", region="3601", valid_from="2026-01-01", version="bench",
        features=["income_pc_month", "vehicles", "medical_12m"], params={"standard_month": 900},
        clauses=[ClauseSpec("income", "收入低于低保标准", "income_pc_month < standard_month"),
                 ClauseSpec("vehicles", "无机动车", "vehicles == 0")]))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckStore(Path(tmp) / "screen.duckdb")
        try:
            print(f"  duckdb: {N:,} households and their departments' rows written in {fill(store):.1f} s")
            timed("duckdb", store, rs)
        finally:
            store.close()
    with postgres_store() as pgs:
        if pgs is not None:
            print(f"  postgres: {N:,} households and their departments' rows written in {fill_pg(pgs):.1f} s")
            timed("postgres", pgs, rs)


if __name__ == "__main__":
    main()

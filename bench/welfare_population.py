"""The welfare scene's departmental demo data (issue 15 item 7): a synthetic population of
``BENCH_HOUSEHOLDS`` households (1,000,000 by default) in Nanchang's real villages.

Timed: (1) building the people; (2) generating every dataset's rows (Arrow batches, rows per
dataset); (3) loading the departmental tables into the machine's PostgreSQL (COPY) and MariaDB
(LOAD DATA LOCAL INFILE) in fresh databases, dropped afterwards, each dataset on the server its
department uses (``departments.SERVER``) and then every dataset on both, each table's load and
the building of its key and 更新时间 index afterwards shown apart; (4) writing the drop-folder
files (GBK/UTF-8 CSV, .xlsx, Parquet) to a temporary folder. Prints numbers only; nothing asserts a time.
``python bench/welfare_population.py``; ``BENCH_HOUSEHOLDS``; ``BENCH_PARTS`` (default
"generate,postgres,mariadb,files") chooses the parts.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine_facts
from citybrain.scenes.welfare import departments
from citybrain.scenes.welfare.population import Population

N = int(os.environ.get("BENCH_HOUSEHOLDS", "1000000"))
PARTS = os.environ.get("BENCH_PARTS", "generate,postgres,mariadb,files").split(",")
AS_OF = date(2026, 11, 30)
ADMIN = {
    "mariadb": os.environ.get("CITYBRAIN_TEST_MARIADB_DSN", "mariadb://root@127.0.0.1:3306/test"),
    "postgres": os.environ.get("CITYBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
}


class Lines(logging.Handler):
    """Collects the loaders' log lines: how each table was loaded, the load's and the key's seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def generate(pop: Population) -> None:
    total_rows, total_s = 0, 0.0
    for name in pop.datasets:
        t0 = time.perf_counter()
        rows = sum(b.num_rows for b in pop.rows(name))
        took = time.perf_counter() - t0
        total_rows, total_s = total_rows + rows, total_s + took
        print(f"  {name:22s} {rows:>12,d} rows  {took:6.1f} s  {rows / max(took, 1e-9):>12,.0f} rows/s")
    rate = total_rows / total_s
    print(f"  {'every dataset':22s} {total_rows:>12,d} rows  {total_s:6.1f} s  {rate:>12,.0f} rows/s")


def database(kind: str) -> tuple[str, object]:
    """A fresh database on the server: its DSN and a closer that drops it."""
    name = f"bench_welfare_{uuid.uuid4().hex[:8]}"
    if kind == "mariadb":
        conn = departments._mariadb_connect(ADMIN["mariadb"])
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

        def drop() -> None:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
    else:
        import psycopg

        pg = psycopg.connect(ADMIN["postgres"], autocommit=True)
        pg.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            pg.close()

    return ADMIN[kind].rsplit("/", 1)[0] + "/" + name, drop


def load(pop: Population, kind: str, lines: Lines) -> None:
    try:
        dsn, drop = database(kind)
    except Exception as err:  # a server that is not there: the other figures still count
        print(f"  {kind}: not measured ({type(err).__name__}: {err})")
        return
    loader = departments.load_mariadb if kind == "mariadb" else departments.load_postgres
    try:
        for label, datasets in (
            ("its departments' datasets", departments.on_server(pop.datasets, kind)),
            ("every dataset", pop.datasets),
        ):
            lines.lines.clear()
            t0 = time.perf_counter()
            rows = sum(loader(dsn, pop, datasets).values())
            took = time.perf_counter() - t0
            print(f"  {kind}, {label}: {rows:,} rows in {took:.1f} s ({rows / took:,.0f} rows/s, "
                  "generating the rows included)")  # fmt: skip
            for line in lines.lines:
                print(f"    {line}")
    finally:
        drop()  # type: ignore[operator]


def files(pop: Population) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-welfare-") as tmp:
        for name, ds in pop.datasets.items():
            if ds.origin != "file":
                continue
            t0 = time.perf_counter()
            paths = departments.write_files(Path(tmp), pop, {name: ds})
            took = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in paths) / 1e6
            print(f"  {name:22s} {ds.format:8s} {len(paths)} file(s) {size:8.1f} MB  {took:6.1f} s")


def main() -> None:
    print(machine_facts())
    handler = Lines()
    logging.getLogger(departments.__name__).addHandler(handler)
    logging.getLogger(departments.__name__).setLevel(logging.INFO)
    t0 = time.perf_counter()
    pop = Population(N, seed=15, as_of=AS_OF)
    took = time.perf_counter() - t0
    print(f"welfare population: {N:,} households, {pop.people:,} people, built in {took:.1f} s")
    if "generate" in PARTS:
        print("generating every dataset's rows (Arrow batches):")
        generate(pop)
    for kind in ("postgres", "mariadb"):
        if kind in PARTS:
            print(f"loading departmental tables into {kind}:")
            load(pop, kind, handler)
    if "files" in PARTS:
        print("writing the drop-folder files:")
        files(pop)


if __name__ == "__main__":
    main()

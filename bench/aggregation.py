"""Data aggregation (issue 15): connector throughput, each next to the raw reader in the same run.

(a) MariaDB pull: a table of ``ROWS`` rows (household, person id, amount, date, updated_at) in the
    machine's MariaDB; timed: the raw driver reading every row (PyMySQL, an unbuffered cursor), and
    ``Aggregator.pull`` into a platform with a DuckDB store (keyset pages of 5,000, every row
    checked and typed, good rows published durably as facts, report and watermark saved per page).
(b) CSV file drop: the same rows as a GBK CSV; timed: Python's csv module reading it, and
    ``Aggregator.load_file`` (read, check, publish, report).
Rows per second, and the ratio to the raw reader. Prints numbers only; nothing asserts a time.
``python bench/aggregation.py``; ``BENCH_ROWS`` (default 200,000).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine_facts
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.testing import server_ports_env

ROWS = int(os.environ.get("BENCH_ROWS", "200000"))
COLUMNS = """columns = [
  {{ name = "household", source = "{h}", required = true }},
  {{ name = "person", source = "{p}", type = "id_number" }},
  {{ name = "amount", source = "{a}", type = "float", min = 0 }},
  {{ name = "settled", source = "{s}", type = "date" }},
  {{ name = "updated_at", type = "text" }},
]"""


def ids(n: int) -> list[str]:
    """``n`` valid resident ID numbers (ISO 7064 MOD 11-2 check digits)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    out = []
    for i in range(n):
        body = f"360121{19500101 + (i % 28) + 100 * (i % 12):08d}{i % 1000:03d}"
        check = (12 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11) % 11
        out.append(body + ("X" if check == 10 else str(check)))
    return out


def datasets_file(folder: Path, table: str) -> str:
    pull = f"""[[datasets]]
name = "medical.bills"
title = "医保结算"
owner = "nc-health"
key = ["household"]
origin = "pull"
snapshot = false
dsn = "mysql://root@127.0.0.1:3306/test"
table = "{table}"
watermark = "updated_at"
{COLUMNS.format(h="household", p="person", a="amount", s="settled")}
"""
    drop = f"""[[datasets]]
name = "civil.roster"
title = "花名册"
owner = "nc-civil"
key = ["household"]
origin = "file"
folder = "{folder}"
format = "csv"
encoding = "gbk"
{COLUMNS.format(h="户编号", p="身份证号", a="金额", s="日期")}
"""
    return pull + "\n" + drop


def rows() -> list[tuple[str, str, float, str, str]]:
    people = ids(ROWS)
    out = []
    for i in range(ROWS):
        stamp = f"2026-11-30 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        out.append(
            (f"H{i:07d}", people[i], round(50 + (i * 37) % 5000 / 3, 2), f"2026-11-{1 + i % 28:02d}", stamp)
        )
    return out


def bench_mariadb(platform: Platform, table: str, data: list[tuple[str, str, float, str, str]]) -> None:
    import pymysql
    import pymysql.cursors

    con = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test",
                          charset="utf8mb4", autocommit=True)  # fmt: skip
    try:
        with con.cursor() as cur:
            cur.execute(f"CREATE TABLE {table} (household VARCHAR(20), person CHAR(18), "
                        "amount DECIMAL(10,2), settled DATE, updated_at DATETIME, PRIMARY KEY (household), "
                        "KEY (updated_at)) CHARACTER SET utf8mb4")  # fmt: skip
            for i in range(0, len(data), 10_000):
                cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", data[i : i + 10_000])
        t0 = time.perf_counter()
        with con.cursor(pymysql.cursors.SSCursor) as cur:
            cur.execute(f"SELECT household, person, amount, settled, updated_at FROM {table}")
            n = sum(1 for _ in cur)
        raw = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        run = platform.aggregator.pull("medical.bills")
        ours = run.rows_read / (time.perf_counter() - t0)
        print(f"  MariaDB: raw PyMySQL unbuffered read {raw:,.0f} rows/s; Aggregator.pull {ours:,.0f} rows/s "
              f"({run.rows_good:,} facts, {run.rows_bad} refused, source_rows {run.source_rows:,}); "
              f"ratio {ours / raw:.2f}")  # fmt: skip
    finally:
        with con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        con.close()


def bench_csv(platform: Platform, folder: Path, data: list[tuple[str, str, float, str, str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["户编号", "身份证号", "金额", "日期", "updated_at"])
    w.writerows(data)
    path = folder / "roster.csv"
    path.write_bytes(buf.getvalue().encode("gbk"))
    t0 = time.perf_counter()
    with path.open(encoding="gbk", newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    raw = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    run = platform.aggregator.load_file("civil.roster", path)
    ours = run.rows_read / (time.perf_counter() - t0)
    size = path.stat().st_size / 1e6
    print(f"  GBK CSV ({size:.1f} MB): raw csv.DictReader {raw:,.0f} rows/s; Aggregator.load_file "
          f"{ours:,.0f} rows/s ({run.rows_good:,} facts, {run.rows_bad} refused); "
          f"ratio {ours / raw:.2f}")  # fmt: skip


def main() -> None:
    print(machine_facts())
    print(f"data aggregation, {ROWS:,} rows per connector")
    data = rows()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "drop"
        folder.mkdir()
        table = f"bench_bills_{uuid.uuid4().hex[:6]}"
        (Path(tmp) / "datasets.toml").write_text(datasets_file(folder, table), encoding="utf-8")
        env = {"CITYBRAIN_DATA_DIR": str(Path(tmp) / "var"), **server_ports_env(),
               "CITYBRAIN_AGGREGATION__DATASETS_FILE": str(Path(tmp) / "datasets.toml")}  # fmt: skip
        platform = Platform(load_settings(env=env), scenes={})
        try:
            bench_mariadb(platform, table, data)
            bench_csv(platform, folder, data)
        finally:
            platform.store.close()


if __name__ == "__main__":
    main()

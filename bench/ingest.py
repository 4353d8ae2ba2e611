"""Benchmark 13a + 13c: HTTP batch ingest of ~300-byte events to the durable store, sustained,
with peak server RSS; and in the same run the raw DuckDB Arrow append rate of the same events.

    python bench/ingest.py [--seconds 20] [--conns 3] [--batch 10000]

Client and server share this machine's cores: the figure includes the client's cost.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import tempfile
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from _harness import ServerProc, machine_facts

DISTRICTS = ["360102", "360103", "360104", "360111", "360112", "360113", "360121", "360123", "360124"]
ADDR = "南昌市东湖区八一大道{n}号省政府东侧人行道 井盖缺失"


def body(start: int, n: int, ts: int) -> bytes:
    lines = [
        f'{{"kind":"pulse.report","key":"{DISTRICTS[i % 9]}","ts":{ts + i % 1000},'
        f'"source":"12345-hotline/nanchang/intake-gw-03","id":"{uuid.UUID(int=i).hex}",'
        f'"category":"hotline","count":1,"address":"{ADDR.format(n=i % 997)}"}}'
        for i in range(start, start + n)
    ]
    return ("\n".join(lines)).encode()


def raw_duckdb_rate(n_batches: int, batch: int, tmp: Path) -> tuple[float, int]:
    """Arrow batches of the same events (same columns as the events table) appended to DuckDB."""
    con = duckdb.connect(str(tmp / "raw.duckdb"))
    from citybrain.core.store.schema import TABLES

    con.execute(TABLES["events"])
    ts = time.time_ns() // 1_000_000
    tables = []
    for b in range(n_batches):
        raw = body(b * batch, batch, ts).split(b"\n")
        tables.append(pa.table({
            "partition": pa.array([i % 4 for i in range(batch)], pa.int32()),
            "poff": pa.array(range(b * batch, (b + 1) * batch), pa.int64()),
            "id": [uuid.UUID(int=i).hex for i in range(b * batch, (b + 1) * batch)],
            "kind": ["pulse.report"] * batch,
            "key": [DISTRICTS[i % 9] for i in range(batch)],
            "source": ["12345-hotline/nanchang/intake-gw-03"] * batch,
            "ts": pa.array([ts] * batch, pa.int64()), "ingest_ts": pa.array([ts] * batch, pa.int64()),
            "payload": [r.decode() for r in raw],
        }))  # fmt: skip
    t0 = time.perf_counter()
    for t in tables:
        con.register("_b", t)
        con.execute("INSERT INTO events SELECT * FROM _b")
        con.unregister("_b")
    dt = time.perf_counter() - t0
    con.close()
    return n_batches * batch / dt, len(raw[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--conns", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10_000)
    a = ap.parse_args()
    print(f"machine: {machine_facts()}")
    tmp = Path(tempfile.mkdtemp(prefix="cb-bench-ingest-"))
    raw_rate, size = raw_duckdb_rate(50, a.batch, tmp)
    print(f"event size: {size} bytes (JSON line)")
    print(f"raw DuckDB Arrow append, same events, batches of {a.batch}: {raw_rate:,.0f} events/s")

    with ServerProc(tmp / "var", "pulse", CITYBRAIN_BUS__MAX_LAG="50000000") as srv:
        counter = itertools.count()
        acked, refused, lock = [0], [0], threading.Lock()
        deadline = time.time() + a.seconds

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
            headers = {"Authorization": f"Bearer {srv.token}", "Content-Type": "application/x-ndjson"}
            while time.time() < deadline:
                payload = body(next(counter) * a.batch, a.batch, time.time_ns() // 1_000_000)
                conn.request("POST", "/api/v1/events", payload, headers)
                r = conn.getresponse()
                r.read()
                with lock:
                    if r.status == 200:
                        acked[0] += a.batch
                    else:
                        refused[0] += 1

        cpu0 = srv.cpu_seconds()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(a.conns)]
        for t in threads:
            t.start()
        peak_rss = 0.0
        while any(t.is_alive() for t in threads):
            peak_rss = max(peak_rss, srv.status("VmRSS"))
            time.sleep(0.2)
        dt = time.perf_counter() - t0
        cpu = srv.cpu_seconds() - cpu0
        rate = acked[0] / dt
        hwm = srv.status("VmHWM")
        print(f"HTTP ingest to durable store: {rate:,.0f} events/s sustained over {dt:.1f} s "
              f"({acked[0]:,} acknowledged, {refused[0]} refused requests, {a.conns} connections, "
              f"batches of {a.batch})")  # fmt: skip
        print(f"ratio HTTP ingest / raw DuckDB append: {rate / raw_rate:.2f}")
        print(f"server CPU: {cpu / dt:.2f} cores busy on average")
        print(f"server peak RSS (VmHWM): {hwm:,.0f} MB (sampled max {peak_rss:,.0f} MB)")
        print("targets: >= 200,000 events/s; peak RSS < 1,500 MB")


if __name__ == "__main__":
    main()

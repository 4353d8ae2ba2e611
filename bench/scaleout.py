"""Scale-out throughput: events/s through NATS JetStream -> worker(s) -> PostgreSQL.

For 1, 2 and 4 worker processes (role worker, the city pulse scene, 8 partitions) one publisher
process pushes a fixed number of ~200-byte events as fast as the bus accepts them; we measure
* throughput: events/s from the first publish until every event has been processed (metrics
  committed with the checkpoint in PostgreSQL), i.e. end to end, not just publish;
* end-to-end latency p50/p99 at a steady, moderate rate: publish -> the pulse state update for
  that event visible in PostgreSQL (sampled with marker events);
* recovery after kill -9 of one of 2 workers: time until the survivor owns every partition, and
  until the backlog is processed.
Runs against the machine's PostgreSQL (5432) and NATS (4222), in a throwaway schema and streams.
Bounded: about 2-3 minutes. Prints numbers; asserts nothing.

    .venv/bin/python bench/scaleout.py [--events 60000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from citybrain.core.config import Settings, load_settings
from citybrain.core.errors import CitybrainError
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "scaleout" / "worker_main.py"
DSN = os.environ.get("CITYBRAIN_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NATS = os.environ.get("CITYBRAIN_BENCH_NATS_URL", "nats://127.0.0.1:4222")
MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN
PARTITIONS = 8


def env_for(tag: str) -> dict[str, str]:
    return {
        "CITYBRAIN_STORE": "postgres",
        "CITYBRAIN_POSTGRES__DSN": DSN,
        "CITYBRAIN_POSTGRES__SCHEMA": f"bench_{tag}",
        "CITYBRAIN_BUS__BACKEND": "nats",
        "CITYBRAIN_BUS__PARTITIONS": str(PARTITIONS),
        "CITYBRAIN_NATS__URL": NATS,
        "CITYBRAIN_NATS__STREAM": f"BENCH_{tag}",
        "CITYBRAIN_NATS__SUBJECT": f"bench{tag}.events",
        "CITYBRAIN_NATS__LEASE_TTL_S": "2.0",
        "CITYBRAIN_SCENES__PULSE__ALLOWED_LATENESS_MS": "86400000",
    }


def workers(tag: str, n: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, **env_for(tag), "CITYBRAIN_ROLE": "worker"}
    return [
        subprocess.Popen([sys.executable, str(WORKER)], env={**env, "CITYBRAIN_NATS__WORKER_ID": f"w{i}"})
        for i in range(n)
    ]


def query(schema: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(DSN, options=f"-c search_path={schema}") as conn:
        try:
            return conn.execute(sql).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def owners(schema: str) -> dict[int, str]:
    return {int(p): str(o) for p, o in query(schema, "SELECT partition, owner FROM partition_owners")}  # type: ignore[call-overload]


def processed(schema: str) -> int:
    rows = query(schema, "SELECT coalesce(sum(poff), 0) FROM checkpoints WHERE processor = 'pulse.rates'")
    return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]


def wait(cond: object, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():  # type: ignore[operator]
            return time.monotonic() - t0
        time.sleep(0.05)
    raise TimeoutError(f"gave up after {timeout} s")


def events(n0: int, n: int, size: int = 500) -> list[list[PulseReport]]:
    out = []
    for b in range(n0, n0 + n // size):
        out.append([PulseReport(key=f"3601{(b * size + i) % 16:02d}", ts=T0 + b * 50 + i % 50,
                                category="hotline", id=f"e{b}-{i}") for i in range(size)])  # fmt: skip
    return out


def publish_all(api: Platform, batches: list[list[PulseReport]]) -> None:
    for batch in batches:
        while True:
            try:
                api.publish(batch)
                break
            except CitybrainError:
                time.sleep(0.05)


def setup(tag: str, n_workers: int) -> tuple[Settings, Platform, list[subprocess.Popen[bytes]]]:
    s = load_settings(env={**env_for(tag), "CITYBRAIN_ROLE": "api"})
    api = Platform(s, scenes={"pulse": discover({"pulse"})["pulse"]})
    procs = workers(tag, n_workers)
    schema = s.postgres.schema
    want = {f"w{i}" for i in range(n_workers)}
    wait(lambda: len(owners(schema)) == PARTITIONS and set(owners(schema).values()) == want, 60)
    return s, api, procs


def teardown(s: Settings, api: Platform, procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
    api.stop()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{s.postgres.schema}" CASCADE')
    import asyncio

    import nats

    async def drop() -> None:
        nc = await nats.connect(NATS)
        js = nc.jetstream()
        for name in [f"{s.nats.stream}_P{p}" for p in range(PARTITIONS)] + [f"KV_{s.nats.stream}_leases"]:
            with contextlib.suppress(Exception):  # best-effort cleanup
                await js.delete_stream(name)
        await nc.close()

    asyncio.run(drop())


def throughput(n_workers: int, n_events: int) -> float:
    tag = uuid.uuid4().hex[:8]
    s, api, procs = setup(tag, n_workers)
    try:
        batches = events(0, n_events)
        total = sum(len(b) for b in batches)
        t0 = time.perf_counter()
        publish_all(api, batches)
        t_pub = time.perf_counter() - t0
        wait(lambda: processed(s.postgres.schema) >= total, 300)
        dt = time.perf_counter() - t0
        print(f"  {n_workers} worker(s): {total / dt:>9,.0f} events/s end to end "
              f"({total:,} events in {dt:.1f} s; publish alone {total / t_pub:,.0f} events/s)")  # fmt: skip
        return total / dt
    finally:
        teardown(s, api, procs)


def latency(rate: int, seconds: float) -> None:
    """Publish ``rate`` events/s in 100 ms ticks; time until each tick's events are processed."""
    tag = uuid.uuid4().hex[:8]
    s, api, procs = setup(tag, 2)
    lat: list[float] = []
    try:
        per_tick = max(1, rate // 10)
        sent = 0
        pending: list[tuple[int, float]] = []
        t_end = time.monotonic() + seconds
        b = 0
        while time.monotonic() < t_end:
            tick = time.monotonic()
            batch = [PulseReport(key=f"3601{(b * per_tick + i) % 16:02d}", ts=T0 + b * 100 + i % 100,
                                 category="hotline", id=f"l{b}-{i}") for i in range(per_tick)]  # fmt: skip
            publish_all(api, [batch])
            sent += len(batch)
            pending.append((sent, tick))
            done = processed(s.postgres.schema)
            now = time.monotonic()
            while pending and pending[0][0] <= done:
                lat.append(now - pending.pop(0)[1])
            b += 1
            time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
        while pending:
            done = processed(s.postgres.schema)
            now = time.monotonic()
            while pending and pending[0][0] <= done:
                lat.append(now - pending.pop(0)[1])
            time.sleep(0.01)
        lat.sort()
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"  latency at {rate:,} events/s (2 workers): p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
              f"(publish -> metrics + checkpoint committed in PostgreSQL; {len(lat)} ticks)")  # fmt: skip
    finally:
        teardown(s, api, procs)


def recovery(n_events: int) -> None:
    tag = uuid.uuid4().hex[:8]
    s, api, procs = setup(tag, 2)
    try:
        schema = s.postgres.schema
        batches = events(0, n_events)
        total = sum(len(b) for b in batches)
        publish_all(api, batches[: len(batches) // 2])
        procs[0].send_signal(signal.SIGKILL)
        t_kill = time.monotonic()
        import threading

        rest = threading.Thread(target=publish_all, args=(api, batches[len(batches) // 2 :]))
        rest.start()  # data keeps arriving while the survivor takes over
        wait(lambda: set(owners(schema).values()) == {"w1"}, 60)
        owned = time.monotonic() - t_kill
        rest.join()
        wait(lambda: processed(schema) >= total, 300)
        caught_up = time.monotonic() - t_kill
        print(f"  recovery after kill -9 of 1 of 2 workers (lease TTL {s.nats.lease_ttl_s:.0f} s): "
              f"survivor owns every partition after {owned:.1f} s; all {total:,} events processed "
              f"{caught_up:.1f} s after the kill")  # fmt: skip
    finally:
        teardown(s, api, procs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=60_000)
    args = ap.parse_args()
    print(f"scale-out bench: NATS {NATS}, PostgreSQL {DSN}, {PARTITIONS} partitions, {os.cpu_count()} cores")
    print("throughput (publisher -> JetStream -> raw sink COPY -> pulse processor -> PostgreSQL):")
    for n in (1, 2, 4):
        throughput(n, args.events)
    latency(2_000, 10.0)
    recovery(args.events // 2)


if __name__ == "__main__":
    main()

"""Benchmark 13b: event -> alert latency p50/p99 at a steady event rate (default 20,000 events/s).

    python bench/alert_latency.py [--rate 20000] [--seconds 30]

A sender posts batches every 50 ms; in each batch one reading exceeds its limit, on a sensor of
its own, so it opens one alert. The latency runs from just before the POST to the alert arriving
on the WebSocket live feed: ingest, durable append, bus, processor, commit, live push.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from _harness import ServerProc, machine_facts


async def run(rate: int, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cb-bench-alert-"))
    with ServerProc(tmp / "var", "bench") as srv:
        sent: dict[str, float] = {}
        lat: list[float] = []
        ws = await websockets.connect(f"ws://127.0.0.1:{srv.port}/api/v1/live")
        await ws.send(json.dumps({"op": "auth", "token": srv.token}))
        await ws.recv()
        await ws.send(json.dumps({"op": "subscribe", "topics": ["alert.bench"]}))
        await ws.recv()

        async def listen() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                a = msg["data"]
                if a["count"] == 1 and a["key"] in sent:
                    lat.append(time.perf_counter() - sent.pop(a["key"]))

        listener = asyncio.create_task(listen())
        per_tick, tick = rate // 20, 0.05
        headers = {"Authorization": f"Bearer {srv.token}", "Content-Type": "application/x-ndjson"}
        async with httpx.AsyncClient(base_url=srv.url, headers=headers, timeout=30) as client:
            start = time.perf_counter()
            n = 0
            late_ticks = 0
            while time.perf_counter() - start < seconds:
                now_ms = time.time_ns() // 1_000_000
                hot = f"hot-{n}"
                lines = [f'{{"kind":"bench.reading","key":"s{(n * per_tick + i) % 5000}","ts":{now_ms},'
                         f'"id":"r{n}-{i}","value":{i % 90}}}' for i in range(per_tick - 1)]  # fmt: skip
                lines.append(
                    f'{{"kind":"bench.reading","key":"{hot}","ts":{now_ms},"id":"h{n}","value":500}}'
                )
                sent[hot] = time.perf_counter()
                r = await client.post("/api/v1/events", content="\n".join(lines))
                r.raise_for_status()
                n += 1
                wait = start + n * tick - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    late_ticks += 1
            achieved = n * per_tick / (time.perf_counter() - start)
        await asyncio.sleep(2)
        listener.cancel()
        await ws.close()
    lat.sort()
    print(f"machine: {machine_facts()}")
    print(f"steady rate: {achieved:,.0f} events/s (asked {rate:,}; {late_ticks} of {n} ticks ran late)")
    if lat:
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        print(f"event -> alert latency over {len(lat)} alerts: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms (target p99 < 250 ms)")  # fmt: skip
    print(f"alerts not seen: {len(sent)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    asyncio.run(run(a.rate, a.seconds))


if __name__ == "__main__":
    main()

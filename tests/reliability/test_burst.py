"""A 10x burst: backpressure (429 with Retry-After, or slower acks), bounded memory, full recovery."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from citybrain.core.events import encode_ndjson
from citybrain.geo.regions import NANCHANG as DISTRICTS
from citybrain.scenes.pulse.events import PulseReport
from citybrain.testing import free_port
from tests.support.server import Server

CODES = list(DISTRICTS)


def test_burst_gets_backpressure_bounded_memory_and_recovers(tmp_path: Path) -> None:
    srv = Server(tmp_path / "var", free_port(), CITYBRAIN_BUS__MAX_LAG="30000", CITYBRAIN_BUS__TAIL="20000")
    srv.start()
    base_rss = srv.rss_mb()
    codes: dict[int, int] = {}
    acked = 0
    peak_rss = base_rss
    lock = threading.Lock()
    deadline = time.time() + 12

    def client(k: int) -> None:
        nonlocal acked
        i = 0
        with httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=60
        ) as c:
            while time.time() < deadline:
                now = time.time_ns() // 1_000_000
                evs = [
                    PulseReport(key=CODES[j % 9], ts=now, category="parking", id=f"b{k}-{i}-{j}")
                    for j in range(5_000)
                ]
                i += 1
                r = c.post("/api/v1/events", content=encode_ndjson(evs))
                with lock:
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        acked += r.json()["accepted"]
                if r.status_code == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                    time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak_rss = max(peak_rss, srv.rss_mb())
        time.sleep(0.1)
    assert set(codes) <= {200, 429}, f"only 200 and 429 are acceptable under a burst, got {codes}"
    assert codes.get(429, 0) > 0, "the burst must meet backpressure"
    assert peak_rss < 1_500, f"peak RSS {peak_rss:.0f} MB"
    srv.wait_caught_up(timeout=180)  # full recovery: everything acknowledged gets processed
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}) as c:
        counted = sum(
            s["data"]["by_category"].get("parking", 0) for s in c.get("/api/v1/entities/pulse").json()
        )
        assert c.get("/readyz").json()["ready"] is True
    srv.stop()
    assert counted == acked

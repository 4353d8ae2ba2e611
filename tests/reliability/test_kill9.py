"""kill -9 during sustained ingest, then restart: zero acknowledged events lost, zero duplicated,
and processors count every stored event exactly once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from citybrain.core.events import encode_ndjson
from citybrain.core.store.duck import DuckStore
from citybrain.geo.regions import NANCHANG as DISTRICTS
from citybrain.scenes.pulse.events import PulseReport
from citybrain.testing import free_port
from tests.support.server import Server

CODES = list(DISTRICTS)


def batch(n: int, start: int) -> list[PulseReport]:
    now = time.time_ns() // 1_000_000
    return [
        PulseReport(key=CODES[i % len(CODES)], ts=now, category="hotline", id=f"k{i}")
        for i in range(start, start + n)
    ]


def test_kill9_during_ingest_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    srv = Server(tmp_path / "var", free_port())
    srv.start()
    acked: list[str] = []
    unacked: list[list[PulseReport]] = []
    stop = threading.Event()

    def sender(offset: int) -> None:
        i = offset
        with httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=10
        ) as c:
            while not stop.is_set():
                b = batch(500, i)
                i += 1_000  # two senders interleave disjoint id ranges
                try:
                    r = c.post("/api/v1/events", content=encode_ndjson(b))
                except httpx.TransportError:
                    unacked.append(b)
                    return
                if r.status_code == 200:
                    acked.extend(e.id for e in b)
                else:
                    unacked.append(b)

    threads = [threading.Thread(target=sender, args=(k * 500,)) for k in range(2)]
    for t in threads:
        t.start()
    while len(acked) < 20_000:
        time.sleep(0.05)
    srv.kill9()  # mid-stream: requests are in flight
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 20_000

    srv.start()
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}, timeout=30) as c:
        for b in unacked:  # the senders retry what was never acknowledged
            assert c.post("/api/v1/events", content=encode_ndjson(b)).status_code == 200
    srv.wait_caught_up()
    srv.stop()

    store = DuckStore(tmp_path / "var" / "citybrain.duckdb", read_only=True)
    try:
        cur = store._cur()
        # a sender's own ids are stored scoped by its token: "<token id>:<id>"
        stored = {r[0].split(":", 1)[1] for r in cur.execute("SELECT id FROM events").fetchall()}
        assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged events lost"
        assert cur.execute("SELECT count(*) FROM events").fetchall()[0][0] == len(stored), "duplicated events"
        counted = cur.execute(
            "SELECT sum(value) FROM metrics WHERE name = 'pulse.reports_per_min'"
        ).fetchall()[0][0]
        assert counted == len(stored), "processors must count every stored event exactly once"
    finally:
        store.close()

"""Issue 10 against a real `citybrain serve`: a line holding two events plus a repeated line, a
restart while data arrives, events dated 2099, and one sender pre-empting another's ids."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from citybrain.core.clock import now_ms
from citybrain.core.events import encode_ndjson, to_json
from citybrain.core.scenes import discover
from citybrain.core.store.duck import DuckStore
from citybrain.core.store.rows import event_from_row
from citybrain.geo.regions import NANCHANG as DISTRICTS
from citybrain.scenes.pulse.events import PulseReport
from citybrain.testing import free_port
from tests.support.server import Server

CODES = list(DISTRICTS)
discover()  # this process reads the store afterwards: every scene's event kinds


def test_misframed_lines_far_future_times_and_foreign_ids_cannot_corrupt_or_stall(tmp_path: Path) -> None:
    srv = Server(tmp_path / "var", free_port())
    srv.start()
    admin = {"Authorization": f"Bearer {srv.token}"}
    try:
        with httpx.Client(base_url=srv.url, headers=admin, timeout=30) as c:
            # 1. `{A},{B}` on one line, then C twice: A and B are that line's error, C is stored once
            t = now_ms()
            a, b, cc = (PulseReport(key="360102", ts=t, category=cat, id=f"x-{cat}") for cat in "abc")
            body = to_json(a) + b"," + to_json(b) + b"\n" + to_json(cc) + b"\n" + to_json(cc) + b"\n"
            r = c.post("/api/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
            assert r.status_code == 200, r.text
            got = r.json()
            assert (got["accepted"], got["duplicates"], got["rejected"]) == (1, 1, 1)
            assert got["errors"][0]["line"] == 1 and "trailing characters" in got["errors"][0]["reason"]

            # 2. four events dated 2099, one per partition, are per-line errors and freeze nothing
            future = [PulseReport(key=k, ts=4_102_000_000_000, category="x") for k in CODES[:4]]
            r = c.post("/api/v1/events", content=encode_ndjson(future))
            assert r.status_code == 422 and r.json()["rejected"] == 4
            assert all(
                e["field"] == "ts" and "ahead of the platform clock" in e["reason"]
                for e in r.json()["errors"]
            )

            # 3. one sender cannot pre-empt another's ids
            other = c.post("/api/v1/tokens", json={"name": "other-source", "scopes": ["ingest"]}).json()[
                "token"
            ]
            spoof = PulseReport(key="360103", ts=now_ms(), category="spoof", id="gate-7-0001")
            assert c.post("/api/v1/events", content=encode_ndjson([spoof])).json()["accepted"] == 1
            real = PulseReport(key="360103", ts=spoof.ts, category="parking", id="gate-7-0001")
            r = c.post(
                "/api/v1/events", content=encode_ndjson([real]), headers={"Authorization": f"Bearer {other}"}
            )
            assert r.json()["accepted"] == 1, "the real source's event was dropped as a duplicate"

        # 4. restart while data keeps arriving: nothing stalls, everything is processed
        stop = threading.Event()

        def sender() -> None:
            i = 0
            with httpx.Client(base_url=srv.url, headers=admin, timeout=10) as c2:
                while not stop.is_set():
                    evs = [
                        PulseReport(key=CODES[j % 9], ts=now_ms(), category="hotline", id=f"s{i}-{j}")
                        for j in range(50)
                    ]
                    i += 1
                    try:
                        c2.post("/api/v1/events", content=encode_ndjson(evs))
                    except httpx.TransportError:
                        time.sleep(0.1)

        th = threading.Thread(target=sender)
        th.start()
        time.sleep(1.0)
        srv.stop()
        srv.start()
        time.sleep(1.0)
        stop.set()
        th.join(30)
        srv.wait_caught_up(timeout=60)
        ready = httpx.get(f"{srv.url}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        q = httpx.get(f"{srv.url}/api/v1/quarantine", headers=admin, timeout=5).json()
        assert q["total"] == 0, q
        states = {s["key"]: s for s in httpx.get(f"{srv.url}/api/v1/entities/pulse", headers=admin).json()}
        assert states["360102"]["data"]["current_minute"] + states["360102"]["data"]["last_minute"] > 0
    finally:
        srv.stop()

    # every stored payload is its own event's content
    store = DuckStore(tmp_path / "var" / "citybrain.duckdb", read_only=True)
    try:
        rows = store._cur().execute("SELECT id, ingest_ts, payload, kind, key FROM events").fetchall()
        for eid, ingest_ts, payload, kind, key in rows:
            ev = event_from_row(eid, ingest_ts, payload)
            assert (ev.kind_name(), ev.key) == (kind, key), eid
            assert msgspec_id(payload) in ("", eid), f"payload of {eid} belongs to {msgspec_id(payload)}"
        sql = (
            "SELECT id, json_extract_string(payload, '$.category') FROM events "
            "WHERE id LIKE '%x-%' OR id LIKE '%gate-7%'"
        )
        cats = dict(store._cur().execute(sql).fetchall())
        assert sorted(cats.values()) == ["c", "parking", "spoof"], cats
        assert store._cur().execute("SELECT count(*) FROM late_events").fetchall()[0][0] == 0
    finally:
        store.close()


def msgspec_id(payload: str) -> str:
    import msgspec

    return str(msgspec.json.decode(payload).get("id", ""))

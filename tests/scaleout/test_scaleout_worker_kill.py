"""kill -9 a worker mid-stream: another worker takes its partitions over; every acknowledged event
is stored once and counted once (exact per-district, per-minute counts)."""

from __future__ import annotations

import signal
import time

import psycopg

from citybrain.core.errors import CitybrainError
from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport
from tests.scaleout.scaleout_support import (
    MakeSettings,
    expected_counts,
    metric_counts,
    start_worker,
    wait_for,
)

MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN
DISTRICTS = [f"3601{i:02d}" for i in range(12)]


def owners(dsn: str, schema: str) -> dict[int, str]:
    with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
        try:
            rows = conn.execute("SELECT partition, owner FROM partition_owners").fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
    return {int(p): str(o) for p, o in rows}


def test_kill9_worker_mid_stream_loses_and_duplicates_nothing(scaleout: MakeSettings) -> None:
    s = scaleout(CITYBRAIN_SCENES__PULSE__ALLOWED_LATENESS_MS="3600000", CITYBRAIN_ROLE="api")
    api = Platform(s, scenes={"pulse": discover({"pulse"})["pulse"]})  # publishes only
    dsn, schema = s.postgres.dsn, s.postgres.schema
    a, b = start_worker(s, "worker-a"), start_worker(s, "worker-b")
    try:
        wait_for(lambda: set(owners(dsn, schema).values()) == {"worker-a", "worker-b"} and
                 len(owners(dsn, schema)) == 4, 30, "two workers sharing the partitions")  # fmt: skip
        acked: list[Event] = []
        killed_at, took_over = 0.0, 0.0
        for n in range(60):
            batch: list[Event] = [
                PulseReport(
                    key=DISTRICTS[(n * 300 + i) % 12], ts=T0 + n * 3000 + i * 7, category="c", id=f"k{n}-{i}"
                )
                for i in range(300)
            ]
            while True:
                try:
                    api.publish(batch)
                    break
                except CitybrainError:  # backpressure or a bus hiccup: the sender retries the same events
                    time.sleep(0.2)
            acked.extend(batch)
            if n == 20:  # mid-stream, with worker A holding partitions and uncommitted work in flight
                a.send_signal(signal.SIGKILL)
                a.wait(10)
                killed_at = time.monotonic()
            if killed_at and not took_over and set(owners(dsn, schema).values()) == {"worker-b"}:
                took_over = time.monotonic() - killed_at
            time.sleep(0.05)
        wait_for(lambda: set(owners(dsn, schema).values()) == {"worker-b"}, 30, "B owning every partition")
        wait_for(lambda: api.store.count_events() >= len(acked), 60, "every acknowledged event stored")
        want = expected_counts(acked)
        keys = set(DISTRICTS)
        wait_for(lambda: metric_counts(api.store, keys, T0, T0 + 10 * MIN) == want, 60, "exact counts")
        with psycopg.connect(dsn, options=f"-c search_path={schema}") as conn:
            n_rows, n_ids = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()  # type: ignore[misc]
        assert n_rows == n_ids == len(acked), "every acknowledged event is stored exactly once"
        time.sleep(2 * s.nats.lease_ttl_s)  # late commits of a zombie would show up here
        assert metric_counts(api.store, keys, T0, T0 + 10 * MIN) == want, "no event counted twice"
        took_over = took_over or time.monotonic() - killed_at
        print(f"takeover: the survivor owned every partition {took_over:.1f} s after the kill -9")
    finally:
        for w in (a, b):
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(15)
                except Exception:
                    w.kill()
        api.stop()

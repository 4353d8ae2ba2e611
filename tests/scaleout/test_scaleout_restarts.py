"""Server restarts under load: NATS (producers and consumers reconnect and resume) and PostgreSQL
(crash + restart: writes resume). Every acknowledged event is stored once and counted once."""

from __future__ import annotations

import threading
import time

from citybrain.core.errors import CitybrainError
from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport
from tests.scaleout.scaleout_support import (
    MakeSettings,
    NatsServer,
    PostgresServer,
    expected_counts,
    metric_counts,
    wait_for,
)

MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN
DISTRICTS = [f"3601{i:02d}" for i in range(8)]
LATE = "3600000"


class Producer(threading.Thread):
    """Publishes batches, retrying each until it is acknowledged (as a gateway or HTTP client does)."""

    def __init__(self, platform: Platform, batches: int, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.p, self.batches, self.pause = platform, batches, pause
        self.acked: list[Event] = []
        self.failures = 0

    def run(self) -> None:
        for n in range(self.batches):
            batch: list[Event] = [
                PulseReport(key=DISTRICTS[i % 8], ts=T0 + n * 2000 + i * 5, category="c", id=f"r{n}-{i}")
                for i in range(200)
            ]
            while True:
                try:
                    self.p.publish(batch)
                    break
                except CitybrainError:
                    self.failures += 1
                    time.sleep(0.2)
            self.acked.extend(batch)
            time.sleep(self.pause)


def _check_exactly_once(p: Platform, acked: list[Event]) -> None:
    want = expected_counts(acked)
    wait_for(lambda: p.store.count_events() >= len(acked), 60, "every acknowledged event stored")
    wait_for(lambda: metric_counts(p.store, set(DISTRICTS), T0, T0 + 10 * MIN) == want, 60, "exact counts")
    assert p.store.count_events() == len(acked)


def test_nats_restart_producers_and_consumers_resume(
    scaleout: MakeSettings, private_nats: NatsServer
) -> None:
    s = scaleout(url=private_nats.url, CITYBRAIN_SCENES__PULSE__ALLOWED_LATENESS_MS=LATE)
    p = Platform(s, scenes={"pulse": discover({"pulse"})["pulse"]})  # role all: publishes and processes
    p.start()
    try:
        prod = Producer(p, 40)
        prod.start()
        wait_for(lambda: len(prod.acked) >= 2000, 30, "a stream under way")
        private_nats.stop()  # SIGTERM; the store dir keeps the streams
        time.sleep(1.0)
        private_nats.start()
        prod.join(120)
        assert not prod.is_alive()
        assert p.bus.nc.stats["reconnects"] >= 1, "the client saw the restart"  # type: ignore[attr-defined]
        _check_exactly_once(p, prod.acked)
    finally:
        p.stop()


def test_postgres_crash_and_restart_writes_resume(
    scaleout: MakeSettings, private_postgres: PostgresServer
) -> None:
    s = scaleout(
        CITYBRAIN_POSTGRES__DSN=private_postgres.dsn, CITYBRAIN_SCENES__PULSE__ALLOWED_LATENESS_MS=LATE
    )
    p = Platform(s, scenes={"pulse": discover({"pulse"})["pulse"]})
    p.start()
    try:
        prod = Producer(p, 40)
        prod.start()
        wait_for(lambda: p.store.count_events() >= 2000, 30, "events flowing into PostgreSQL")
        private_postgres.stop("immediate")  # a crash: no shutdown checkpoint, recovery from the WAL
        time.sleep(1.5)
        private_postgres.start()
        prod.join(120)
        assert not prod.is_alive()
        _check_exactly_once(p, prod.acked)
    finally:
        p.stop()

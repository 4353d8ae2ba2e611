"""A slow consumer: publishers get backpressure (429 at the API) and the lag stays bounded, both
visible in /metrics; once the burst ends everything is processed, exactly once."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.errors import BackpressureError, CitybrainError
from citybrain.core.events import Event
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.platform import Platform
from citybrain.core.processor import Emitter
from citybrain.core.scenes import Scene, discover
from citybrain.core.tokens import create_token
from citybrain.scenes.pulse.events import PulseReport
from citybrain.scenes.pulse.processors import PulseRates
from citybrain.scenes.pulse.settings import PulseSettings
from tests.scaleout.scaleout_support import MakeSettings, expected_counts, metric_counts, wait_for

MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN
DISTRICTS = [f"3601{i:02d}" for i in range(6)]
MAX_LAG = 3_000


# PulseRates is a class built at run time (sdk.processor_class): mypy cannot take it as a base
class SlowPulse(PulseRates):  # type: ignore[misc, valid-type]
    """The pulse processor on a slow machine: 40 ms per batch of at most 100 events."""

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        time.sleep(0.04)
        super().process(batch, out)


def lag_in_metrics(client: TestClient) -> int:
    text = client.get("/metrics").text
    m = re.search(r'citybrain_bus_lag_events\{processor="pulse.rates"\} ([0-9.e+]+)', text)
    return int(float(m.group(1))) if m else 0


def test_slow_consumer_backpressure_and_bounded_lag(scaleout: MakeSettings) -> None:
    s = scaleout(
        partitions=2,
        CITYBRAIN_BUS__MAX_LAG=str(MAX_LAG),
        CITYBRAIN_PIPELINE__BATCH_MAX="100",
        CITYBRAIN_NATS__MAX_EVENTS_PER_MSG="50",
        CITYBRAIN_NATS__MAX_PENDING_MSGS="20",
    )
    cfg = PulseSettings(allowed_lateness_ms=3_600_000)
    pulse = discover({"pulse"})["pulse"]
    slow = Scene(
        name="pulse", title=pulse.title, description=pulse.description, events=pulse.events,
        processors=lambda _: [ProcessorSpec("pulse.rates", lambda p: SlowPulse(p, cfg))],
    )  # fmt: skip
    platform = Platform(s, scenes={"pulse": slow})
    acked: list[Event] = []
    refused, worst = 0, 0
    with TestClient(create_app(s, platform)) as client:
        client.headers["Authorization"] = f"Bearer {create_token(platform.store, 'metrics', ['read'])[1]}"
        deadline = time.monotonic() + 6
        n = 0
        while time.monotonic() < deadline:
            batch: list[Event] = [
                PulseReport(key=DISTRICTS[i % 6], ts=T0 + n * 500 + i, category="c", id=f"b{n}-{i}")
                for i in range(250)
            ]
            while True:  # a refused publish may have stored part of the batch: resend it, ids dedupe
                try:
                    platform.publish(batch)
                    break
                except BackpressureError:
                    refused += 1
                    time.sleep(0.1)
                except CitybrainError:
                    time.sleep(0.1)
                worst = max(worst, lag_in_metrics(client))
            acked.extend(batch)
            n += 1
            worst = max(worst, lag_in_metrics(client))
        assert refused > 0, "publishers were pushed back"
        # the lag check runs on a 1 s refresh: it may overshoot by about a second of ingest
        assert 0 < worst <= MAX_LAG + 15_000, f"lag bounded (worst seen {worst})"
        want = expected_counts(acked)
        time.sleep(20)
        got = metric_counts(platform.store, set(DISTRICTS), T0, T0 + 30 * MIN)
        diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        print(
            "DIFF",
            len(diff),
            sorted(diff.items())[:10],
            platform.store.count_events(),
            len(acked),
            platform.bus.lag(),
            platform.pipeline.stats,
        )
        wait_for(lambda: metric_counts(platform.store, set(DISTRICTS), T0, T0 + 30 * MIN) == want, 90,
                 "the backlog processed exactly once")  # fmt: skip
        wait_for(lambda: lag_in_metrics(client) == 0, 10, "lag back to zero in /metrics")
    print(f"slow consumer: {len(acked)} events accepted, {refused} publishes refused, worst lag {worst}")

"""A benchmark-only scene: an alert opens when a reading exceeds a limit, per sensor."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain.core.events import Event, register
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule, Emitter, Processor
from citybrain.core.scenes import Scene


@register
class Reading(Event, tag="bench.reading"):
    value: float


HOT = AlertRule(name="bench.hot", scene="bench", title="reading over limit", for_ms=0, clear_ms=0)


class Empty(msgspec.Struct):
    pass


class Threshold(Processor[Empty]):
    name = "bench.threshold"
    kinds = (Reading,)
    state_type = Empty

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        for _, ev in batch:
            assert isinstance(ev, Reading)
            if ev.value > 100:
                out.signal(HOT, ev.key, ev.ts, True, message=f"{ev.value}")


scene = Scene(
    name="bench",
    title={"en": "bench"},
    description={"en": "benchmark threshold rule"},
    events=[Reading],
    processors=lambda _: [ProcessorSpec(Threshold.name, lambda p: Threshold(p))],
    alert_rules=[HOT],
)

"""``safety.months``: each month's newest computation is the month's state (scene ``safety``, key
"2026-11"), which the API, the panel and the report read. An older computation arriving after a
newer one (a republish, two nodes) is ignored, and a failed computation never replaces a good one
of the same month."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain import sdk
from citybrain.scenes.safety.events import Computed
from citybrain.scenes.safety.settings import SafetySettings


class MonthsState(msgspec.Struct):
    months: dict[str, tuple[int, bool]] = msgspec.field(default_factory=dict)  # month -> (ts, good)


def state_of(ev: Computed) -> dict[str, Any]:
    return {
        "month": ev.month,
        "computed_ms": ev.ts,
        "final": ev.final,
        "result": ev.result,
        "robustness": ev.robustness,
        "excluded": ev.excluded,
        "error": ev.error,
    }


class Months(sdk.Processor[MonthsState, Computed]):
    name = "safety.months"
    kinds = (Computed,)
    state_type = MonthsState
    config: SafetySettings

    def __init__(self, partition: int, settings: SafetySettings, _world: object = None) -> None:
        super().__init__(partition, settings)

    def process(self, batch: Sequence[tuple[int, Computed]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            seen = self.state.months.get(ev.month)
            good = not ev.error
            if seen is not None and (ev.ts < seen[0] or (seen[1] and not good)):
                continue
            self.state.months[ev.month] = (ev.ts, good)
            out.state("safety", ev.month, ev.ts, state_of(ev))

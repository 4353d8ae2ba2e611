"""``paylater.watch``: the alerts no plate's partition can raise alone. The payment gateway sums
every partition's counts each minute and publishes them (a lot's reads, the cases waiting for an
operator) as events keyed by the lot or the case type; this processor turns them into alerts,
with the usual hysteresis."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain import sdk
from citybrain.scenes.paylater import rules
from citybrain.scenes.paylater.events import Backlog, LotActivity
from citybrain.scenes.paylater.settings import PaylaterSettings


class WatchState(msgspec.Struct):
    pass  # the alert book (checkpointed by the runtime) is all this processor keeps


class Watch(sdk.Processor[WatchState, LotActivity | Backlog]):
    name = "paylater.watch"
    kinds = (LotActivity, Backlog)
    state_type = WatchState
    config: PaylaterSettings

    def __init__(self, partition: int, settings: PaylaterSettings, _world: object = None) -> None:
        super().__init__(partition, settings)

    def process(self, batch: Sequence[tuple[int, LotActivity | Backlog]], out: sdk.Emitter) -> None:
        for _, ev in batch:
            if isinstance(ev, LotActivity):
                silent = ev.reads == 0 and ev.active_before
                minutes = ev.window_ms // 60_000
                out.signal(rules.GATE_SILENT, ev.key, ev.ts, silent,
                           message=f"{ev.key}: no plate read for {minutes} min" if silent else "reads again",
                           data={"lot": ev.key, "window_ms": ev.window_ms})  # fmt: skip
            else:
                limit = self.config.review_backlog
                over = bool(limit) and ev.open > limit
                out.signal(rules.BACKLOG, ev.key, ev.ts, over,
                           message=f"{ev.open} {ev.key} cases wait (limit {limit})",
                           data={"type": ev.key, "open": ev.open, "oldest_ts": ev.oldest_ts})  # fmt: skip

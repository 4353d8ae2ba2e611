"""Per-district report rates in one-minute event-time windows, and the surge alert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from citybrain.core.events import Event
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule, Emitter, Processor
from citybrain.core.windows import Windows, WindowState, agg
from citybrain.scenes.pulse.events import DISTRICTS, PulseReport

MINUTE = 60_000
METRIC = "pulse.reports_per_min"

SURGE = AlertRule(
    name="pulse.surge",
    scene="pulse",
    title="区域事件激增 / District surge",
    severity="warning",
    for_ms=0,
    clear_ms=2 * MINUTE,
    doc="Reports in a closed one-minute window exceed surge_per_min (critical above twice that). "
    "It must stay below for clear_ms before the alert resolves itself, so one quiet minute "
    "inside a surge does not flap.",
)


class PulseConfig(msgspec.Struct, forbid_unknown_fields=True):
    surge_per_min: float = 300.0
    allowed_lateness_ms: int = 2 * MINUTE


class PulseState(msgspec.Struct):
    windows: WindowState = msgspec.field(default_factory=WindowState)
    last_minute: dict[str, float] = msgspec.field(default_factory=dict)
    categories: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)


class PulseRates(Processor[PulseState]):
    name = "pulse.rates"
    kinds = (PulseReport,)
    state_type = PulseState

    def __init__(self, partition: int, config: PulseConfig) -> None:
        super().__init__(partition, config)
        self.cfg = config
        self.win = Windows(size_ms=MINUTE, allowed_lateness_ms=config.allowed_lateness_ms)

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        st = self.state
        touched: set[tuple[str, int]] = set()
        for poff, ev in batch:
            assert isinstance(ev, PulseReport)
            starts = self.win.add(st.windows, ev.key, ev.ts, float(ev.count))
            if not starts:
                out.late(poff, ev, st.windows.watermark)
                continue
            touched.update((ev.key, s) for s in starts)
            cats = st.categories.setdefault(ev.key, {})
            cats[ev.category] = cats.get(ev.category, 0) + ev.count
        for key, start in sorted(touched):
            out.metric(METRIC, key, start, agg(st.windows.open[key][start], "sum"))
        for closed in self.win.expire(st.windows):
            rate = agg(closed.acc, "sum")
            st.last_minute[closed.key] = rate
            self._judge(out, closed.key, closed.end, rate)
        for key in {k for k, _ in touched}:
            self._publish_state(out, key)

    def _judge(self, out: Emitter, key: str, ts: int, rate: float) -> None:
        limit = self.cfg.surge_per_min
        name = DISTRICTS.get(key, {}).get("zh-CN", key)
        out.signal(
            SURGE, key, ts, rate > limit,
            severity="critical" if rate > 2 * limit else "warning",
            message=f"{name} {rate:.0f} 起/分钟 (阈值 {limit:.0f}) · {rate:.0f} reports/min over {limit:.0f}",
            data={"district": key, "rate_per_min": rate, "threshold": limit, "window_end": ts},
        )  # fmt: skip

    def _publish_state(self, out: Emitter, key: str) -> None:
        st = self.state
        current = st.windows.open.get(key, {})
        latest = max(current) if current else 0
        # the minute before the current one, while still open to late events; else the last closed
        previous = current.get(latest - MINUTE)
        last_minute = agg(previous, "sum") if previous is not None else st.last_minute.get(key, 0.0)
        out.state("pulse", key, st.windows.watermark, {
            "name": DISTRICTS.get(key, {"zh-CN": key, "en": key}),
            "last_minute": last_minute,
            "current_minute": agg(current[latest], "sum") if current else 0.0,
            "current_minute_start": latest,
            "by_category": st.categories.get(key, {}),
        })  # fmt: skip


def processors(settings: Mapping[str, Any]) -> list[ProcessorSpec]:
    cfg = msgspec.convert(dict(settings), PulseConfig)
    return [ProcessorSpec(PulseRates.name, lambda p: PulseRates(p, cfg))]

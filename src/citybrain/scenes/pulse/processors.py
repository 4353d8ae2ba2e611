"""Per-district report rates in one-minute event-time windows, and the surge alert."""

from __future__ import annotations

import msgspec

from citybrain import sdk
from citybrain.geo.regions import names
from citybrain.scenes.pulse.events import PulseReport
from citybrain.scenes.pulse.rules import SURGE
from citybrain.scenes.pulse.settings import PulseSettings

MINUTE = 60_000
METRIC = "pulse.reports_per_min"


class Tally(msgspec.Struct):
    """Per district: the rate of the last closed minute and reports by category so far."""

    last_minute: float = 0.0
    categories: dict[str, int] = msgspec.field(default_factory=dict)


rates = sdk.Aggregation(
    "rates", PulseReport,
    window=lambda cfg: sdk.tumbling("1m", lateness=cfg.allowed_lateness_ms),
    values={"reports": sdk.total("count")}, keystate=Tally,
)  # fmt: skip
Ctx = sdk.Ctx[PulseSettings]


@rates.on_event
def tally(ev: PulseReport, ctx: Ctx) -> None:
    cats = ctx.keystate(ev.key).categories
    cats[ev.category] = cats.get(ev.category, 0) + ev.count


@rates.on_update
def provisional(w: sdk.Window, ctx: Ctx) -> None:
    ctx.metric("reports_per_min", w.key, w.start, w["reports"])


@rates.on_close
def judge(w: sdk.Window, ctx: Ctx) -> None:
    rate, limit = w["reports"], ctx.settings.surge_per_min
    ctx.keystate(w.key).last_minute = rate
    name = names(w.key)["zh-CN"]
    ctx.signal(
        SURGE, w.key, w.end, rate > limit,
        severity="critical" if rate > 2 * limit else "warning",
        message=f"{name} {rate:.0f} 起/分钟 (阈值 {limit:.0f}) · {rate:.0f} reports/min over {limit:.0f}",
        data={"district": w.key, "rate_per_min": rate, "threshold": limit, "window_end": w.end},
    )  # fmt: skip


@rates.after
def publish(keys: list[str], ctx: Ctx) -> None:
    for key in keys:
        current = ctx.open_windows(key)
        latest = max(current) if current else 0
        # the minute before the current one, while still open to late events; else the last closed
        previous = current.get(latest - MINUTE)
        tally = ctx.keystate(key)
        ctx.state(key, ctx.watermark, {
            "name": names(key),
            "last_minute": previous["reports"] if previous is not None else tally.last_minute,
            "current_minute": current[latest]["reports"] if current else 0.0,
            "current_minute_start": latest,
            "by_category": tally.categories,
        })  # fmt: skip


PulseRates = sdk.processor_class("pulse", rates)  # the processor the runtime builds (for tests)

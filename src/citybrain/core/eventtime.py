"""Event-time sanity: the window of event times the platform accepts, around the time of ingest.

A device with a wrong clock, a unit mistake or a hostile sender can date an event far in the
future; one such event would move a processor's watermark and make every real report after it
"late". So every entry point (HTTP ingest, replay, the TCP gateways, MQTT: all of them end in
:meth:`citybrain.core.platform.Platform.publish`) refuses events outside the window with a reason
naming the limit. HTTP callers get it as that line's problem; a gateway's events are quarantined
(kept, with the reason) and counted, since the device was already answered.

The window is ``ingest.max_future_s`` ahead of ingest time and ``ingest.max_age_days`` behind it
(0 = no limit but the schema's year-2000 floor: reissued and replayed history is welcome). A source
may have its own window in ``[ingest.sources.<name>]``, where ``<name>`` is the part of the
event's ``source`` before the first ``:`` or ``/`` (e.g. ``jt808``, ``mqtt``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import msgspec

from citybrain.core.events import Event

DAY_MS = 86_400_000
_NAME_END = re.compile(r"[:/]")


class TimeWindow(msgspec.Struct, forbid_unknown_fields=True):
    """Accepted event times relative to ingest time."""

    max_future_s: float = 300.0  # clocks drift; more than this ahead is a wrong clock or a forgery
    max_age_days: float = 0.0  # 0 = any age (history, reissued blind-zone data, replays)


def source_name(source: str) -> str:
    """The part of an event's ``source`` that names its window (``mqtt:plant/a`` -> ``mqtt``)."""
    m = _NAME_END.search(source)
    return source[: m.start()] if m else source


class EventTimeGate:
    """Checks event times against the default window or the window of the event's source."""

    def __init__(self, default: TimeWindow, sources: dict[str, TimeWindow] | None = None) -> None:
        self.default = default
        self.sources = dict(sources or {})

    def window(self, source: str) -> TimeWindow:
        return self.sources.get(source_name(source), self.default) if self.sources else self.default

    def problem(self, ev: Event, now_ms: int | None = None) -> str | None:
        """Why ``ev``'s time is not accepted now, or None when it is."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        w = self.window(ev.source)
        ahead = ev.ts - now
        if ahead > w.max_future_s * 1000:
            return (
                f"ts {ev.ts} is {ahead / 1000:.0f} s ahead of the platform clock; at most "
                f"{w.max_future_s:g} s are accepted (ingest.max_future_s)"
            )
        if w.max_age_days > 0 and now - ev.ts > w.max_age_days * DAY_MS:
            return (
                f"ts {ev.ts} is {(now - ev.ts) / DAY_MS:.1f} days old; at most {w.max_age_days:g} days "
                "are accepted (ingest.max_age_days)"
            )
        return None

    def checker(self) -> Callable[[Event], str | None]:
        """A per-event check with the clock read once, for one batch."""
        now = int(time.time() * 1000)
        return lambda ev: self.problem(ev, now)

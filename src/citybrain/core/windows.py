"""Event-time windows with watermarks and allowed lateness.

The watermark of a processor partition is the highest event time it has seen, except that a
jump of more than an hour must be confirmed by more than :data:`OUTLIERS` events (see
:func:`advance_watermark`): a few events dated far ahead (a wrong clock, a forgery) cannot close
every window and make all real data late. A window
``[start, start + size)`` stays open until ``watermark >= start + size + allowed_lateness``; an
event whose every window has already closed is *late*: the caller records it (it is never silently
dropped, and the raw event stays in the store). Tumbling windows are sliding windows whose step
equals their size. State is a plain msgspec Struct, so it checkpoints with the bus position.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

# accumulator: [count, sum, min, max, last value, ts of last value]
Acc = list[float]


# A watermark follows event time directly while it moves by at most MAX_JUMP_MS at a time; an
# event further ahead is held as a possible outlier, and the watermark jumps only once more than
# OUTLIERS such events confirm the jump (a real gap, e.g. after an outage, is confirmed at once by
# the data that follows it; a few forged or mis-clocked events never are).
MAX_JUMP_MS = 3_600_000
OUTLIERS = 3


def advance_watermark(held: list[int], ts: int, watermark: int) -> int:
    """The watermark after an event at ``ts``; ``held`` (part of the caller's state, at most
    ``OUTLIERS + 1`` long) keeps the event times of a jump not yet confirmed. O(1) per event."""
    if ts <= watermark:
        return watermark
    if watermark == 0 or ts - watermark <= MAX_JUMP_MS:
        if held and held[0] <= ts:
            held[:] = [t for t in held if t > ts]
        return ts
    held.append(ts)
    held.sort()
    if len(held) <= OUTLIERS:
        return watermark
    new = held[0]  # confirmed: the lowest of the events beyond the jump
    held[:] = held[1:]
    return new


class WindowState(msgspec.Struct):
    watermark: int = 0
    open: dict[str, dict[int, Acc]] = msgspec.field(default_factory=dict)
    held: list[int] = msgspec.field(default_factory=list)  # see advance_watermark


@dataclass(frozen=True)
class Closed:
    key: str
    start: int
    end: int
    acc: Acc


def agg(acc: Acc, how: str) -> float:
    """avg | sum | count | min | max | last of an accumulator."""
    count, total, lo, hi, last = acc[0], acc[1], acc[2], acc[3], acc[4]
    return {
        "count": count,
        "sum": total,
        "avg": total / count if count else 0.0,
        "min": lo,
        "max": hi,
        "last": last,
    }[how]


@dataclass(frozen=True)
class Windows:
    size_ms: int
    step_ms: int = 0  # 0 = tumbling (step = size)
    allowed_lateness_ms: int = 0

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ValueError("window size must be positive")
        step = self.step_ms or self.size_ms
        if step <= 0 or self.size_ms % step:
            raise ValueError("window step must divide the window size")

    @property
    def step(self) -> int:
        return self.step_ms or self.size_ms

    def starts(self, ts: int) -> range:
        """Start times of every window containing ``ts``."""
        step = self.step_ms or self.size_ms
        last = ts - ts % step
        return range(last - self.size_ms + step, last + 1, step)

    def is_closed(self, st: WindowState, start: int) -> bool:
        return st.watermark >= start + self.size_ms + self.allowed_lateness_ms

    def add(self, st: WindowState, key: str, ts: int, value: float = 1.0) -> list[int]:
        """Fold a value into the open windows containing ``ts``; [] means the event is late."""
        st.watermark = advance_watermark(st.held, ts, st.watermark)
        touched: list[int] = []
        per_key = st.open.get(key)
        for start in self.starts(ts):
            if self.is_closed(st, start):
                continue
            if per_key is None:
                per_key = st.open[key] = {}
            acc = per_key.get(start)
            if acc is None:
                per_key[start] = [1.0, value, value, value, value, float(ts)]
            else:
                acc[0] += 1
                acc[1] += value
                acc[2] = min(acc[2], value)
                acc[3] = max(acc[3], value)
                if ts >= acc[5]:
                    acc[4], acc[5] = value, float(ts)
            touched.append(start)
        return touched

    def advance(self, st: WindowState, watermark: int) -> None:
        """Move the watermark forward without an event (e.g. from a wall-clock tick)."""
        st.watermark = max(st.watermark, watermark)

    def expire(self, st: WindowState) -> list[Closed]:
        """Remove and return every window that can no longer change."""
        closed: list[Closed] = []
        for key in list(st.open):
            per_key = st.open[key]
            for start in [s for s in per_key if self.is_closed(st, s)]:
                closed.append(Closed(key, start, start + self.size_ms, per_key.pop(start)))
            if not per_key:
                del st.open[key]
        return closed

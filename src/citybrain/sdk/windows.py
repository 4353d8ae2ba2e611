"""Windowed aggregations declared as definitions: ``tumbling("1m", lateness="2m")`` and named
accumulators (``count()``, ``total("count")``, ``mean("speed")``...) instead of positional lists.

An :class:`Aggregation` is turned into a processor by the runtime: it keys events, keeps the open
windows per key (event time, a watermark that a few outliers cannot move, allowed lateness),
records late events itself (they stay in the log), and calls the scene's hooks with a
:class:`~citybrain.sdk.context.Ctx`: ``on_event`` for each accepted event, ``on_update`` for each
window a batch touched (provisional figures), ``on_close`` for each window that can no longer change,
and ``after`` once per batch with the keys it touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import msgspec

from citybrain.core.events import Event
from citybrain.core.windows import Windows
from citybrain.sdk.settings import duration_ms

How = Literal["count", "sum", "mean", "min", "max", "last"]
# floats each accumulator keeps per window, in order
_SLOTS: dict[str, int] = {"count": 1, "sum": 1, "mean": 2, "min": 1, "max": 1, "last": 2}


@dataclass(frozen=True)
class Acc:
    """A named accumulator: ``how`` over the event attribute ``field`` (None: one per event)."""

    how: How
    field: str | None = None

    def start(self, v: float, ts: int) -> list[float]:
        return {"count": [1.0], "sum": [v], "mean": [v, 1.0], "min": [v], "max": [v], "last": [v, float(ts)]}[
            self.how
        ]

    def fold(self, slots: list[float], i: int, v: float, ts: int) -> None:
        h = self.how
        if h == "count":
            slots[i] += 1
        elif h == "sum":
            slots[i] += v
        elif h == "mean":
            slots[i] += v
            slots[i + 1] += 1
        elif h == "min":
            slots[i] = min(slots[i], v)
        elif h == "max":
            slots[i] = max(slots[i], v)
        elif ts >= slots[i + 1]:
            slots[i], slots[i + 1] = v, float(ts)

    def value(self, slots: list[float], i: int) -> float:
        if self.how == "mean":
            return slots[i] / slots[i + 1] if slots[i + 1] else 0.0
        return slots[i]


def count() -> Acc:
    return Acc("count")


def total(field: str) -> Acc:
    return Acc("sum", field)


def mean(field: str) -> Acc:
    return Acc("mean", field)


def minimum(field: str) -> Acc:
    return Acc("min", field)


def maximum(field: str) -> Acc:
    return Acc("max", field)


def last(field: str) -> Acc:
    return Acc("last", field)


@dataclass(frozen=True)
class WindowDef:
    size_ms: int
    step_ms: int
    lateness_ms: int

    def windows(self) -> Windows:
        return Windows(self.size_ms, self.step_ms, self.lateness_ms)


def tumbling(size: str | int, *, lateness: str | int = 0) -> WindowDef:
    """Back-to-back windows of ``size`` (e.g. ``"1m"``), open to late events for ``lateness``."""
    s = duration_ms(size)
    return WindowDef(s, s, duration_ms(lateness))


def sliding(size: str | int, *, every: str | int, lateness: str | int = 0) -> WindowDef:
    """Windows of ``size`` starting ``every`` (which must divide ``size``)."""
    return WindowDef(duration_ms(size), duration_ms(every), duration_ms(lateness))


@dataclass(frozen=True)
class Window:
    """One window of one key with its named values (``w["reports"]``)."""

    key: str
    start: int
    end: int
    values: Mapping[str, float]

    def __getitem__(self, name: str) -> float:
        return self.values[name]


E = TypeVar("E", bound=Event)
Hook = Callable[..., None]


@dataclass
class Aggregation(Generic[E]):
    """``kind`` events keyed by ``key`` (the event's entity key by default) folded into ``window``
    with the named ``values``; ``keystate`` is a msgspec Struct kept per key for the hooks
    (checkpointed with the windows)."""

    name: str
    kind: type[E]
    window: WindowDef | Callable[[Any], WindowDef]  # or built from the scene's settings
    values: dict[str, Acc]
    key: Callable[[E], str] = field(default=lambda ev: ev.key)
    keystate: type[msgspec.Struct] | None = None
    hooks: dict[str, Hook] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.window, WindowDef):
            self.window.windows()  # validates size and step now
        if not self.values:
            raise ValueError(f"aggregation {self.name!r} needs at least one named value")
        self.layout: list[tuple[str, Acc, int]] = []
        i = 0
        for n, acc in self.values.items():
            self.layout.append((n, acc, i))
            i += _SLOTS[acc.how]

    # hooks, as decorators: @agg.on_close def judge(w, ctx): ...
    def on_event(self, fn: Hook) -> Hook:
        self.hooks["on_event"] = fn
        return fn

    def on_update(self, fn: Hook) -> Hook:
        self.hooks["on_update"] = fn
        return fn

    def on_close(self, fn: Hook) -> Hook:
        self.hooks["on_close"] = fn
        return fn

    def after(self, fn: Hook) -> Hook:
        self.hooks["after"] = fn
        return fn

    # -- accumulating -------------------------------------------------------------------------
    def start(self, ev: Event) -> list[float]:
        slots: list[float] = []
        for _, acc, _ in self.layout:
            slots += acc.start(self._value(ev, acc), ev.ts)
        return slots

    def fold(self, slots: list[float], ev: Event) -> None:
        for _, acc, i in self.layout:
            acc.fold(slots, i, self._value(ev, acc), ev.ts)

    def view(self, key: str, start: int, size_ms: int, slots: list[float]) -> Window:
        vals = {n: acc.value(slots, i) for n, acc, i in self.layout}
        return Window(key, start, start + size_ms, vals)

    @staticmethod
    def _value(ev: Event, acc: Acc) -> float:
        return 1.0 if acc.field is None else float(getattr(ev, acc.field))

    def fields(self) -> Iterator[str]:
        return (acc.field for acc in self.values.values() if acc.field is not None)

    def hook(self, name: str) -> Hook | None:
        return self.hooks.get(name)

    def window_for(self, settings: Any) -> WindowDef:
        return self.window if isinstance(self.window, WindowDef) else self.window(settings)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.kind_name(),
            "values": {n: {"how": a.how, "field": a.field} for n, a in self.values.items()},
        }

"""Safety events: one month's index as computed, the durable record of it (the month's state is
folded from these by ``safety.months``; month-on-month and year-on-year changes read it back)."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from citybrain.sdk import Event


class Computed(Event, tag="safety.computed"):
    """The index of a month (``key``: "2026-11", Beijing time) as computed at ``ts``: the engine's
    result and robustness as plain data, or ``error`` when it could not be computed (no data)."""

    scene: ClassVar[str] = "safety"
    internal: ClassVar[bool] = True  # made by the scene's own computation, never posted
    month: str
    final: bool  # computed after the month closed: not recomputed unless asked
    result: dict[str, Any] = msgspec.field(default_factory=dict)  # engine.IndexResult as builtins
    robustness: dict[str, Any] = msgspec.field(default_factory=dict)  # robustness.Robustness
    excluded: list[str] = msgspec.field(default_factory=list)  # indicators with no value in any unit
    error: str = ""

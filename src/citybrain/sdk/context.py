"""What a scene's processing hooks see: its settings and an emitter that names things once.

Metric names get the scene's prefix (``ctx.metric("reports_per_min", ...)`` is stored as
``pulse.reports_per_min``), entity states are the scene's, alert signals go through the scene's
rules. Per-key state of an aggregation and its open windows are at hand for the hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

from citybrain.core.processor import Emitter

S = TypeVar("S")


class Ctx(Generic[S]):
    def __init__(
        self,
        scene: str,
        settings: S,
        out: Emitter,
        keystate: Callable[[str], Any] | None = None,
        open_windows: Callable[[str], dict[int, dict[str, float]]] | None = None,
        watermark: Callable[[], int] | None = None,
    ) -> None:
        self.scene = scene
        self.settings = settings
        self.out = out
        # ``ctx.signal(rule, key, ts, active, message=, severity=, data=)``: the emitter's own,
        # drives an alert with hysteresis (see core.processor.Emitter.signal)
        self.signal = out.signal
        self._keystate = keystate
        self._open = open_windows
        self._watermark = watermark

    def metric(self, name: str, key: str, ts: int, value: float) -> None:
        self.out.metric(f"{self.scene}.{name}", key, ts, value)

    def state(self, key: str, ts: int, data: dict[str, Any] | msgspec.Struct) -> None:
        body = msgspec.to_builtins(data) if isinstance(data, msgspec.Struct) else data
        self.out.state(self.scene, key, ts, body)

    # -- aggregation helpers ------------------------------------------------------------------
    def keystate(self, key: str) -> Any:
        """The aggregation's per-key state for ``key`` (created on first use)."""
        if self._keystate is None:
            raise RuntimeError("this aggregation declares no keystate")
        return self._keystate(key)

    def open_windows(self, key: str) -> dict[int, dict[str, float]]:
        """Window start -> named values of ``key``'s windows still open (provisional)."""
        return self._open(key) if self._open is not None else {}

    @property
    def watermark(self) -> int:
        return self._watermark() if self._watermark is not None else 0

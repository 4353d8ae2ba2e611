"""City pulse settings (``[scenes.pulse]``)."""

from __future__ import annotations

from citybrain import sdk


class PulseSettings(sdk.SceneSettings):
    surge_per_min: float = 300.0  # reports in a closed minute above this open a surge alert
    allowed_lateness_ms: int = 120_000  # a minute stays open to late reports this long

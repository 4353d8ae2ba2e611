"""City pulse alert rules."""

from __future__ import annotations

from citybrain import sdk

SURGE = sdk.rule(
    "pulse", "surge", "区域事件激增 / District surge", clear="2m",
    doc="Reports in a closed one-minute window exceed surge_per_min (critical above twice that). "
    "It must stay below for clear_ms before the alert resolves itself, so one quiet minute "
    "inside a surge does not flap.",
)  # fmt: skip

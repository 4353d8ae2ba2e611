"""Wall-clock time as the platform stores it: epoch milliseconds (BIGINT in every table)."""

from __future__ import annotations

import time


def now_ms() -> int:
    """The current wall-clock time in epoch milliseconds (integer arithmetic: no float rounding)."""
    return time.time_ns() // 1_000_000

"""Logging that a flood cannot turn into a denial of service: at most one record per period for a
repeated condition, with the count of the ones folded into it."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class RateLimitedLog:
    """``warn(msg, *args)`` logs at most once every ``every_s`` seconds; the next record says how
    many were suppressed meanwhile. Thread-safe; cheap when suppressed (no formatting)."""

    def __init__(self, logger: logging.Logger, every_s: float = 10.0, level: int = logging.WARNING) -> None:
        self.logger, self.every_s, self.level = logger, every_s, level
        self.suppressed = 0
        self._next = 0.0
        self._lock = threading.Lock()

    def warn(self, msg: str, *args: Any) -> bool:
        """Log now unless one was logged less than ``every_s`` ago; True when it was logged."""
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self.suppressed += 1
                return False
            self._next = now + self.every_s
            folded, self.suppressed = self.suppressed, 0
        if folded:
            msg += " (%d similar records suppressed in the last %g s)"
            args = (*args, folded, self.every_s)
        self.logger.log(self.level, msg, *args)
        return True

"""Parsing of common road attributes (speed limits, one-way flags) shared by the importers."""

from __future__ import annotations

import math
import re

__all__ = ["direction", "parse_speed"]


def parse_speed(value: object) -> float | None:
    """``maxspeed``-style values to km/h: 50, "50", "50 km/h", "30 mph"; anything else -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value > 0 else None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*", str(value))
    if not m:
        return None
    v = float(m.group(1))
    return v * 1.609344 if m.group(2) == "mph" else v


def direction(value: object, default: int = 0) -> int:
    """oneway-ish values to 1 / -1 / 0."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return 1 if value else 0
    s = str(value).strip().lower()
    if s in ("yes", "true", "1", "t", "y", "forward"):
        return 1
    if s in ("-1", "reverse", "backward"):
        return -1
    return 0

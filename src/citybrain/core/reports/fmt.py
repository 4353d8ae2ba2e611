"""Numbers and cells as a report shows them, in one place for the tables, figures and narrative."""

from __future__ import annotations

import math

from citybrain.core.reports.model import Cell, Lang, Words


def number(value: float | None, lang: Lang, percent: bool = False) -> str:
    """``12345.678`` -> ``12,345.68``; a share ``0.256`` -> ``25.6%``; none -> ``—``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if percent:
        return f"{value * 100:.1f}%"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    magnitude = abs(value)
    digits = 3 if magnitude < 10 else 2 if magnitude < 1000 else 1
    return f"{value:,.{digits}f}"


def signed(delta: float, lang: Lang, percent: bool = False) -> str:
    """A change with its sign: ``+4``, ``-1.5``, ``+2.0 个百分点`` / ``+2.0 points`` for shares."""
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    if percent:
        points = f"{abs(delta) * 100:.1f}"
        return f"{sign}{points} 个百分点" if lang == "zh" else f"{sign}{points} points"
    return sign + number(abs(delta), lang)


def cell(value: Cell, lang: Lang) -> str:
    if isinstance(value, Words):
        return value(lang)
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, int | float):
        return number(value, lang)
    return "—" if value is None else value

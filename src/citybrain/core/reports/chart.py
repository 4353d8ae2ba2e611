"""Charts as vector SVG from matplotlib, inlined in the report's HTML. Text stays text
(``svg.fonttype = none``) in the Noto CJK font, so the PDF carries the chart's words in its text
layer and they print sharp at any size. matplotlib is imported only when a chart is drawn."""

from __future__ import annotations

import io
import math
from typing import Any

from citybrain.core.reports.model import Chart, Lang

FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
RC: Any = {  # rcParams (matplotlib types its keys as a Literal of every name)
    "svg.fonttype": "none",  # <text> elements, not glyph outlines
    "svg.hashsalt": "citybrain-report",  # stable ids: the same data gives the same SVG
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 9,
    "axes.unicode_minus": False,  # the ASCII minus sign: present in every font
    "axes.spines.top": False,
    "axes.spines.right": False,
}
COLOURS = ["#1f5fa8", "#d9822b", "#3c8d5a", "#b03a48", "#7a5aa6", "#6b7785"]


def svg(chart: Chart, lang: Lang, width_in: float = 6.4, height_in: float = 2.9) -> str:
    """The chart as an ``<svg>`` element (no XML prolog), ready to inline in HTML."""
    import matplotlib
    from matplotlib.figure import Figure

    labels = [w(lang) for w in chart.x]
    positions = list(range(len(labels)))
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        ax = fig.add_subplot()
        n = max(len(chart.series), 1)
        width = 0.8 / n
        for i, s in enumerate(chart.series):
            ys = [math.nan if v is None else v for v in s.values[: len(labels)]]
            ys += [math.nan] * (len(labels) - len(ys))
            colour = COLOURS[i % len(COLOURS)]
            if chart.kind == "bar":
                xs = [p + (i - (n - 1) / 2) * width for p in positions]
                ax.bar(xs, ys, width, label=s.name(lang), color=colour)
            else:
                ax.plot(positions, ys, marker="o", markersize=3, label=s.name(lang), color=colour)
        long = len(labels) > 6 or any(len(x) > 6 for x in labels)
        ax.set_xticks(positions, labels, rotation=30 if long else 0, ha="right" if long else "center")
        ax.set_title(chart.title(lang), fontsize=10)
        unit = chart.unit(lang)
        if unit:
            ax.set_ylabel(unit)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if len(chart.series) > 1:
            ax.legend(frameon=False)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]

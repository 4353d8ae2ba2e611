"""Traffic alert rules (their full names are the ones stored alerts carry)."""

from __future__ import annotations

from citybrain import sdk

HOTSPOT_CONGESTED = sdk.rule(
    "traffic", "hotspot_congested", "拥堵热点持续拥堵 / Hotspot congested", clear="2m",
    doc="A hotspot's final one-minute delay index is at 'congested' or worse for congested_minutes "
    "minutes in a row (minutes without data neither count nor break the run); 'severe' raises it "
    "to major. It resolves once a minute is below 'congested' and stays so for clear_ms.",
)  # fmt: skip

SPEED_COLLAPSE = sdk.rule(
    "traffic", "speed_collapse", "路段车速骤降(疑似事故) / Sudden speed collapse (possible incident)",
    severity="major", clear="2m",
    doc="A segment's closed one-minute space-mean speed falls below collapse_ratio x its baseline "
    "(mean of the previous minutes with data) and below half its free-flow speed, with at least "
    "min_samples_1m traversals. The baseline is frozen while the collapse lasts.",
)  # fmt: skip

SOURCE_SILENT = sdk.rule(
    "traffic", "source_silent", "探针数据源中断 / Probe source silent", severity="major", clear=0,
    doc="A probe source (feed and vehicle type, e.g. jt808/bus, probe:didi/ride-hail) that delivered "
    "positions has delivered none for silent_after_s seconds of wall-clock time. It resolves with "
    "the next delivery. A source never seen raises nothing.",
)  # fmt: skip

RULES = [HOTSPOT_CONGESTED, SPEED_COLLAPSE, SOURCE_SILENT]

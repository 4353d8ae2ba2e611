"""The dashboard panel: what to show and which API and live topic feed it."""

from __future__ import annotations

from citybrain import sdk

PANEL = sdk.Panel(
    widgets=[
        sdk.Figure(
            label={"zh-CN": "上一分钟事件数", "en": "Reports last minute"},
            api="/api/v1/scenes/pulse/summary", field="last_minute_total", live="state.pulse",
        ),
        sdk.Bar(
            label={"zh-CN": "各区事件率（起/分钟）", "en": "Reports per minute by district"},
            api="/api/v1/scenes/pulse/districts", x="name", y="last_minute", live="state.pulse",
        ),
        sdk.TimeSeries(
            label={"zh-CN": "事件率趋势", "en": "Report rate trend"},
            metric="pulse.reports_per_min", live="metric.pulse.reports_per_min",
        ),
    ],
)  # fmt: skip

"""The dashboard panel: what to show and which API and live topic feed it."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/factory"

PANEL = sdk.Panel(
    widgets=[
        sdk.Figure(
            label={"zh-CN": "已接入工厂占比", "en": "Plants connected"},
            api=f"{BASE}/district", field="share_connected", format="percent", target=0.55,
        ),
        sdk.Table(
            label={"zh-CN": "各厂今日 OEE 与产量", "en": "Plants: OEE and output today"},
            api=f"{BASE}/district", rows="plants",
            columns=["name", "industry", "connected", "oee_today", "output_today"],
        ),
        sdk.Bar(
            label={"zh-CN": "设备当班 OEE", "en": "Machine OEE this shift"},
            api=f"{BASE}/machines", x="name", y="oee.oee", live="state.factory",
        ),
        sdk.Table(
            label={"zh-CN": "设备状态", "en": "Machine states"},
            api=f"{BASE}/machines", columns=["site", "line", "name", "state", "online", "output_this_hour"],
            live="state.factory",
        ),
        sdk.TimeSeries(
            label={"zh-CN": "每小时产量", "en": "Output per hour"},
            metric="factory.good_hour", live="metric.factory.good_hour",
        ),
        sdk.TimeSeries(
            label={"zh-CN": "工艺参数", "en": "Process values"},
            metric="factory.pv", live="metric.factory.pv",
        ),
        sdk.Alerts(
            label={"zh-CN": "工厂预警", "en": "Factory alerts"}, scene="factory", live="alert.factory",
        ),
    ],
)  # fmt: skip

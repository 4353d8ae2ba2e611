"""The dashboard panel: fleet figures, the vehicle map and list, alarms, and the vehicle
drill-down (detail + history) that a click on a vehicle opens."""

from __future__ import annotations

from citybrain import sdk

BASE = "/api/v1/scenes/nev"

PANEL = sdk.Panel(
    id="nev",
    title={"zh-CN": "新能源汽车监控", "en": "New-energy vehicle monitoring"},
    headline=[
        sdk.Figure(
            label={"zh-CN": "在线车辆", "en": "Vehicles online"},
            api=f"{BASE}/summary", field="online", live="state.nev",
        ),
    ],
    widgets=[
        sdk.Figures(
            label={"zh-CN": "车队概况", "en": "Fleet"},
            api=f"{BASE}/summary",
            fields={
                "online": {"zh-CN": "在线", "en": "online"},
                "driving": {"zh-CN": "行驶", "en": "driving"},
                "charging": {"zh-CN": "充电", "en": "charging"},
                "in_alarm": {"zh-CN": "报警", "en": "in alarm"},
            },
            live="state.nev",
        ),
        sdk.Map(
            label={"zh-CN": "新能源车辆", "en": "New-energy vehicles"},
            api=f"{BASE}/vehicles?status=online&limit=10000", items="items",
            lon="lon", lat="lat", id="vin", color_by="alarm_level",
            click=f"{BASE}/vehicles/{{vin}}", live="state.nev",
        ),
        sdk.Bar(
            label={"zh-CN": "各车型在线/报警", "en": "Online and in alarm by model"},
            api=f"{BASE}/summary", items="by_model", x="name", y=["online", "in_alarm"],
        ),
        sdk.Bar(
            label={"zh-CN": "各地区在线车辆", "en": "Online by region"},
            api=f"{BASE}/summary", items="by_region", x="name", y=["online", "charging", "driving"],
        ),
        sdk.Table(
            label={"zh-CN": "报警与预警", "en": "Alarms and early warnings"},
            api=f"{BASE}/alarms?status=open", columns=["severity", "title", "key", "message", "last_ts"],
            live="alert.nev",
        ),
        sdk.Detail(
            label={"zh-CN": "单车详情", "en": "Vehicle"},
            api=f"{BASE}/vehicles/{{vin}}", history=f"{BASE}/vehicles/{{vin}}/history",
            signals=["speed", "soc", "max_temp", "min_temp"],
            export=f"{BASE}/vehicles/{{vin}}/history?format=csv",
        ),
    ],
)  # fmt: skip

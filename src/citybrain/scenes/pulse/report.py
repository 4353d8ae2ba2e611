"""The city pulse section of the periodic report."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.geo.regions import NANCHANG as DISTRICTS
from citybrain.scenes.pulse.processors import METRIC
from citybrain.scenes.pulse.settings import PulseSettings
from citybrain.sdk import AlertQuery


def report(rt: sdk.Runtime[PulseSettings], start: int, end: int) -> dict[str, Any]:
    store, span = rt.store, max(end - start, 60_000)
    rows = []
    for code, names in DISTRICTS.items():
        total = sum(v for _, v in store.metric_series(METRIC, code, start, end, span, "sum"))
        peak = store.metric_series(METRIC, code, start, end, span, "max")
        rows.append(
            {"district": code, "name": names, "reports": total, "peak_per_min": peak[0][1] if peak else 0.0}
        )
    alerts = [a for a in store.alerts(AlertQuery(scene="pulse", limit=10_000)) if start <= a.opened_ts < end]
    return {
        "title": {"zh-CN": "城市脉搏", "en": "City pulse"},
        "columns": ["district", "name", "reports", "peak_per_min"],
        # the words of the rendered report (docs/reports.md): "中文 / English"
        "titles": {
            "district": "区划代码 / district code",
            "name": "区县 / district",
            "reports": "报告数 / reports",
            "peak_per_min": "每分钟峰值 / peak per minute",
            "surge_alerts": "激增告警 / surge alerts",
        },
        "rows": rows,
        "figures": {"reports": sum(r["reports"] for r in rows), "surge_alerts": len(alerts)},
    }

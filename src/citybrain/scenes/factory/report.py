"""The factory section of the periodic report: per plant, OEE and output of the period, the
share of connected plants, and alerts by rule."""

from __future__ import annotations

from collections import Counter
from typing import Any

from citybrain import sdk
from citybrain.scenes.factory.district import TARGET_SHARE
from citybrain.scenes.factory.oee import combine
from citybrain.scenes.factory.query import HOUR, oee_parts
from citybrain.scenes.factory.settings import FactorySettings
from citybrain.scenes.factory.world import FactoryWorld
from citybrain.sdk import AlertQuery


def report(rt: sdk.Runtime[FactorySettings, FactoryWorld], start: int, end: int) -> dict[str, Any]:
    """The plants of the scene's own plant model (its ``plants_file`` and saved edits)."""
    store, book = rt.store, rt.world.book
    rows = []
    for site in book.sites():
        parts = oee_parts(store, book, site.id, start, end, "day")
        total = combine(o for (_, lv, _), o in parts.items() if lv == "site")
        output = 0.0
        for ref in book.machines():
            if ref.site.id == site.id and ref.machine.output:
                output += sum(
                    v for _, v in store.metric_series("factory.good_hour", ref.key, start, end, HOUR, "sum")
                )
        rows.append(
            {
                "site": site.id,
                "name": site.name,
                "industry": site.industry,
                "oee": total.oee,
                "availability": total.availability,
                "performance": total.performance,
                "quality": total.quality,
                "output": output,
                "reporting": total.pbt_s > 0,
            }
        )
    alerts = [
        a for a in store.alerts(AlertQuery(scene="factory", limit=10_000)) if start <= a.opened_ts < end
    ]
    reporting = sum(1 for r in rows if r["reporting"])
    return {
        "title": {"zh-CN": "智能工厂", "en": "Smart factories"},
        "columns": ["site", "name", "industry", "oee", "availability", "performance", "quality", "output"],
        "titles": {
            "site": "工厂代码 / site",
            "name": "工厂 / plant",
            "industry": "行业 / industry",
            "oee": "设备综合效率 / OEE",
            "availability": "可用率 / availability",
            "performance": "性能率 / performance",
            "quality": "质量率 / quality",
            "output": "产量 / output",
            "plants": "工厂数 / plants",
            "plants_reporting": "接入工厂 / plants reporting",
            "share_reporting": "接入率 / share reporting",
            "target_share": "目标接入率 / target share",
            "alerts": "按规则的告警 / alerts by rule",
        },
        "rows": rows,
        "figures": {
            "plants": len(rows),
            "plants_reporting": reporting,
            "share_reporting": reporting / len(rows) if rows else None,
            "target_share": TARGET_SHARE,
            "output": sum(r["output"] for r in rows),
            "alerts": dict(Counter(a.rule for a in alerts)),
        },
    }

"""The NEV section of the periodic report: the fleet now, by model, and the period's alarms."""

from __future__ import annotations

from collections import Counter
from typing import Any

from citybrain import sdk
from citybrain.scenes.nev.settings import NevSettings
from citybrain.scenes.nev.summary import summarise
from citybrain.sdk import AlertQuery


def report(rt: sdk.Runtime[NevSettings], start: int, end: int) -> dict[str, Any]:
    store = rt.store
    # model and region names as this site configured them (rt.settings), never the defaults
    fleet = summarise([s["data"] for s in store.states("nev", limit=1_000_000)], rt.settings)
    alerts = [a for a in store.alerts(AlertQuery(scene="nev", limit=100_000)) if start <= a.opened_ts < end]
    by_rule = Counter(a.rule for a in alerts)
    rows = [
        {"model": r["model"], "name": r["name"], "vehicles": r["total"], "in_alarm": r["in_alarm"],
         "level_3": r["level_3"]}
        for r in fleet["by_model"]
    ]  # fmt: skip
    return {
        "title": {"zh-CN": "新能源汽车监控", "en": "New-energy vehicle monitoring"},
        "columns": ["model", "name", "vehicles", "in_alarm", "level_3"],
        "titles": {
            "model": "车型代码 / model",
            "name": "车型 / model name",
            "vehicles": "车辆数 / vehicles",
            "in_alarm": "报警中 / in alarm",
            "level_3": "三级报警 / level 3",
            "online_now": "当前在线 / online now",
            "alerts": "告警 / alerts",
            "vehicle_alarms": "车辆报警 / vehicle alarms",
            "early_warnings": "预警 / early warnings",
            "critical": "严重 / critical",
            "alerts_by_rule": "按规则的告警 / alerts by rule",
        },
        "rows": rows,
        "figures": {
            "vehicles": fleet["total"],
            "online_now": fleet["online"],
            "alerts": len(alerts),
            "vehicle_alarms": by_rule.get("nev.vehicle_alarm", 0),
            "early_warnings": sum(n for rule, n in by_rule.items() if rule != "nev.vehicle_alarm"),
            "critical": sum(1 for a in alerts if a.severity == "critical"),
            "alerts_by_rule": dict(sorted(by_rule.items())),
        },
    }

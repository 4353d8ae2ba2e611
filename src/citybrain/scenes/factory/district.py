"""The district view: many plants side by side. Which are connected (the district's target is that
55% of its factories use such systems), and OEE and output trends by industry."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from citybrain.scenes.factory.oee import Oee, combine
from citybrain.scenes.factory.plant import PlantBook, SiteSpec
from citybrain.scenes.factory.query import HOUR, oee_parts
from citybrain.scenes.factory.shifts import DAY, day_start, local_date
from citybrain.sdk import ReadModel

TARGET_SHARE = 0.55


def _connected(site: SiteSpec, states: dict[str, dict[str, Any]], now: int) -> bool:
    limit = max(site.thresholds.silent_s, 60.0) * 1000
    for key, d in states.items():
        if (
            key.startswith(f"{site.id}/")
            and d.get("online", True)
            and now - d.get("last_seen_ms", 0) <= limit
        ):
            return True
    return False


def _daily_output(
    store: ReadModel, book: PlantBook, site: SiteSpec, start: int, end: int
) -> dict[str, float]:
    refs = [r for r in book.machines() if r.site.id == site.id]
    outs = [r for r in refs if r.machine.output]
    out: dict[str, float] = defaultdict(float)
    for r in outs:
        for ts, v in store.metric_series("factory.good_hour", r.key, start, end, HOUR, "max"):
            out[local_date(site, ts)] += v
    return out


def district(store: ReadModel, book: PlantBook, now: int, days: int = 7) -> dict[str, Any]:
    states = {s["key"]: s["data"] for s in store.states("factory")}
    plants = []
    by_ind: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"plants": 0, "connected": 0, "days": defaultdict(lambda: {"output": 0.0, "oee": []})}
    )
    for site in book.sites():
        end = now
        start = day_start(site, now) - (days - 1) * DAY
        today = local_date(site, now)
        conn = _connected(site, states, now)
        parts = oee_parts(store, book, site.id, start, end, "day")
        site_days: dict[str, Oee] = {p: o for (p, lv, _), o in parts.items() if lv == "site"}
        output = _daily_output(store, book, site, start, end)
        ind = by_ind[site.industry or "-"]
        ind["plants"] += 1
        ind["connected"] += int(conn)
        for date in sorted(set(site_days) | set(output)):
            ind["days"][date]["output"] += output.get(date, 0.0)
            if date in site_days:
                ind["days"][date]["oee"].append(site_days[date])
        t = site_days.get(today)
        plants.append(
            {
                "site": site.id,
                "name": site.name,
                "name_en": site.name_en,
                "industry": site.industry,
                "district": site.district,
                "connected": conn,
                "oee_today": t.oee if t else None,
                "output_today": output.get(today, 0.0),
                "lines": sum(len(w.lines) for w in site.workshops),
            }
        )
    industries = {}
    for name, ind in sorted(by_ind.items()):
        trend = [
            {"date": d, "output": v["output"], "oee": combine(v["oee"]).oee if v["oee"] else None}
            for d, v in sorted(ind["days"].items())
        ]
        industries[name] = {
            "plants": ind["plants"],
            "connected": ind["connected"],
            "share_connected": ind["connected"] / ind["plants"],
            "trend": trend,
        }
    n = len(plants)
    connected = sum(1 for p in plants if p["connected"])
    return {
        "plants": plants,
        "connected": connected,
        "share_connected": connected / n if n else None,
        "target_share": TARGET_SHARE,
        "industries": industries,
    }

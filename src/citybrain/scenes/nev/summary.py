"""Fleet figures from the vehicle states: totals, and the same figures by model and by region."""

from __future__ import annotations

from typing import Any

from citybrain.scenes.nev.settings import NevSettings


def matches(
    v: dict[str, Any],
    status: str | None,
    mode: str | None,
    model: str | None,
    region: str | None,
    min_alarm_level: int,
    q: str | None,
) -> bool:
    if status is not None and v.get("online") != (status == "online"):
        return False
    if mode is not None and v.get("mode") != mode:
        return False
    if model is not None and v.get("model") != model:
        return False
    if region is not None and v.get("region") != region:
        return False
    if min_alarm_level and (v.get("alarm_level") or 0) < min_alarm_level:
        return False
    return not (q and q.upper() not in v.get("vin", ""))


def _blank() -> dict[str, int]:
    return {"total": 0, "online": 0, "driving": 0, "charging": 0, "parked": 0, "in_alarm": 0, "level_3": 0}


def _count(row: dict[str, int], v: dict[str, Any]) -> None:
    row["total"] += 1
    level = v.get("alarm_level") or 0
    if level:
        row["in_alarm"] += 1
        row["level_3"] += level >= 3
    if not v.get("online"):
        return
    row["online"] += 1
    mode = v.get("mode")
    if mode in ("driving", "charging", "parked"):
        row[mode] += 1


def summarise(vehicles: list[dict[str, Any]], cfg: NevSettings) -> dict[str, Any]:
    """Driving/charging/parked count online vehicles only; ``in_alarm`` counts every vehicle whose
    last live report carried an alarm (an offline vehicle in alarm still needs attention)."""
    total = _blank()
    by_model: dict[str, dict[str, int]] = {}
    by_region: dict[str, dict[str, int]] = {}
    soc_sum, soc_n = 0.0, 0
    for v in vehicles:
        _count(total, v)
        _count(by_model.setdefault(v.get("model", ""), _blank()), v)
        _count(by_region.setdefault(v.get("region", ""), _blank()), v)
        if v.get("online") and v.get("soc_pct") is not None:
            soc_sum += v["soc_pct"]
            soc_n += 1
    return {
        **total,
        "offline": total["total"] - total["online"],
        "avg_soc_online": round(soc_sum / soc_n, 1) if soc_n else None,
        "by_model": [{"model": k, "name": cfg.model_name(k), **row} for k, row in sorted(by_model.items())],
        "by_region": [
            {"region": k, "name": cfg.region_name(k), **row} for k, row in sorted(by_region.items())
        ],
    }

"""The welfare section of the monthly report: by district, the households at risk (by level and
type), the identification cases opened, enrolled and refused in the month, and the grants made."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.scenes.welfare.settings import WelfareSettings
from citybrain.sdk import data

COLUMNS = ["district", "at_risk", "high", "opened", "enrolled", "rejected", "open", "overdue", "grants"]
TITLES = {
    "district": "区县 / district",
    "at_risk": "风险户",
    "high": "高风险",
    "opened": "本月新增认定",
    "enrolled": "纳入监测",
    "rejected": "不予认定",
    "open": "认定中",
    "overdue": "超期",
    "grants": "免申即享发放",
}


def report(rt: sdk.Runtime[WelfareSettings], start: int, end: int) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}

    def row(area: str) -> dict[str, Any]:
        code = area[:6]
        return rows.setdefault(
            code, {"district": data.nanchang().full_name(code) or code, **{c: 0 for c in COLUMNS[1:]}}
        )

    for s in rt.store.states("welfare", limit=10_000_000):
        d = s["data"]
        if d.get("level") not in (None, "none"):
            r = row(str(d.get("area", "")))
            r["at_risk"] += 1
            r["high"] += d.get("level") == "high"
    now = sdk.now_ms()
    for c in rt.cases.store.find_cases(sdk.CaseQuery(scene="welfare", opened_until=end, limit=1_000_000)):
        r = row(c.area)
        if c.type == "welfare.grant":
            r["grants"] += start <= c.opened_ts < end
            continue
        if c.type != "welfare.relapse":
            continue
        r["opened"] += start <= c.opened_ts < end
        closed_now = c.closed_ts is not None and start <= c.closed_ts < end
        r["enrolled"] += closed_now and c.state == "enrolled"
        r["rejected"] += closed_now and c.state == "rejected"
        if c.closed_ts is None:
            r["open"] += 1
            r["overdue"] += (c.due_ts or now + 1) < now
    ordered = [rows[k] for k in sorted(rows)]
    return {
        "title": {"zh-CN": "帮扶不落一人 · 防返贫监测", "en": "Welfare: poverty-relapse monitoring"},
        "columns": COLUMNS,
        "column_titles": TITLES,
        "rows": ordered,
        "figures": {c: sum(r[c] for r in ordered) for c in COLUMNS[1:]},
    }

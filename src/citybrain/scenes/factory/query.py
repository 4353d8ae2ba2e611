"""Aggregates from the store: OEE by machine, line and site per shift or day; output and quality.

Everything is recomputed from the per-machine, per-shift elements the processor stores
(``factory.shift.*``), so a line, a day or a plant is a sum of elements followed by one division
(see ``oee.combine``), and history and live use one code path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from citybrain.scenes.factory.oee import ELEMENTS, Elements, Oee, combine, counts, machine_oee
from citybrain.scenes.factory.plant import MachineRef, PlantBook
from citybrain.scenes.factory.processors import roles
from citybrain.scenes.factory.shifts import DAY, local_date, shift_at
from citybrain.sdk import ReadModel

HOUR = 3_600_000
By = Literal["shift", "day"]


def shift_elements(store: ReadModel, key: str, start: int, end: int) -> dict[int, Elements]:
    """Shift start -> elements of one machine, for shifts starting in ``[start, end)``."""
    out: dict[int, Elements] = {}
    for f in ELEMENTS:
        for ts, v in store.metric_series(f"factory.shift.{f}", key, start, end, 60_000, "max"):
            setattr(out.setdefault(ts, Elements()), f, v)
    return out


def _period(ref: MachineRef, shift_start: int, by: By) -> str:
    if by == "day":
        return local_date(ref.site, shift_start)
    hit = shift_at(ref.site, shift_start)
    return hit[0] if hit else local_date(ref.site, shift_start)


def oee_parts(
    store: ReadModel,
    book: PlantBook,
    site: str,
    start: int,
    end: int,
    by: By = "shift",
    line: str | None = None,
    machine: str | None = None,
) -> dict[tuple[str, str, str], Oee]:
    """(period, level, entity) -> combined OEE, for machines, their lines and the site."""
    book.site(site)
    refs = [r for r in book.machines() if r.site.id == site and (line is None or r.line.id == line)]
    refs = [r for r in refs if machine is None or r.machine.id == machine]
    per: dict[tuple[str, str, str], list[Oee]] = defaultdict(list)
    for ref in refs:
        for shift_start, e in shift_elements(store, ref.key, start - DAY, end).items():
            if not start <= shift_start < end:
                continue
            o = machine_oee(e, ref.machine.ideal_cycle_s, roles(ref))
            p = _period(ref, shift_start, by)
            per[(p, "machine", ref.key)].append(o)
            per[(p, "line", f"{site}/{ref.line.id}")].append(o)
            per[(p, "site", site)].append(o)
    return {k: combine(parts) for k, parts in per.items()}


def oee_table(
    store: ReadModel,
    book: PlantBook,
    site: str,
    start: int,
    end: int,
    by: By = "shift",
    line: str | None = None,
    machine: str | None = None,
) -> list[dict[str, Any]]:
    """One row per (period, machine), per (period, line) and per (period, site)."""
    parts = oee_parts(store, book, site, start, end, by, line, machine)
    rows = [{"period": p, "level": lv, "entity": ent, **o.as_dict()} for (p, lv, ent), o in parts.items()]
    order = {"site": 0, "line": 1, "machine": 2}
    rows.sort(key=lambda r: (r["period"], order[r["level"]], r["entity"]))
    return rows


def output_table(
    store: ReadModel, book: PlantBook, site: str, line: str, start: int, end: int
) -> dict[str, Any]:
    """Pieces per hour and per day of a line (its output machines' good count), against plan; the
    first-pass yield of each machine and the rolled yield of the line; reject reasons."""
    refs = book.line_machines(site, line)
    if not refs:
        book.site(site)
        return {"hours": [], "days": [], "machines": [], "reject_reasons": {}}
    lspec = refs[0].line
    outs = [r for r in refs if r.machine.output] or refs[-1:]
    hours: dict[int, float] = defaultdict(float)
    for r in outs:
        for ts, v in store.metric_series("factory.good_hour", r.key, start, end, HOUR, "max"):
            hours[ts] += v
    days: dict[str, float] = defaultdict(float)
    for ts, v in hours.items():
        days[local_date(refs[0].site, ts)] += v
    machines = []
    rolled = 1.0
    reasons: dict[str, float] = defaultdict(float)
    for r in refs:
        tot = Elements()
        for e in shift_elements(store, r.key, start - DAY, end).values():
            tot.add(e)
        c = counts(tot, roles(r))
        fpy = c.good / c.produced if c.produced else None
        if fpy is not None:
            rolled *= fpy
        machines.append(
            {
                "machine": r.key,
                "produced": c.produced,
                "good": c.good,
                "reject": c.reject,
                "first_pass_yield": fpy,
            }
        )
        for key in store.metric_keys("factory.rejects"):
            if key.startswith(f"{r.key}|"):
                for _, v in store.metric_series("factory.rejects", key, start - DAY, end, 60_000, "max"):
                    reasons[key.split("|", 1)[1]] += v
    plan = lspec.plan_per_hour
    return {
        "line": f"{site}/{line}",
        "plan_per_hour": plan,
        "hours": [
            {"ts": ts, "good": v, "plan": plan, "vs_plan": v / plan if plan else None}
            for ts, v in sorted(hours.items())
        ],
        "days": [{"date": d, "good": v} for d, v in sorted(days.items())],
        "machines": machines,
        "rolled_yield": rolled if machines else None,
        "reject_reasons": dict(reasons),
    }


def live_oee(states: list[dict[str, Any]], book: PlantBook, site: str) -> dict[str, Any]:
    """The current shift of every machine of a site (from live states) and their line totals."""
    lines: dict[str, list[Oee]] = defaultdict(list)
    machines = []
    for s in states:
        d = s["data"]
        ref = book.machine(s["key"])
        if ref is None or ref.site.id != site or not d.get("oee"):
            continue
        machines.append({"machine": s["key"], "state": d.get("state"), "shift": d.get("shift"), **d["oee"]})
        o = d["oee"]
        t, lo = o["time_s"], o["losses_s"]
        ideal = lo["productive"] + lo["rejects"]
        lines[ref.line.id].append(
            Oee(
                pbt_s=t["planned_busy"],
                apt_s=t["actual_production"],
                ideal_s=ideal,
                good_ideal_s=lo["productive"],
                produced=o["produced"],
                good=o["good"],
                reject=o["reject"],
                planned_s=t["planned_stops"],
                nodata_s=t["no_data"],
                down_s=lo["unplanned_stops"],
                minor_s=lo["minor_stops"],
            )
        )
    return {
        "site": site,
        "machines": sorted(machines, key=lambda m: m["machine"]),
        "lines": {line: combine(parts).as_dict() for line, parts in sorted(lines.items())},
    }

"""Traceability: the genealogy of a unit or lot from ``factory.trace`` events in the store.

Backward ("what made this unit"): the unit's own steps (machines, operators, parameters, times),
then, for every input lot, that lot's steps, recursively. Forward ("where did this lot go"): every
step that consumed the lot, then what those outputs went into, recursively. Both stop at
``depth`` levels and never visit a unit twice (a cycle in bad data cannot loop).

Forward lookups search trace payloads for the lot id and then check the decoded inputs, so a lot
id that merely appears in some other field is never reported. (Proposed for the core: a genealogy
edge table ``(parent_lot, child_unit, ts)`` indexed both ways; the events stay the record.)
"""

from __future__ import annotations

from typing import Any

import msgspec

from citybrain.scenes.factory.events import FactoryTrace
from citybrain.sdk import NotFoundError, ReadModel


def _steps(store: ReadModel, unit: str) -> list[FactoryTrace]:
    return [e for e in store.find_events(["factory.trace"], keys=[unit]) if isinstance(e, FactoryTrace)]


def _step(ev: FactoryTrace) -> dict[str, Any]:
    d: dict[str, Any] = msgspec.to_builtins(ev)
    for k in ("kind", "ingest_ts", "scene"):
        d.pop(k, None)
    d["unit"] = d.pop("key")
    return d


def backward(store: ReadModel, unit: str, depth: int = 10) -> dict[str, Any]:
    seen: set[str] = set()
    summary: dict[str, set[str]] = {"machines": set(), "operators": set(), "lots": set()}

    def walk(u: str, level: int) -> dict[str, Any]:
        seen.add(u)
        steps = _steps(store, u)
        node: dict[str, Any] = {"unit": u, "steps": [_step(s) for s in steps], "inputs": []}
        for s in steps:
            if s.machine:
                summary["machines"].add(f"{s.site}/{s.machine}" if s.site else s.machine)
            if s.operator:
                summary["operators"].add(s.operator)
            for inp in s.inputs:
                summary["lots"].add(inp.lot)
                child: dict[str, Any] = {
                    "lot": inp.lot,
                    "material": inp.material,
                    "qty": inp.qty,
                    "unit": inp.unit,
                }
                if inp.lot not in seen and level < depth:
                    child["made_of"] = walk(inp.lot, level + 1)
                node["inputs"].append(child)
        return node

    tree = walk(unit, 0)
    if not tree["steps"]:
        raise NotFoundError(f"no production record of {unit!r}")
    return {"unit": unit, "tree": tree, **{k: sorted(v) for k, v in summary.items()}}


def consumers(store: ReadModel, lot: str) -> list[FactoryTrace]:
    found = store.find_events(["factory.trace"], contains=lot)
    return [e for e in found if isinstance(e, FactoryTrace) and any(i.lot == lot for i in e.inputs)]


def forward(store: ReadModel, lot: str, depth: int = 10) -> dict[str, Any]:
    seen: set[str] = set()
    reached: set[str] = set()

    def walk(item: str, level: int) -> list[dict[str, Any]]:
        seen.add(item)
        out = []
        for ev in consumers(store, item):
            reached.add(ev.key)
            node: dict[str, Any] = {"unit": ev.key, "step": _step(ev)}
            if ev.key not in seen and level < depth:
                node["used_in"] = walk(ev.key, level + 1)
            out.append(node)
        return out

    used = walk(lot, 0)
    if not used and not _steps(store, lot):
        raise NotFoundError(f"no production record mentions {lot!r}")
    return {"lot": lot, "used_in": used, "units": sorted(reached)}

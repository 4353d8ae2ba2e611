"""An ordinary restart of the platform mid-shift (the issue's "OEE 3,590 %"): a real platform with
the factory scene, its embedded MQTT broker and its simulator publishing JSON and Sparkplug B, is
stopped and started again on the same data folder. The processors go on from their checkpoints
while the simulator starts over from its seed, so every counter drops back (or, for a 16-bit one
past its wrap, comes back higher). OEE stays within 0..100 %, the hourly output within what the
machines can make, the restart is seen as counter resets, and no "quality low" alert is raised."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

from citybrain import data
from citybrain.scenes.factory.plant import load_file
from tests.web import platform_server

RUN_S = 8.0  # seconds of simulated production before and after the restart
PLANTS = str(data.path("plants/demo.toml"))


def all_day_plants(tmp_path: Path) -> Path:
    """The demo plants with two 12-hour shifts and no planned stop: a shift is always on."""
    sites = [msgspec.to_builtins(s) for s in load_file(PLANTS)]
    for s in sites:
        s["shifts"] = [
            {"name": "A", "start": "00:00", "end": "12:00"},
            {"name": "B", "start": "12:00", "end": "00:00"},
        ]
        s["planned_stops"] = []
    path = tmp_path / "plants.json"
    path.write_bytes(msgspec.json.encode({"sites": sites}))
    return path


def start(var: Path, plants: Path) -> platform_server.Running:
    return platform_server.start(
        var,
        installed={"factory"},
        scene_settings={"factory": {"plants_file": str(plants)}},
        simulators={"factory": {"tick_s": 0.5}},
    )


def get(run: platform_server.Running, path: str) -> Any:
    r = httpx.get(f"{run.url}{path}", headers={"Authorization": f"Bearer {run.tokens['read']}"}, timeout=10)
    r.raise_for_status()
    return r.json()


def producing(run: platform_server.Running, n: int) -> list[dict[str, Any]]:
    """Wait until at least ``n`` machines have counted pieces this shift; their live states."""
    deadline = time.monotonic() + 60
    while True:
        machines: list[dict[str, Any]] = get(run, "/api/v1/scenes/factory/machines")
        made = [m for m in machines if (m.get("oee") or {}).get("produced", 0) > 0]
        if len(made) >= n or time.monotonic() > deadline:
            return machines
        time.sleep(0.5)


def test_restart_mid_shift_keeps_oee_and_output_sane(tmp_path: Path) -> None:
    plants, var = all_day_plants(tmp_path), tmp_path / "var"
    ideal = {f"{s.id}/{m.id}": m.ideal_cycle_s for s in load_file(PLANTS)
             for w in s.workshops for ln in w.lines for m in ln.machines}  # fmt: skip
    began = time.monotonic()
    run = start(var, plants)
    try:
        time.sleep(RUN_S)
        before = producing(run, 5)
    finally:
        run.stop()
    run = start(var, plants)  # the simulator starts over from its seed: its counters drop back
    try:
        time.sleep(RUN_S)
        deadline = time.monotonic() + 60
        while True:
            after = producing(run, 5)
            resets = {m["key"]: m["counter_events"] for m in after if m.get("counter_events")}
            if len(resets) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        alerts = get(run, "/api/v1/alerts?scene=factory")
    finally:
        run.stop()
    elapsed = time.monotonic() - began
    assert len([m for m in before if (m.get("oee") or {}).get("produced", 0) > 0]) >= 5
    # every JSON machine with a 32-bit counter saw it drop back: a reset each, never production
    assert len(resets) >= 5 and all(set(ev) <= {"reset", "jump", "birth"} for ev in resets.values())
    for m in after:
        o = m.get("oee") or {}
        for ratio in ("oee", "availability", "performance", "quality"):
            assert o.get(ratio) is None or 0.0 <= o[ratio] <= 1.0, (m["key"], ratio, o)
        # at most twice the ideal rate over the whole test (before, between and after the runs)
        limit = 2 * elapsed / ideal[m["key"]] + 1
        assert o.get("produced", 0) <= limit, (m["key"], o.get("produced"), limit)
        assert m["output_this_hour"] <= limit, (m["key"], m["output_this_hour"], limit)
    assert [a["message"] for a in alerts if a["rule"] == "factory.quality_low"] == []

"""The fleet simulator: deterministic frames for a seed, real decodable GB/T 32960 of both editions,
and a short run over real TCP through the gateway into the fleet state."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from citybrain.core.platform import Platform
from citybrain.protocols import gb32960 as gb
from citybrain.scenes.nev.convert import report_event
from citybrain.scenes.nev.events import NevLogin, NevLogout, NevReport
from citybrain.scenes.nev.gateway import Gb32960Gateway
from citybrain.scenes.nev.settings import GatewaySettings
from citybrain.scenes.nev.sim import FleetSimulator, NevSimConfig, simulator
from citybrain.scenes.nev.simvehicle import DEMO_AREA, VirtualVehicle
from citybrain.sim.base import IngestClient, SimContext
from tests.scenes.nev.nev_testkit import T0, nev_platform, stored


def frames(seed: int, index: int, steps: int = 400) -> list[bytes]:
    v = VirtualVehicle(seed, index)
    out = [v.login(T0)]
    for i in range(steps):
        ts = T0 + i * 10_000
        v.step(ts)
        out += v.report(ts)
    return [*out, v.logout(T0 + steps * 10_000)]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert frames(7, 3) == frames(7, 3)
    assert frames(7, 3) != frames(8, 3)
    assert frames(7, 3)[5] != frames(7, 4)[5]


def test_frames_decode_for_both_editions_and_the_bus_pack_is_split() -> None:
    editions: Counter[str] = Counter()
    for index in range(8):
        v = VirtualVehicle(11, index)
        reassembler = gb.CellVoltageReassembler()
        for i, frame in enumerate(frames(11, index, steps=30)):
            msg = gb.decode_frame(frame)
            editions[msg.header.edition] += 1
            assert msg.header.vin == v.vin
            if isinstance(msg, gb.RealtimeReport):
                ev = report_event(msg, "t", reassembler)
                if msg.find("vehicle"):
                    assert ev.soc_pct is not None and 0 <= ev.soc_pct <= 100 and ev.lon is not None
                    lon0, lat0, lon1, lat1 = DEMO_AREA  # the demo road network's box by default
                    assert lon0 <= ev.lon <= lon1 and lat0 <= (ev.lat or 0) <= lat1
                elif v.model.prefix == "LCBBS3":  # the 40 cells after the first 200
                    assert ev.max_cell_v is not None and i > 0
        assert len(reassembler) == 0  # every split pack completed
    assert editions["2016"] > 100 and editions["2025"] > 100


def test_the_fleet_stays_in_its_configured_area() -> None:
    area = (115.70, 28.50, 116.10, 28.85)  # e.g. Nanchang instead of the demo network's box
    sim = simulator({"seed": 4, "vehicles": 5, "area": list(area)})
    assert sim.cfg.area == area
    for v in sim.vehicles:
        for i in range(2_000):
            v.step(T0 + i * 10_000)
            assert area[0] <= v.lon <= area[2] and area[1] <= v.lat <= area[3]


def test_some_vehicles_raise_alarms_over_a_simulated_day() -> None:
    levels: Counter[int] = Counter()
    for index in range(12):
        v = VirtualVehicle(3, index)
        for i in range(8_640 // 4):  # six hours of 10-s steps
            v.step(T0 + i * 10_000)
            levels[v.fault_level] += 1
    assert levels[0] > 0.9 * sum(levels.values()) and levels[1] and levels[2]


def run_through_gateway(p: Platform, sim: FleetSimulator, seconds: float) -> Gb32960Gateway:
    """Run ``sim`` for ``seconds`` over real TCP into a gateway feeding ``p``; return the stopped gateway."""

    async def main() -> Gb32960Gateway:
        gw = Gb32960Gateway(p.batcher.submit, GatewaySettings(port=0))
        await gw.start()
        stop = asyncio.Event()
        ctx = SimContext(
            IngestClient("http://127.0.0.1:9", "unused"), "127.0.0.1", {"gateway": {"port": gw.port}}
        )
        task = asyncio.create_task(sim.run(ctx, stop))
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.wait_for(task, 10)
        await ctx.http.aclose()
        await gw.stop()
        await p.batcher.stop()
        return gw

    return asyncio.run(main())


def test_fleet_runs_over_tcp_into_the_fleet_state(tmp_path: Path) -> None:
    p = nev_platform(tmp_path)
    sim = simulator({"seed": 5, "vehicles": 6, "interval_s": 0.1, "link_drop": 0.0})
    assert isinstance(sim.cfg, NevSimConfig)
    gw = run_through_gateway(p, sim, 1.2)
    assert gw.stats.connections_total == 6 and gw.stats.flush_errors == 0
    events = stored(p)
    kinds = Counter(type(e) for e in events)
    assert kinds[NevLogin] == 6 and kinds[NevLogout] == 6 and kinds[NevReport] >= 6 * 5
    # every frame sent was decoded and published (identical reports within one second share an id)
    assert p.counters.accepted + p.counters.duplicates == sim.sent + 12
    assert sim.replies.get(gb.ResponseFlag.SUCCESS, 0) == 12  # 6 logins + 6 logouts acknowledged
    p.pipeline.drain()
    states = {s["key"]: s["data"] for s in p.store.states("nev")}
    assert len(states) == 6 and all(not s["online"] for s in states.values())  # all logged out
    assert {s["edition"] for s in states.values()} == {"2016", "2025"}
    p.stop()


def test_a_dropped_link_comes_back_with_reissues(tmp_path: Path) -> None:
    p = nev_platform(tmp_path)
    sim = simulator({"seed": 9, "vehicles": 1, "interval_s": 0.05, "link_drop": 1.0, "drop_s": 0.2})
    run_through_gateway(p, sim, 0.8)
    reports = [e for e in stored(p) if isinstance(e, NevReport)]
    assert any(r.reissue for r in reports) and any(not r.reissue for r in reports)
    p.stop()

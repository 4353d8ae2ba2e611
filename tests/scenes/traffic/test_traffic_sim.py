"""The simulator: deterministic for a seed and start time, with the daily rhythm and the incident,
and speaking JT/T 808 over a real socket to the gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

from citybrain.scenes.traffic.events import TrafficPosition
from citybrain.scenes.traffic.gateway import Jt808Gateway
from citybrain.scenes.traffic.settings import GatewayConfig
from citybrain.scenes.traffic.sim import Terminal, location_frame, phone_of
from citybrain.scenes.traffic.simworld import SimConfig, World, peak_factor
from tests.scenes.traffic.traffic_testkit import T_OFFPEAK, T_PEAK, network, stored, traffic_platform

SMALL = SimConfig(buses=6, taxis=10, ride_hail=5)


def run(seed: int, start: int, seconds: int = 30) -> list[tuple[object, ...]]:
    w = World(network(), SimConfig(buses=6, taxis=10, ride_hail=5, seed=seed), start)
    out: list[tuple[object, ...]] = []
    for _ in range(seconds):
        w.step(1.0)
        out += [tuple(vars(w.fix(v)).values()) for v in w.due(w.now)]
    return out


def test_same_seed_same_traffic_other_seed_other_traffic() -> None:
    a, b = run(1, T_PEAK), run(1, T_PEAK)
    assert a == b and len(a) == 21 * 3  # every vehicle reports every 10 s
    assert run(2, T_PEAK) != a
    w1, w2 = World(network(), SMALL, T_PEAK), World(network(), SMALL, T_PEAK)
    wire = [location_frame(phone_of(i), i, w.fix(w.vehicles[i])) for w in (w1, w2) for i in range(3)]
    assert wire[:3] == wire[3:]  # and so are the JT/T 808 frames on the wire


def test_daily_rhythm_and_incident() -> None:
    assert peak_factor(T_PEAK, "secondary", "Sveavägen") < 0.35  # 08:00 China time on a hotspot road
    assert peak_factor(T_OFFPEAK, "secondary", "Sveavägen") > 0.95
    assert peak_factor(T_PEAK, "residential", "") > peak_factor(T_PEAK, "secondary", "")
    w = World(network(), SMALL, T_PEAK)
    start = (T_PEAK // 1_800_000) * 1_800_000  # incidents start every 30 min of event time
    assert w.incident_active(start) and not w.incident_active(start + 600_000)
    assert w.speed_ms(w.incident, start, 1.0) < 0.2 * w.speed_ms(w.incident, start + 600_000, 1.0)
    assert w.names[w.incident] == "Odengatan"


def test_terminals_speak_jt808_to_the_gateway(tmp_path: Path) -> None:
    p = traffic_platform(tmp_path)
    world = World(network(), SMALL, T_PEAK)

    async def main() -> None:
        gw = Jt808Gateway(p.batcher.submit, GatewayConfig(port=0))
        await gw.start()
        terms = [
            Terminal(phone_of(i), f"赣A{i:05d}", 2 if v.vtype == "bus" else 1)
            for i, v in enumerate(world.vehicles[:4])
        ]
        try:
            await asyncio.gather(*(t.connect("127.0.0.1", gw.port) for t in terms))
            import time

            world.now = int(time.time() * 1000)
            for t, v in zip(terms, world.vehicles[:4], strict=True):
                t.send(world.fix(v))
            for _ in range(100):
                if sum(t.acked for t in terms) >= 4:
                    break
                await asyncio.sleep(0.05)
            assert sum(t.acked for t in terms) == 4
        finally:
            await asyncio.gather(*(t.close() for t in terms))
            await gw.stop()
            await p.batcher.stop()

    try:
        asyncio.run(main())
        pos = stored(p, TrafficPosition)
        assert len(pos) == 4 and {e.vehicle_type for e in pos} <= {"bus", "taxi"}
        assert {e.key for e in pos} == {f"赣A{i:05d}" for i in range(4)}
    finally:
        p.stop()

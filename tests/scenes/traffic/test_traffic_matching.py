"""Stage 1: online map matching of a vehicle's sliding window into whole-segment traversals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citybrain.scenes.traffic.events import TrafficPosition, TrafficSourceSeen, TrafficTraversal
from citybrain.scenes.traffic.matching import VehicleMatcher
from tests.scenes.traffic.traffic_testkit import T_PEAK, Driver, config, network


def drive(
    speed_ms: float, every_s: int, route_nodes: tuple[int, int]
) -> tuple[list[int], list[TrafficPosition]]:
    """Fixes every ``every_s`` along the shortest path between two nodes at constant speed."""
    tn = network()
    net = tn.net
    _, path = net.shortest_path(*route_nodes)
    lengths = [float(net.length[net.index_of(e)]) for e in path]
    total = sum(lengths)
    fixes = []
    t = 0
    while t * speed_ms <= total:
        d, i = t * speed_ms, 0
        while i < len(path) - 1 and d > lengths[i]:
            d -= lengths[i]
            i += 1
        lon, lat = net.point_on_edge(net.index_of(path[i]), min(d, lengths[i]))
        fixes.append(
            TrafficPosition(
                key="taxi-1",
                ts=T_PEAK + t * 1000,
                source="test",
                lon=lon,
                lat=lat,
                vehicle_type="taxi",
                ingest_ts=T_PEAK + t * 1000,
            )
        )
        t += every_s
    return path, fixes


def test_traversals_are_emitted_once_with_the_driven_speed() -> None:
    tn = network()
    nodes = tn.net.node_ids
    path, fixes = drive(10.0, 10, (int(nodes[5]), int(nodes[400])))
    assert len(path) >= 6
    d = Driver(VehicleMatcher(0, config(), network()))
    out_events = []
    for fx in fixes:  # one point per batch: the window is re-matched every time
        out_events += d.feed([fx]).events
    trav = [e for e in out_events if isinstance(e, TrafficTraversal)]
    assert trav, "no traversal emitted"
    keys = [int(e.key) for e in trav]
    assert len(keys) == len(set(keys)), "a traversal was emitted twice"
    assert set(keys) <= set(path)
    # interior segments of the path are all found (first/last are only partly driven)
    assert len(keys) >= len(path) - 3
    speeds = np.array([e.length_m / e.travel_s * 3.6 for e in trav])
    assert np.median(speeds) == pytest.approx(36.0, rel=0.05)
    assert all(e.vehicle == "taxi-1" and e.vehicle_type == "taxi" for e in trav)
    assert any(isinstance(e, TrafficSourceSeen) and e.key == "test/taxi" for e in out_events)


def test_reissued_positions_are_stored_but_never_matched() -> None:
    tn = network()
    nodes = tn.net.node_ids
    _, fixes = drive(10.0, 10, (int(nodes[5]), int(nodes[400])))
    d = Driver(VehicleMatcher(0, config(), network()))
    back = [
        TrafficPosition(key=f.key, ts=f.ts, source=f.source, lon=f.lon, lat=f.lat, live=False) for f in fixes
    ]
    out = d.feed(back)
    assert not [e for e in out.events if isinstance(e, TrafficTraversal)]
    assert not out.states
    proc = d.proc
    assert isinstance(proc, VehicleMatcher) and proc.state.tracks == {}


def test_a_long_silence_starts_a_new_trace() -> None:
    tn = network()
    d = Driver(VehicleMatcher(0, config(), network()))
    lon, lat = tn.net.point_on_edge(0, 1.0)
    d.feed([TrafficPosition(key="v", ts=T_PEAK, lon=lon, lat=lat)])
    d.feed([TrafficPosition(key="v", ts=T_PEAK + 10_000, lon=lon, lat=lat)])
    d.feed([TrafficPosition(key="v", ts=T_PEAK + 10_000 + math.ceil(121_000), lon=lon, lat=lat)])
    proc = d.proc
    assert isinstance(proc, VehicleMatcher)
    assert proc.state.tracks["v"].t == [T_PEAK + 131_000]

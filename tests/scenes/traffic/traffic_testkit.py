"""Helpers for the traffic scene tests: a platform with only the traffic scene, the demo network,
processors driven directly (no server), and crafted events."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from citybrain.core.config import Settings, load_settings
from citybrain.core.events import REGISTRY, Event
from citybrain.core.outputs import Outputs
from citybrain.core.platform import Platform
from citybrain.core.processor import AlertBook, Emitter, Processor
from citybrain.scenes.traffic import roadnet, scene
from citybrain.scenes.traffic.events import TrafficSegmentWindow, TrafficTraversal
from citybrain.scenes.traffic.settings import TrafficSettings

E = TypeVar("E", bound=Event)

# 2026-07-02 00:00 UTC = 08:00 China time (AM peak); minute-aligned
T_PEAK = 1_782_950_400_000
T_OFFPEAK = T_PEAK + 3 * 3_600_000  # 11:00 China time
MIN = 60_000


@functools.cache
def network() -> roadnet.TrafficNetwork:
    """The demo network, read once per test run."""
    return roadnet.world(TrafficSettings(), Path())


def config(**settings: Any) -> TrafficSettings:
    """The scene's settings as the platform validates them."""
    return scene.load_settings(settings)


def traffic_settings(tmp_path: Path, **scene_settings: Any) -> Settings:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var")})
    s.scenes["traffic"] = {"gateway": {"port": 0}, **scene_settings}
    return s


def traffic_platform(tmp_path: Path, **scene_settings: Any) -> Platform:
    for kind in scene.events:
        REGISTRY.register(kind)
    return Platform(traffic_settings(tmp_path, **scene_settings), scenes={"traffic": scene})


def stored(p: Platform, kind: type[E]) -> list[E]:
    out: list[E] = []
    for part in range(p.bus.partitions):
        out.extend(ev for _, ev in p.store.read_events(part, 0, 1_000_000) if isinstance(ev, kind))
    return sorted(out, key=lambda e: (e.ts, e.id))


class Driver:
    """Runs one processor by hand: ``feed`` a batch, read what it emitted."""

    def __init__(self, proc: Processor[Any]) -> None:
        self.proc = proc
        self.book = AlertBook()
        self.offset = 0

    def feed(self, events: Sequence[Event]) -> Outputs:
        out = Outputs()
        batch = []
        for ev in events:
            self.offset += 1
            batch.append((self.offset, ev))
        self.proc.process(batch, Emitter(self.proc.name, 0, self.book, out))
        return out

    def tick(self, now_ms: int) -> Outputs:
        out = Outputs()
        self.proc.tick(now_ms, Emitter(self.proc.name, 0, self.book, out))
        return out


def traversal(
    seg: int, exit_ts: int, length_m: float, travel_s: float, vehicle: str = "v1"
) -> TrafficTraversal:
    return TrafficTraversal(
        key=str(seg),
        ts=exit_ts,
        source="test",
        vehicle=vehicle,
        entry_ts=exit_ts - int(travel_s * 1000),
        length_m=length_m,
        travel_s=travel_s,
    )


def seg_window(
    area: str,
    seg: int,
    start: int,
    length: float,
    speed: float,
    ff: float,
    w: float = 1.0,
    samples: int = 5,
    window: Literal["1m", "5m"] = "1m",
) -> TrafficSegmentWindow:
    return TrafficSegmentWindow(
        key=area,
        ts=start,
        source="test",
        window=window,
        segment=seg,
        length_m=length,
        speed_kmh=speed,
        freeflow_kmh=ff,
        samples=samples,
        weight=w,
    )


def metrics(out: Outputs, name: str) -> dict[tuple[str, int], float]:
    return {(m.key, m.ts): m.value for m in out.metrics if m.name == name}

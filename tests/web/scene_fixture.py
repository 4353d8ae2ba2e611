"""A contract-fixture scene for the dashboard tests and benchmark: a small fleet on a few Nanchang
roads, built only from the documented map-layer and panel contract (docs/dashboard.md). It stands
in for the traffic and new-energy-vehicle scenes while those are built: segments coloured by
congestion level, hotspots, vehicles with heading, a vehicle detail and track API, a congestion
alert, headline figures. Registered by passing it to ``Platform(settings, scenes=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec
from fastapi import APIRouter, Depends

from citybrain.api.auth import require
from citybrain.core.events import Event
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.processor import AlertRule, Emitter, Processor
from citybrain.core.scenes import Scene
from citybrain.sim.base import SimContext

NAME = "fleet"
SEGMENTS: dict[str, tuple[str, list[tuple[float, float]]]] = {
    "s1": ("八一大道", [(115.905, 28.655), (115.905, 28.700)]),
    "s2": ("阳明路", [(115.880, 28.682), (115.935, 28.682)]),
    "s3": ("北京西路", [(115.870, 28.670), (115.930, 28.670)]),
    "s4": ("红谷中大道", [(115.845, 28.690), (115.860, 28.665)]),
    "s5": ("洪都大道", [(115.925, 28.650), (115.925, 28.700)]),
}
CONGESTION = AlertRule(
    name="fleet.congestion",
    scene=NAME,
    title="路段严重拥堵 / Severe congestion",
    severity="major",
    clear_ms=5_000,
    update_every_ms=2_000,
    doc="Segment index above 8.",
)
LEVELS = [
    {"value": v, "color": c, "label": lab}
    for v, c, lab in (
        (1, "#34d399", {"zh-CN": "畅通", "en": "Free"}),
        (2, "#a3e635", {"zh-CN": "基本畅通", "en": "Light"}),
        (3, "#f5c542", {"zh-CN": "轻度拥堵", "en": "Slow"}),
        (4, "#ff8a3d", {"zh-CN": "中度拥堵", "en": "Heavy"}),
        (5, "#ff4d5e", {"zh-CN": "严重拥堵", "en": "Jammed"}),
    )
]


class Position(Event, tag="fleet.position"):
    scene: ClassVar[str] = NAME
    lon: float
    lat: float
    speed: float = 0.0
    heading: float = 0.0
    soc: float = 0.0
    vtype: str = "nev"


class SegmentIndex(Event, tag="fleet.segment"):
    scene: ClassVar[str] = NAME
    index: float


def level(index: float) -> int:
    return min(5, 1 + int(index // 2))


class FleetState(msgspec.Struct):
    ticks: int = 0


class FleetProc(Processor[FleetState]):
    name = "fleet.proc"
    kinds = (Position, SegmentIndex)
    state_type = FleetState

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        for _, ev in batch:
            if isinstance(ev, Position):
                data = {f: getattr(ev, f) for f in ("lon", "lat", "speed", "heading", "soc", "vtype")}
                out.state(f"{NAME}.vehicles", ev.key, ev.ts, data)
                for f in ("lon", "lat", "speed", "soc"):
                    out.metric(f"{NAME}.{f}", ev.key, ev.ts, getattr(ev, f))
            elif isinstance(ev, SegmentIndex):
                name = SEGMENTS.get(ev.key, (ev.key, []))[0]
                out.state(
                    f"{NAME}.segments",
                    ev.key,
                    ev.ts,
                    {"index": ev.index, "level": level(ev.index), "name": name},
                )
                out.metric(f"{NAME}.segment_index", ev.key, ev.ts, ev.index)
                out.signal(
                    CONGESTION,
                    ev.key,
                    ev.ts,
                    ev.index > 8,
                    message=f"{name} 拥堵指数 {ev.index:.1f}",
                    data={"index": ev.index},
                )


def _fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def routes(platform: Any) -> APIRouter:
    r = APIRouter(dependencies=[Depends(require("read"))])
    store = platform.store

    def seg_states() -> dict[str, dict[str, Any]]:
        return {s["key"]: s["data"] for s in store.states(f"{NAME}.segments")}

    @r.get("/segments")
    def segments() -> dict[str, Any]:
        st = seg_states()
        return _fc(
            [
                {
                    "type": "Feature",
                    "id": k,
                    "properties": {"key": k, "name": name, **st.get(k, {"level": 1})},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
                for k, (name, coords) in SEGMENTS.items()
            ]
        )

    @r.get("/hotspots")
    def hotspots() -> dict[str, Any]:
        st = seg_states()
        return _fc(
            [
                {
                    "type": "Feature",
                    "id": k,
                    "properties": {"key": k, "name": name, "index": st[k]["index"]},
                    "geometry": {"type": "Point", "coordinates": coords[len(coords) // 2 - 1]},
                }
                for k, (name, coords) in SEGMENTS.items()
                if k in st and st[k]["index"] >= 6
            ]
        )

    @r.get("/vehicles")
    def vehicles() -> dict[str, Any]:
        return _fc(
            [
                {
                    "type": "Feature",
                    "id": s["key"],
                    "properties": {"key": s["key"], "ts": s["ts"], **s["data"]},
                    "geometry": {"type": "Point", "coordinates": [s["data"]["lon"], s["data"]["lat"]]},
                }
                for s in store.states(f"{NAME}.vehicles")
            ]
        )

    @r.get("/vehicles/{key}")
    def vehicle(key: str) -> dict[str, Any]:
        rows = store.states(f"{NAME}.vehicles", key)
        return {"key": key, "ts": rows[0]["ts"], **rows[0]["data"], "alarms": []} if rows else {"key": key}

    @r.get("/vehicles/{key}/track")
    def track(key: str, start: int, end: int) -> dict[str, Any]:
        cols = {
            f: dict(store.metric_series(f"{NAME}.{f}", key, start, end, 1_000, "last"))
            for f in ("lon", "lat", "speed")
        }
        return {
            "key": key,
            "points": [
                [ts, lon, cols["lat"].get(ts), cols["speed"].get(ts)]
                for ts, lon in sorted(cols["lon"].items())
                if ts in cols["lat"]
            ],
        }

    @r.get("/summary")
    def summary() -> dict[str, Any]:
        st = seg_states()
        idx = [s["index"] for s in st.values()]
        return {
            "online": len(store.states(f"{NAME}.vehicles")),
            "congestion_index": sum(idx) / len(idx) if idx else None,
        }

    return r


def _live(topic: str) -> str:
    return f"state.{NAME}.{topic}"


PANEL: dict[str, Any] = {
    "id": NAME,
    "title": {"zh-CN": "车队(契约样例)", "en": "Fleet (contract fixture)"},
    "headline": [
        {
            "label": {"zh-CN": "城市拥堵指数", "en": "Congestion index"},
            "api": f"/api/v1/scenes/{NAME}/summary",
            "field": "congestion_index",
            "digits": 1,
            "live": _live("segments"),
        },
        {
            "label": {"zh-CN": "在线车辆", "en": "Vehicles online"},
            "api": f"/api/v1/scenes/{NAME}/summary",
            "field": "online",
            "live": _live("vehicles"),
        },
    ],
    "widgets": [
        {
            "kind": "timeseries",
            "label": {"zh-CN": "路段拥堵指数", "en": "Segment congestion index"},
            "metric": f"{NAME}.segment_index",
            "live": f"metric.{NAME}.segment_index",
        },
        {
            "kind": "table",
            "label": {"zh-CN": "路段", "en": "Segments"},
            "api": f"/api/v1/scenes/{NAME}/segments",
            "rows": "features",
            "live": _live("segments"),
            "columns": [
                {"field": "properties.name", "label": {"zh-CN": "道路", "en": "Road"}},
                {"field": "properties.index", "label": {"zh-CN": "指数", "en": "Index"}, "digits": 1},
            ],
        },
    ],
    "map_layers": [
        {
            "id": f"{NAME}.segments",
            "title": {"zh-CN": "路段拥堵", "en": "Road congestion"},
            "geometry": "line",
            "source": f"/api/v1/scenes/{NAME}/segments",
            "live": _live("segments"),
            "key": "key",
            "size": 5,
            "color": {"by": "level", "categories": LEVELS},
            "label": "name",
            "drill": {
                "title": "name",
                "metrics": [
                    {"metric": f"{NAME}.segment_index", "label": {"zh-CN": "拥堵指数", "en": "Index"}}
                ],
                "fields": [
                    {"field": "name", "label": {"zh-CN": "道路", "en": "Road"}},
                    {"field": "index", "label": {"zh-CN": "拥堵指数", "en": "Index"}, "digits": 1},
                    {"field": "level", "label": {"zh-CN": "等级", "en": "Level"}},
                ],
            },
        },
        {
            "id": f"{NAME}.hotspots",
            "title": {"zh-CN": "拥堵热点", "en": "Hotspots"},
            "geometry": "point",
            "source": f"/api/v1/scenes/{NAME}/hotspots",
            "key": "key",
            "size": 8,
            "radius_by": "index",
            "color": {
                "by": "index",
                "stops": [[6, "#f5c542"], [10, "#ff4d5e"]],
                "label": {"zh-CN": "指数", "en": "Index"},
            },
            "drill": {
                "title": "name",
                "metrics": [
                    {"metric": f"{NAME}.segment_index", "label": {"zh-CN": "拥堵指数", "en": "Index"}}
                ],
            },
        },
        {
            "id": f"{NAME}.vehicles",
            "title": {"zh-CN": "车辆", "en": "Vehicles"},
            "geometry": "vehicle",
            "source": f"/api/v1/scenes/{NAME}/vehicles",
            "live": _live("vehicles"),
            "key": "key",
            "heading": "heading",
            "size": 6,
            "color": {
                "by": "vtype",
                "categories": [
                    {"value": "bus", "color": "#35c7ff", "label": {"zh-CN": "公交", "en": "Bus"}},
                    {"value": "taxi", "color": "#f5c542", "label": {"zh-CN": "出租车", "en": "Taxi"}},
                    {"value": "nev", "color": "#34d399", "label": {"zh-CN": "新能源车", "en": "NEV"}},
                ],
            },
            "drill": {
                "title": "key",
                "detail": f"/api/v1/scenes/{NAME}/vehicles/{{key}}",
                "track": f"/api/v1/scenes/{NAME}/vehicles/{{key}}/track",
                "metrics": [{"metric": f"{NAME}.soc", "label": "SOC %"}],
                "fields": [
                    {"field": "speed", "label": {"zh-CN": "车速", "en": "Speed"}, "unit": "km/h"},
                    {"field": "soc", "label": "SOC", "unit": "%"},
                    {"field": "vtype", "label": {"zh-CN": "类型", "en": "Type"}},
                ],
            },
        },
    ],
}


class FleetSim:
    """Vehicles shuttle along the segments at 1 Hz; segment s3 is jammed from the start (an alert)."""

    name = NAME

    def __init__(self, vehicles: int = 40, seed: int = 3) -> None:
        self.n = vehicles
        self.rng = random.Random(seed)
        self.pos = [self.rng.random() for _ in range(vehicles)]

    def events(self, now: int, tick: int) -> list[Event]:
        out: list[Event] = []
        keys = list(SEGMENTS)
        for i in range(self.n):
            seg = SEGMENTS[keys[i % len(keys)]][1]
            self.pos[i] = (self.pos[i] + 0.01 + 0.005 * (i % 3)) % 1.0
            (x0, y0), (x1, y1) = seg
            lon, lat = x0 + (x1 - x0) * self.pos[i], y0 + (y1 - y0) * self.pos[i]
            heading = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360
            out.append(
                Position(
                    key=f"赣A{10000 + i}",
                    ts=now,
                    source="sim.fleet",
                    id=f"fleet-{i}-{tick}",
                    lon=lon,
                    lat=lat,
                    speed=20 + 40 * self.rng.random(),
                    heading=heading,
                    soc=max(5.0, 90 - tick * 0.05 - i % 30),
                    vtype=("bus", "taxi", "nev")[i % 3],
                )
            )
        for j, k in enumerate(keys):
            base = 9.2 if k == "s3" else 2 + 2 * j * 0.5
            out.append(
                SegmentIndex(
                    key=k,
                    ts=now,
                    source="sim.fleet",
                    id=f"seg-{k}-{tick}",
                    index=round(base + 0.6 * math.sin(tick / 20 + j), 2),
                )
            )
        return out

    async def run(self, ctx: SimContext, stop: asyncio.Event) -> None:
        tick = 0
        while not stop.is_set():
            await ctx.http.send(self.events(time.time_ns() // 1_000_000, tick))
            tick += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


scene = Scene(
    name=NAME,
    title={"zh-CN": "车队(契约样例)", "en": "Fleet (contract fixture)"},
    description={"zh-CN": "仪表盘契约样例场景", "en": "Dashboard contract fixture scene"},
    events=[Position, SegmentIndex],
    processors=lambda _settings: [ProcessorSpec(FleetProc.name, lambda p: FleetProc(p))],
    alert_rules=[CONGESTION],
    routes=routes,
    panel=PANEL,
    simulators={NAME: lambda cfg: FleetSim(**cfg)},
)

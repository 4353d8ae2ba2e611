"""The simulated city traffic: buses on fixed lines along the main roads, taxis and ride-hailing
cars on random trips, with a daily rhythm (07-09 and 17-19 China-time peaks, slowest on the
hotspot roads) and a recurring incident that nearly blocks one segment.

Pure and deterministic: the same seed and start time give the same positions, whatever the
machine or the wall clock (each vehicle draws from its own seeded generator).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import msgspec

from citybrain.scenes.traffic.roadnet import TrafficNetwork, base_class

HOUR_MS = 3_600_000
BUS_LINES = ("Sveavägen", "Odengatan", "Birger Jarlsgatan", "Valhallavägen", "Torsgatan", "Sankt Eriksgatan")
HOT_ROADS = frozenset(("Sveavägen", "Odengatan", "Birger Jarlsgatan", "Valhallavägen", "Torsgatan"))
MAJOR = frozenset(("motorway", "trunk", "primary", "secondary"))


class SimConfig(msgspec.Struct, forbid_unknown_fields=True):
    seed: int = 808
    buses: int = 120
    taxis: int = 400
    ride_hail: int = 300
    report_s: int = 10  # every vehicle reports this often (staggered)
    probe_batch_s: int = 5  # ride-hailing probes are posted in batches this often
    gps_noise_m: float = 6.0
    incident_road: str = "Odengatan"
    incident_every_s: int = 1_800  # an incident starts every this many seconds (event time)...
    incident_len_s: int = 600  # ...and lasts this long
    incident_factor: float = 0.12  # speed multiplier on the blocked segment
    tick_s: float = 1.0


def china_hour(ts_ms: int) -> float:
    return ((ts_ms / HOUR_MS) + 8) % 24


def peak_factor(ts_ms: int, road_class: str, road: str) -> float:
    """Speed multiplier of the daily rhythm: 1 off-peak, lowest at 08:00 and 18:00 China time."""
    h = china_hour(ts_ms)
    depth = max(math.exp(-((h - 8.0) ** 2) / 0.8), math.exp(-((h - 18.0) ** 2) / 0.8))
    worst = 0.3 if road in HOT_ROADS else (0.5 if base_class(road_class) in MAJOR else 0.75)
    night = 1.08 if h < 5 or h >= 22 else 1.0
    return night * (1.0 - (1.0 - worst) * depth)


@dataclass
class Vehicle:
    id: str
    vtype: str
    rng: random.Random
    route: list[int]  # edge indices
    pos: int = 0
    offset: float = 0.0
    line: list[int] = field(default_factory=list)  # buses: the round trip they repeat
    jitter: float = 1.0  # per-edge driver variation


@dataclass(frozen=True)
class Fix:
    vehicle: str
    vtype: str
    ts: int
    lon: float
    lat: float
    speed_kmh: float
    heading: float


class World:
    def __init__(self, tn: TrafficNetwork, cfg: SimConfig, start_ms: int) -> None:
        self.tn, self.cfg, self.now = tn, cfg, start_ms
        net = tn.net
        self.net = net
        self.nodes = net.node_ids.tolist()
        self.ids = net.edge_ids.tolist()
        self.length = net.length.tolist()
        self.names = [e.name for e in net.edges]
        self.classes = [tn.segments[e.id].road_class for e in net.edges]
        self.free = [0.85 * tn.segments[e.id].fallback_freeflow[0] for e in net.edges]
        self.incident = self._incident_edge()
        self.vehicles: list[Vehicle] = []
        lines = [self._line(name) for name in BUS_LINES]
        lines = [ln for ln in lines if ln]
        for i in range(cfg.buses):
            rng = random.Random(f"{cfg.seed}:bus:{i}")
            line = lines[i % len(lines)]
            self.vehicles.append(
                Vehicle(f"bus-{i:04d}", "bus", rng, list(line), pos=rng.randrange(len(line)), line=line)
            )
        for kind, n in (("taxi", cfg.taxis), ("ride-hail", cfg.ride_hail)):
            for i in range(n):
                rng = random.Random(f"{cfg.seed}:{kind}:{i}")
                v = Vehicle(f"{kind}-{i:04d}", kind, rng, [])
                v.route = self._trip(v, rng.randrange(len(self.ids)))
                v.offset = rng.random() * self.length[v.route[0]]
                self.vehicles.append(v)

    # -- network helpers ------------------------------------------------------------------------
    def _incident_edge(self) -> int:
        cand = [i for i, n in enumerate(self.names) if n == self.cfg.incident_road]
        return (
            max(cand, key=lambda i: (self.length[i], -i))
            if cand
            else max(range(len(self.ids)), key=self.length.__getitem__)
        )

    def _path(self, src_node: int, dst_node: int) -> list[int]:
        _, edges = self.net.shortest_path(src_node, dst_node)
        return [self.net.index_of(e) for e in edges]

    def _line(self, road: str) -> list[int]:
        """A bus line: from one end of the road to the other and back."""
        idx = [i for i, n in enumerate(self.names) if n == road]
        if not idx:
            return []
        src = self.net.src.tolist()
        pts = {self.nodes[src[i]]: self.net.edges[i].geometry.coords[0] for i in idx}
        if len(pts) < 2:
            return []
        a = min(pts, key=lambda n: (pts[n][0] + pts[n][1], n))
        b = max(pts, key=lambda n: (pts[n][0] + pts[n][1], n))
        return self._path(a, b) + self._path(b, a)

    def _trip(self, v: Vehicle, start_edge: int) -> list[int]:
        """From the end of ``start_edge`` to a random node (re-drawn until reachable)."""
        dst = self.net.dst.tolist()
        for _ in range(10):
            goal = self.nodes[v.rng.randrange(len(self.nodes))]
            path = self._path(self.nodes[dst[start_edge]], goal)
            if len(path) >= 3:
                return [start_edge, *path]
        return [start_edge]

    # -- motion ---------------------------------------------------------------------------------
    def incident_active(self, ts_ms: int) -> bool:
        c = self.cfg
        return (ts_ms // 1000) % c.incident_every_s < c.incident_len_s

    def speed_ms(self, edge: int, ts_ms: int, jitter: float) -> float:
        v = self.free[edge] * peak_factor(ts_ms, self.classes[edge], self.names[edge]) * jitter
        if edge == self.incident and self.incident_active(ts_ms):
            v *= self.cfg.incident_factor
        return max(v, 1.0) / 3.6

    def step(self, dt_s: float) -> None:
        self.now += int(dt_s * 1000)
        for v in self.vehicles:
            left = dt_s
            while left > 0:
                e = v.route[v.pos]
                speed = self.speed_ms(e, self.now, v.jitter)
                need = (self.length[e] - v.offset) / speed
                if need > left:
                    v.offset += speed * left
                    break
                left -= need
                self._next_edge(v)

    def _next_edge(self, v: Vehicle) -> None:
        v.offset = 0.0
        v.jitter = 0.85 + 0.25 * v.rng.random()
        v.pos += 1
        if v.pos < len(v.route):
            return
        if v.line:
            v.pos = 0
            return
        v.route = self._trip(v, v.route[-1])[1:] or v.route[-1:]
        v.pos = 0

    def fix(self, v: Vehicle) -> Fix:
        e = v.route[v.pos]
        lon, lat = self.net.point_on_edge(e, min(v.offset, self.length[e]))
        # GPS noise: a few metres, drawn from the vehicle's own generator
        n = self.cfg.gps_noise_m
        lat += v.rng.gauss(0, n) / 111_320
        lon += v.rng.gauss(0, n) / (111_320 * math.cos(math.radians(lat)))
        g = self.net.edges[e].geometry.coords
        heading = math.degrees(math.atan2(g[-1][0] - g[0][0], g[-1][1] - g[0][1])) % 360
        speed = self.speed_ms(e, self.now, v.jitter) * 3.6
        return Fix(v.id, v.vtype, self.now, round(lon, 7), round(lat, 7), round(speed, 1), round(heading, 1))

    def due(self, ts_ms: int) -> list[Vehicle]:
        """Vehicles whose report falls in this second (staggered over the report interval)."""
        sec = ts_ms // 1000
        r = self.cfg.report_s
        return [v for i, v in enumerate(self.vehicles) if (sec + i) % r == 0]

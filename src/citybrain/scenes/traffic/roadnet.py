"""The scene's road network: segments with their fallback free-flow speeds, and the areas
(city, districts, hotspots, named roads) each segment belongs to.

It is the scene's world (``rt.world``, built by :func:`world` at first use): one copy shared by
every processor partition, route and report of a runtime, since a network of tens of thousands of
edges costs seconds to index, and it is read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, Polygon

from citybrain.geo.importers import read_geojson, read_osm_xml, read_shapefile
from citybrain.geo.matching import HMMMatcher
from citybrain.geo.network import RoadNetwork
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.sdk import ConfigError, DecodeError

CITY = "city"

# Free-flow fallback by road class (km/h) when a segment has no speed limit: typical urban
# operating speeds, used only until enough off-peak traversals were seen to learn the real one.
CLASS_SPEED_KMH: dict[str, float] = {
    "motorway": 90.0,
    "trunk": 70.0,
    "primary": 60.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 35.0,
    "residential": 30.0,
    "living_street": 15.0,
    "service": 20.0,
    "road": 30.0,
}

# OSM class -> GB/T 33171 road class used by the speed bands (快速路, 主干路, 次干路, 支路).
BAND_CLASS: dict[str, str] = {
    "motorway": "expressway",
    "trunk": "expressway",
    "primary": "arterial",
    "secondary": "collector",
}


def normalise_class(raw: str) -> str:
    """osmnx writes merged ways as "['living_street', 'residential']": keep the first class."""
    s = raw.strip()
    if s.startswith("["):
        s = s.strip("[]").split(",")[0].strip().strip("'\"")
    return s or "road"


def base_class(road_class: str) -> str:
    return road_class.removesuffix("_link")


def band_class(road_class: str) -> str:
    return BAND_CLASS.get(base_class(road_class), "local")


@dataclass(frozen=True)
class Segment:
    id: int
    name: str
    road_class: str
    length_m: float
    speed_limit_kmh: float | None
    lon: float  # midpoint, for districts and polygons
    lat: float

    @property
    def fallback_freeflow(self) -> tuple[float, str]:
        """(km/h, source) used until a free-flow speed is learned."""
        if self.speed_limit_kmh:
            return self.speed_limit_kmh, "speed_limit"
        base = base_class(self.road_class)
        speed = CLASS_SPEED_KMH.get(base, 30.0) * (0.8 if self.road_class.endswith("_link") else 1.0)
        return speed, "road_class"


@dataclass
class Area:
    key: str  # city | district:<id> | hotspot:<id> | road:<name>
    kind: str  # city | district | hotspot | road
    id: str
    name: dict[str, str]
    segments: list[int] = field(default_factory=list)
    length_m: float = 0.0
    polygon: list[list[float]] | None = None


class TrafficNetwork:
    def __init__(self, net: RoadNetwork, areas_doc: dict[str, Any], source: str = "") -> None:
        self.net = net
        self.source = source
        self.matcher = HMMMatcher(net)
        self.segments: dict[int, Segment] = {}
        for i, e in enumerate(net.edges):
            mid = e.geometry.interpolate(0.5, normalized=True)
            self.segments[e.id] = Segment(
                # the geometric length: the one positions along a matched path are measured in
                e.id,
                e.name,
                normalise_class(e.road_class),
                float(net.length[i]),
                e.speed_limit_kmh,
                float(mid.x),
                float(mid.y),
            )
        self.areas: dict[str, Area] = {}
        self.membership: dict[int, list[str]] = {sid: [CITY] for sid in self.segments}
        self._add(Area(CITY, "city", CITY, {"zh-CN": "全城", "en": "City"}, list(self.segments)))
        self._load_areas(areas_doc)
        for sid, seg in self.segments.items():
            if seg.name:
                key = f"road:{seg.name}"
                if key not in self.areas:
                    self._add(Area(key, "road", seg.name, {"zh-CN": seg.name, "en": seg.name}))
                self.areas[key].segments.append(sid)
                self.areas[key].length_m += seg.length_m
                self.membership[sid].append(key)

    def _add(self, area: Area) -> None:
        area.length_m = sum(self.segments[s].length_m for s in area.segments)
        self.areas[area.key] = area

    def _inside(self, polygon: list[list[float]]) -> list[int]:
        poly = Polygon(polygon)
        shapely.prepare(poly)
        return [sid for sid, s in self.segments.items() if poly.contains(Point(s.lon, s.lat))]

    def _load_areas(self, doc: dict[str, Any]) -> None:
        by_name: dict[str, list[int]] = {}
        for sid, s in self.segments.items():
            by_name.setdefault(s.name, []).append(sid)
        for kind in ("district", "hotspot"):
            for i, item in enumerate(doc.get(f"{kind}s", [])):
                try:
                    aid, name = str(item["id"]), dict(item["name"])
                except (KeyError, TypeError, ValueError) as err:
                    raise ConfigError(f"areas file: {kind}s[{i}] needs id and name ({err})") from None
                members: list[int] = []
                poly = item.get("polygon")
                if poly:
                    members += self._inside(poly)
                for road in item.get("roads", []):
                    members += by_name.get(road, [])
                members += [int(s) for s in item.get("segments", []) if int(s) in self.segments]
                if kind == "district":  # a segment lies in one district: the first that claims it
                    members = [
                        s for s in members if not any(k.startswith("district:") for k in self.membership[s])
                    ]
                members = sorted(set(members))
                if not members:
                    raise ConfigError(f"areas file: {kind} {aid!r} covers no segment of the network")
                key = f"{kind}:{aid}"
                self._add(Area(key, kind, aid, name, members, polygon=poly))
                for sid in members:
                    self.membership[sid].append(key)

    def areas_of(self, segment: int) -> list[str]:
        return self.membership.get(segment, [CITY])

    def area_list(self, kind: str) -> list[Area]:
        return [a for a in self.areas.values() if a.kind == kind]


def read_network(path: Path) -> RoadNetwork:
    """GeoJSON (.geojson/.json), OSM XML (.osm/.xml) or ESRI shapefile (.shp, GBK attributes ok)."""
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return read_geojson(path)
    if suffix in (".osm", ".xml"):
        return read_osm_xml(path)
    if suffix == ".shp":
        return read_shapefile(path)
    raise ConfigError(f"{path}: unknown network format (use .geojson, .osm or .shp)")


def world(settings: TrafficSettings, _data_path: Path) -> TrafficNetwork:
    """The scene's world: the network and areas its settings name (else the demo ones)."""
    return load(settings.network_path, settings.areas_path)


def load(network: Path, areas: Path) -> TrafficNetwork:
    """The network file with the districts and hotspots of the areas file."""
    try:
        doc = json.loads(areas.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"areas file {areas} does not exist") from None
    except json.JSONDecodeError as err:
        raise DecodeError(f"areas file {areas}: line {err.lineno}: {err.msg}") from None
    return TrafficNetwork(read_network(network), doc, str(network))

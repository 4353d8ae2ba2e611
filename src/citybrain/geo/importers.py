"""Road network importers: OSM XML, GeoJSON, ESRI shapefile (+ the SparseTaxi Beijing format).

Every importer returns a :class:`RoadNetwork` of directed edges: a two-way road becomes two edges
(the reverse one gets the next id and reversed geometry). Bad input raises
:class:`~citybrain.core.errors.DecodeError` naming the file and the line, element or record;
unsupported settings (e.g. a non-WGS-84 ``.prj``) raise :class:`~citybrain.core.errors.ConfigError`.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import LineString

from citybrain.core.errors import ConfigError, DecodeError
from citybrain.core.extras import require as require_extra
from citybrain.geo.attrs import direction as _direction
from citybrain.geo.attrs import parse_speed
from citybrain.geo.beijing import read_beijing_map
from citybrain.geo.network import Edge, RoadNetwork

__all__ = [
    "DRIVABLE",
    "parse_geojson",
    "parse_osm_xml",
    "parse_speed",
    "read_beijing_map",
    "read_geojson",
    "read_osm_xml",
    "read_shapefile",
]

DRIVABLE = frozenset(
    [
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
        "tertiary_link",
    ]
)


def read_shapefile(path: str | Path) -> RoadNetwork:
    """An ESRI shapefile road network (:mod:`citybrain.geo.shapefile_io`; pyshp is an extra)."""
    require_extra("shapefile", "reading a shapefile road network")
    from citybrain.geo.shapefile_io import read_shapefile as read

    return read(path)


@dataclass(slots=True)
class _Road:
    """One undirected piece of road before it is split into directed edges."""

    coords: list[tuple[float, float]]
    source: int
    target: int
    direction: int  # 1 forward only, -1 backward only, 0 both ways
    road_class: str
    name: str
    speed: float | None
    ref: str


def _directed(roads: Iterable[_Road], name: str) -> RoadNetwork:
    edges: list[Edge] = []
    for r in roads:
        geom = LineString(r.coords)
        oneway = r.direction != 0
        if r.direction in (0, 1):
            edges.append(
                Edge(len(edges), r.source, r.target, geom, -1.0, r.road_class, oneway, r.name, r.speed, r.ref)
            )
        if r.direction in (0, -1):
            rev = LineString(r.coords[::-1])
            edges.append(
                Edge(len(edges), r.target, r.source, rev, -1.0, r.road_class, oneway, r.name, r.speed, r.ref)
            )
    if not edges:
        raise DecodeError(f"{name}: no road edges found")
    return RoadNetwork(edges, name=name)


# ---- OSM XML ------------------------------------------------------------------------------------
def read_osm_xml(path: str | Path, *, classes: frozenset[str] = DRIVABLE) -> RoadNetwork:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DecodeError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_osm_xml(data, source=str(p), classes=classes)


def parse_osm_xml(
    data: bytes | str, *, source: str = "<osm>", classes: frozenset[str] = DRIVABLE
) -> RoadNetwork:
    """Highway ways of an OSM XML document, split at shared nodes into directed edges."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise DecodeError(f"{source}: line {line}, column {col}: not well-formed OSM XML") from None
    except (ValueError, TypeError) as exc:  # e.g. unsupported encoding declarations
        raise DecodeError(f"{source}: cannot parse XML ({exc})") from None
    if root.tag != "osm":
        raise DecodeError(f"{source}: root element is <{root.tag}>, expected <osm>")
    nodes: dict[int, tuple[float, float]] = {}
    for n in root.iter("node"):
        try:
            nid, lon, lat = int(n.attrib["id"]), float(n.attrib["lon"]), float(n.attrib["lat"])
        except (KeyError, ValueError):
            raise DecodeError(
                f"{source}: <node id={n.attrib.get('id')!r}> needs integer id and numeric lat/lon"
            ) from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise DecodeError(f"{source}: node {nid}: lat/lon out of range")
        nodes[nid] = (lon, lat)
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    use: dict[int, int] = {}
    for w in root.iter("way"):
        tags = {t.attrib.get("k", ""): t.attrib.get("v", "") for t in w.iter("tag")}
        if tags.get("highway") not in classes:
            continue
        try:
            wid = int(w.attrib["id"])
            refs = [int(nd.attrib["ref"]) for nd in w.iter("nd")]
        except (KeyError, ValueError):
            raise DecodeError(
                f"{source}: <way id={w.attrib.get('id')!r}> needs integer id and node refs"
            ) from None
        refs = [r for r in refs if r in nodes]  # extracts often clip ways at the boundary
        if len(refs) < 2:
            continue
        ways.append((wid, refs, tags))
        for r in refs:
            use[r] = use.get(r, 0) + 1
        use[refs[0]] += 1
        use[refs[-1]] += 1
    roads: list[_Road] = []
    for wid, refs, tags in ways:
        hw = tags["highway"]
        default = 1 if hw == "motorway" or tags.get("junction") == "roundabout" else 0
        direction = _direction(tags.get("oneway"), default)
        name = tags.get("name") or tags.get("name:zh") or tags.get("name:en") or ""
        speed = parse_speed(tags.get("maxspeed"))
        start = 0
        for i in range(1, len(refs)):
            if use[refs[i]] > 1 or i == len(refs) - 1:
                piece = refs[start : i + 1]
                if piece[0] != piece[-1] or len(piece) > 2:
                    coords = [nodes[r] for r in piece]
                    roads.append(
                        _Road(coords, piece[0], piece[-1], direction, hw, name, speed, f"osm:way/{wid}")
                    )
                start = i
    return _directed(roads, source)


# ---- GeoJSON ------------------------------------------------------------------------------------
_SRC_KEYS = ("source", "u", "from_node", "from", "snode")
_DST_KEYS = ("target", "v", "to_node", "to", "enode")


def read_geojson(path: str | Path) -> RoadNetwork:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DecodeError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_geojson(data, source=str(p))


def parse_geojson(data: bytes | str, *, source: str = "<geojson>") -> RoadNetwork:
    """LineString / MultiLineString features. Node ids come from properties (source/target, u/v,
    from_node/to_node) or, if absent, from the end coordinates. ``oneway`` (true/yes/1/-1) gives
    the direction; a collection with ``"citybrain:directed": true`` (our own export) is taken as
    already directed, one edge per feature, keeping ``id``."""
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise DecodeError(
            f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
        ) from None
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(f"{source}: cannot decode JSON ({type(exc).__name__})") from None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise DecodeError(f"{source}: expected a GeoJSON FeatureCollection")
    directed = doc.get("citybrain:directed") is True
    keyed = _NodeKeys()
    roads: list[_Road] = []
    edges: list[Edge] = []
    for i, feat in enumerate(doc["features"]):
        try:
            roads_or_edges = _feature(feat, i, keyed, directed)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DecodeError(f"{source}: feature {i}: {exc}") from None
        for item in roads_or_edges:
            if isinstance(item, Edge):
                edges.append(item)
            else:
                roads.append(item)
    if directed:
        if not edges:
            raise DecodeError(f"{source}: no road edges found")
        try:
            return RoadNetwork(edges, name=source)
        except ConfigError as exc:
            raise DecodeError(f"{source}: {exc}") from None
    return _directed(roads, source)


class _NodeKeys:
    """Node ids for end coordinates when the data has none (coordinates rounded to ~1 cm)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[float, float], int] = {}

    def __call__(self, xy: tuple[float, float]) -> int:
        k = (round(xy[0], 7), round(xy[1], 7))
        return self.ids.setdefault(k, -(len(self.ids) + 1))


def _num_pair(c: Any) -> tuple[float, float]:
    if not isinstance(c, list | tuple) or len(c) < 2:
        raise ValueError("coordinates must be [lon, lat] pairs")
    lon, lat = float(c[0]), float(c[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"coordinate {c!r} is not a WGS-84 lon/lat")
    return lon, lat


def _feature(feat: Any, i: int, keyed: _NodeKeys, directed: bool) -> list[_Road | Edge]:
    if not isinstance(feat, dict):
        raise TypeError("not a Feature object")
    geom = feat.get("geometry") or {}
    props = feat.get("properties") or {}
    if not isinstance(geom, dict) or not isinstance(props, dict):
        raise TypeError("geometry and properties must be objects")
    gtype = geom.get("type")
    if gtype == "LineString":
        parts = [geom["coordinates"]]
    elif gtype == "MultiLineString":
        parts = list(geom["coordinates"])
    else:
        return []  # points, polygons etc. are not roads
    out: list[_Road | Edge] = []
    for k, part in enumerate(parts):
        coords = [_num_pair(c) for c in part]
        if len(coords) < 2:
            raise ValueError("a LineString needs at least 2 positions")
        src = next((props[key] for key in _SRC_KEYS if props.get(key) is not None), None)
        dst = next((props[key] for key in _DST_KEYS if props.get(key) is not None), None)
        s = int(src) if src is not None and len(parts) == 1 else keyed(coords[0])
        t = int(dst) if dst is not None and len(parts) == 1 else keyed(coords[-1])
        cls = str(props.get("road_class") or props.get("highway") or props.get("fclass") or "")
        name = str(props.get("name") or props.get("name:zh") or props.get("road_name") or "")
        speed = parse_speed(props.get("speed_limit_kmh", props.get("maxspeed")))
        ref = str(props.get("ref") or f"feature:{i}" + (f".{k}" if len(parts) > 1 else ""))
        if directed:
            eid = int(props["id"]) if len(parts) == 1 else i * 1000 + k
            out.append(
                Edge(eid, s, t, LineString(coords), -1.0, cls, bool(props.get("oneway")), name, speed, ref)
            )
        else:
            out.append(
                _Road(
                    coords, s, t, _direction(props.get("oneway", props.get("dir")), 0), cls, name, speed, ref
                )
            )
    return out

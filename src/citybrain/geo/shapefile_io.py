"""ESRI shapefile road networks via pyshp, including GBK-encoded attribute tables.

Encoding: the ``.cpg`` file if present, else UTF-8, else GBK (Chinese GIS exports often carry GBK
without saying so). Datum: the ``.prj`` must describe WGS-84 geographic coordinates; anything else
(a projected CRS, CGCS2000, Beijing 1954, ...) is rejected rather than silently misplaced. A missing
``.prj`` is accepted only if every coordinate is a plausible lon/lat.

Field conventions understood (first match wins):
- osmnx export: ``u``, ``v`` per row, rows already directed; ``highway``, ``name``, ``maxspeed``;
- GoTrackIt: ``from_node``, ``to_node``, ``dir`` (1 forward, -1 backward, 0 both), ``road_name``;
- otherwise node ids from the end coordinates and ``oneway`` if present.
"""

from __future__ import annotations

import codecs
import warnings
from pathlib import Path
from typing import Any

import shapefile
from shapely.geometry import LineString

from citybrain.core.errors import ConfigError, DecodeError
from citybrain.geo.attrs import direction as _direction
from citybrain.geo.attrs import parse_speed
from citybrain.geo.network import Edge, RoadNetwork

__all__ = ["read_shapefile"]

_WGS84_MARKERS = ("WGS_1984", "WGS 84", "WGS84")
_NOT_GEOGRAPHIC = ("PROJCS", "PROJCRS")


def _check_prj(base: Path) -> bool:
    """True if a .prj exists and says WGS-84 geographic; ConfigError if it says anything else."""
    prj = base.with_suffix(".prj")
    if not prj.exists():
        return False
    text = prj.read_text(encoding="latin-1")
    upper = text.upper()
    if any(m in upper for m in _NOT_GEOGRAPHIC) or not any(m.upper() in upper for m in _WGS84_MARKERS):
        raise ConfigError(
            f"{prj}: only WGS-84 lon/lat shapefiles are supported; this one declares {text[:80]!r}. "
            "Reproject to EPSG:4326 first."
        )
    return True


def _encodings(base: Path) -> list[str]:
    cpg = base.with_suffix(".cpg")
    if cpg.exists():
        name = cpg.read_text(encoding="latin-1").strip()
        try:
            return [codecs.lookup(name).name]
        except LookupError:
            if name.isdigit():  # ArcGIS writes code page numbers, e.g. 936 for GBK
                try:
                    return [codecs.lookup(f"cp{name}").name]
                except LookupError:
                    pass
            raise ConfigError(f"{cpg}: unknown encoding {name!r}") from None
    return ["utf-8", "gbk"]


def _records(base: Path) -> tuple[list[str], list[Any], list[list[Any]]]:
    last: Exception | None = None
    for enc in _encodings(base):
        try:
            with warnings.catch_warnings():
                # we choose the encoding (from the .cpg or by trying); pyshp's own .cpg check only
                # complains that e.g. "936" is spelled differently from "gbk"
                warnings.filterwarnings(
                    "ignore", message="(Specified encoding|Empty .cpg)", category=UserWarning
                )
                r = shapefile.Reader(str(base), encoding=enc, encodingErrors="strict")
            with r:
                if r.shapeType not in (shapefile.POLYLINE, shapefile.POLYLINEZ, shapefile.POLYLINEM):
                    raise ConfigError(f"{base}.shp: shape type {r.shapeTypeName}, expected polylines")
                fields = [f[0] for f in r.fields[1:]]
                shapes, recs = [], []
                for i, sr in enumerate(r.iterShapeRecords()):
                    try:
                        shapes.append(sr.shape)
                        recs.append(list(sr.record))
                    except (UnicodeDecodeError, shapefile.ShapefileException):
                        raise
                    except Exception as exc:
                        raise DecodeError(f"{base}.dbf: record {i}: {exc}") from None
                return fields, shapes, recs
        except UnicodeDecodeError as exc:
            last = exc
            continue
        except shapefile.ShapefileException as exc:
            if "decode" in str(exc).lower():  # pyshp 3 reports text decoding failures this way
                last = exc
                continue
            raise DecodeError(f"{base}: {exc}") from None
    tried = " / ".join(_encodings(base))
    raise DecodeError(f"{base}.dbf: attribute text does not decode as {tried} ({str(last)[:120]})")


def read_shapefile(path: str | Path) -> RoadNetwork:
    """Read a polyline shapefile (``path`` with or without ``.shp``) into a RoadNetwork."""
    base = Path(path)
    if base.suffix.lower() == ".shp":
        base = base.with_suffix("")
    if not base.with_suffix(".shp").exists():
        raise DecodeError(f"{base}.shp: file not found")
    has_prj = _check_prj(base)
    fields, shapes, recs = _records(base)
    col = {name.lower(): i for i, name in enumerate(fields)}

    def get(rec: list[Any], *names: str) -> Any:
        for n in names:
            if n in col and rec[col[n]] not in (None, ""):
                return rec[col[n]]
        return None

    osmnx = "u" in col and "v" in col
    nodes: dict[tuple[float, float], int] = {}

    def node_at(xy: tuple[float, float]) -> int:
        k = (round(xy[0], 7), round(xy[1], 7))
        return nodes.setdefault(k, -(len(nodes) + 1))

    edges: list[Edge] = []
    for i, (shp, rec) in enumerate(zip(shapes, recs, strict=True)):
        parts = [*list(shp.parts), len(shp.points)]
        if len(parts) != 2:
            raise DecodeError(f"{base}.shp: record {i}: multi-part polylines are not supported")
        coords = [(float(p[0]), float(p[1])) for p in shp.points]
        if len(coords) < 2:
            raise DecodeError(f"{base}.shp: record {i}: fewer than 2 points")
        if not all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in coords):
            where = "despite its WGS-84 .prj" if has_prj else "and there is no .prj"
            raise ConfigError(f"{base}.shp: record {i}: coordinates are not lon/lat {where}")
        name = str(get(rec, "name", "road_name", "name_zh", "name:zh") or "")
        cls = str(get(rec, "highway", "road_class", "fclass", "kind") or "")
        speed = parse_speed(get(rec, "maxspeed", "speed_limit_kmh", "speed"))
        try:
            if osmnx:
                s, t = int(get(rec, "u")), int(get(rec, "v"))
                oneway = _direction(get(rec, "oneway"), 0) != 0
                eid = int(get(rec, "fid") if get(rec, "fid") is not None else i)
                osmid = get(rec, "osmid")
                ref = f"osm:way/{osmid}" if osmid is not None else f"{base.name}:{i}"
                edges.append(Edge(eid, s, t, LineString(coords), -1.0, cls, oneway, name, speed, ref))
                continue
            src, dst = get(rec, "from_node", "source", "snode"), get(rec, "to_node", "target", "enode")
            s = int(src) if src is not None else node_at(coords[0])
            t = int(dst) if dst is not None else node_at(coords[-1])
            direction = _direction(get(rec, "dir", "oneway"), 0)
        except (TypeError, ValueError) as exc:
            raise DecodeError(f"{base}.dbf: record {i}: bad node id or direction ({exc})") from None
        ref = f"{base.name}:{get(rec, 'link_id', 'id') or i}"
        if direction in (0, 1):
            edges.append(
                Edge(len(edges), s, t, LineString(coords), -1.0, cls, direction != 0, name, speed, ref)
            )
        if direction in (0, -1):
            edges.append(
                Edge(len(edges), t, s, LineString(coords[::-1]), -1.0, cls, direction != 0, name, speed, ref)
            )
    if not edges:
        raise DecodeError(f"{base}.shp: no road edges found")
    return RoadNetwork(edges, name=base.name)

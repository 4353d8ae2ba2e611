"""Reader for the SparseTaxi Beijing benchmark (Li et al., SIGSPATIAL 2013) map and trajectories.

The map (``map/vertexMap.txt``, ``map/adjacentList.txt``, ``map/osm_data/``) and the trajectories
use an undocumented planar frame "based on longitude and latitude" (x 12.6-52.3, y 94.1-130.9;
one unit is roughly one kilometre). Edge ids are the 0-based row numbers of ``adjacentList.txt``, so
ground-truth paths line up with our edge ids.

Georeference: the frame is converted to WGS-84 with a per-axis linear fit that we made against
landmarks (Tiananmen / Chang'an Avenue, Guomao, Gongzhufen, the 3rd and 4th ring roads found by
name in ``beijing.highway.txt``). Residuals are up to ~120 m, so positions are approximate on a
base map, but map and trajectories go through the same transform, so matching is self-consistent.
The upstream "length" column is not a geometric length (it is constant per origin node and
sometimes negative) and is ignored; lengths are computed from the geometry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import LineString

from citybrain.core.errors import DecodeError
from citybrain.geo.network import Edge, RoadNetwork

__all__ = [
    "BeijingTrajectory",
    "beijing_xy_to_lonlat",
    "read_beijing_map",
    "read_beijing_paths",
    "read_beijing_trajectories",
]

# lon = A0 + A1 * x ; lat = B0 + B1 * y (fitted, see module docstring)
_A0, _A1 = 116.0080, 0.011636727
_B0, _B1 = 39.02161, 0.0081822694


def beijing_xy_to_lonlat(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Approximate WGS-84 (lon, lat) of points in the SparseTaxi planar frame."""
    return _A0 + _A1 * np.asarray(x, dtype=np.float64), _B0 + _B1 * np.asarray(y, dtype=np.float64)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{path}: not UTF-8 at byte {exc.start}") from None


def _fields(path: Path, lineno: int, line: str, n: int) -> list[str]:
    parts = line.split()
    if len(parts) < n:
        raise DecodeError(f"{path}, line {lineno}: expected {n} fields, got {len(parts)}")
    return parts


def read_beijing_map(map_dir: str | Path) -> RoadNetwork:
    """Build the network from ``map_dir`` (the folder holding vertexMap.txt and adjacentList.txt)."""
    d = Path(map_dir)
    vpath, apath = d / "vertexMap.txt", d / "adjacentList.txt"
    xs: list[float] = []
    ys: list[float] = []
    osm: list[int] = []
    for i, line in enumerate(_lines(vpath), start=1):
        if not line.strip():
            continue
        f = _fields(vpath, i, line, 4)
        try:
            nid, oid, x, y = int(f[0]), int(f[1]), float(f[2]), float(f[3])
        except ValueError:
            raise DecodeError(f"{vpath}, line {i}: bad number in {line!r}") from None
        if nid != len(xs):
            raise DecodeError(f"{vpath}, line {i}: node id {nid}, expected {len(xs)} (ids must be 0..n-1)")
        xs.append(x)
        ys.append(y)
        osm.append(oid)
    lon, lat = beijing_xy_to_lonlat(np.array(xs), np.array(ys))
    meta = _way_meta(d / "osm_data", osm)
    lines = _lines(apath)
    edges: list[Edge] = []
    n_nodes = len(xs)
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        f = _fields(apath, i, line, 2)
        try:
            s, t = int(f[0]), int(f[1])
        except ValueError:
            raise DecodeError(f"{apath}, line {i}: bad node id in {line!r}") from None
        if not (0 <= s < n_nodes and 0 <= t < n_nodes):
            raise DecodeError(f"{apath}, line {i}: node id out of range 0..{n_nodes - 1}")
        cls, oneway, name, speed = meta.get((s, t), ("", False, "", None))
        geom = LineString([(lon[s], lat[s]), (lon[t], lat[t])])
        edges.append(Edge(len(edges), s, t, geom, -1.0, cls, oneway, name, speed, f"sparsetaxi:{len(edges)}"))
    return RoadNetwork(edges, name="beijing-sparsetaxi")


def _way_meta(
    osm_dir: Path, osm_ids: list[int]
) -> dict[tuple[int, int], tuple[str, bool, str, float | None]]:
    """(node, node) -> (class, oneway, name, speed limit) from the ways, where the files exist."""
    hpath, wpath = osm_dir / "beijing.highway.txt", osm_dir / "beijing.waynodes.txt"
    if not hpath.exists() or not wpath.exists():
        return {}
    index = {o: i for i, o in enumerate(osm_ids)}
    out: dict[tuple[int, int], tuple[str, bool, str, float | None]] = {}
    hl, wl = _lines(hpath), _lines(wpath)
    if len(hl) != len(wl):
        raise DecodeError(f"{hpath}: {len(hl)} ways but {wpath.name} has {len(wl)}")
    for i, (h, w) in enumerate(zip(hl, wl, strict=True), start=1):
        f = h.split("\t")
        if len(f) < 5:
            continue
        try:
            speed: float | None = float(f[4]) if f[4].strip() else None
            nodes = [index.get(int(x), -1) for x in w.split()]
        except ValueError:
            raise DecodeError(f"{hpath} / {wpath.name}, line {i}: bad number") from None
        info = (f[1], f[2].strip() == "1", f[3].strip(), speed)
        present = [n for n in nodes if n >= 0]
        for a, b in itertools.pairwise(present):
            out.setdefault((a, b), info)
            out.setdefault((b, a), info)
    return out


@dataclass(frozen=True, slots=True)
class BeijingTrajectory:
    traj_id: int
    car_id: int
    txy: NDArray[np.float64]  # (n, 3): timestamp, x, y in the planar frame

    def as_trace(self) -> NDArray[np.float64]:
        """(t, lon, lat) rows for a :class:`~citybrain.geo.matching.Matcher`."""
        lon, lat = beijing_xy_to_lonlat(self.txy[:, 1], self.txy[:, 2])
        return np.column_stack([self.txy[:, 0], lon, lat])


def read_beijing_trajectories(path: str | Path) -> list[BeijingTrajectory]:
    """Parse a ``*.coor.txt`` file (count, then per trajectory a header and its points)."""
    p = Path(path)
    lines = _lines(p)
    if not lines:
        raise DecodeError(f"{p}: empty file")
    try:
        count = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise DecodeError(f"{p}, line 1: expected the number of trajectories") from None
    out: list[BeijingTrajectory] = []
    i = 1
    while len(out) < count:
        if i >= len(lines):
            raise DecodeError(f"{p}: file ends after {len(out)} of {count} trajectories")
        h = _fields(p, i + 1, lines[i], 3)
        try:
            tid, cid, m = int(h[0]), int(h[1]), int(h[2])
            rows = [[float(v) for v in _fields(p, i + 2 + j, lines[i + 1 + j], 3)[:3]] for j in range(m)]
        except ValueError:
            raise DecodeError(f"{p}, near line {i + 1}: bad number in trajectory {len(out)}") from None
        except IndexError:
            raise DecodeError(f"{p}, line {i + 1}: trajectory announces {h[2]} points, file ends") from None
        out.append(BeijingTrajectory(tid, cid, np.array(rows, dtype=np.float64).reshape(-1, 3)))
        i += m + 1
    return out


def read_beijing_paths(path: str | Path) -> list[list[int]]:
    """Parse a ground-truth ``*.txt`` file: one whitespace-separated id list per line (may be empty)."""
    p = Path(path)
    out: list[list[int]] = []
    lines = _lines(p)
    for i, line in enumerate(lines, start=1):
        try:
            out.append([int(v) for v in line.split()])
        except ValueError:
            raise DecodeError(f"{p}, line {i}: ids must be integers") from None
    return out

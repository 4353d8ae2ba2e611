"""The committed demo network loads, is routable everywhere and matches FMM's own demo trips."""

from __future__ import annotations

import rustworkx as rx
import shapely

from citybrain import data
from citybrain.geo.importers import read_geojson
from citybrain.geo.matching import HMMMatcher

DEMO = data.path("networks/stockholm.geojson")


def test_demo_network_file() -> None:
    assert DEMO.stat().st_size < 2_000_000
    net = read_geojson(DEMO)
    assert 1000 < len(net) < 5000
    assert len(rx.strongly_connected_components(net.graph)) == 1
    assert all(e.ref.startswith("osm:way/") for e in net)
    lo0, la0, lo1, la1 = net.bounds
    assert 18.0 < lo0 < lo1 < 18.1 and 59.3 < la0 < la1 < 59.4
    assert "ODbL" in (DEMO.parent / "SOURCE.md").read_text(encoding="utf-8")


def test_fmm_demo_trip_matches() -> None:
    net = read_geojson(DEMO)
    # FMM's example trip 1 (hand-drawn, 8 vertices ~300-400 m apart), densified to ~30 m
    line = shapely.from_wkt(
        "LINESTRING(18.05522129697668 59.335820514008,18.050801016520136 59.33614881818502,"
        "18.04796860380041 59.33905964310512,18.046037413309687 59.341029232754444,"
        "18.049084402750605 59.34262670491522,18.052775122355097 59.34328317853977,"
        "18.056809164713496 59.34273611806721,18.059298254679316 59.34006633652867)"
    )
    x, y = net.to_xy(*shapely.get_coordinates(line).T)
    metric = shapely.linestrings(x, y)
    pts = shapely.line_interpolate_point(metric, [i * 30.0 for i in range(int(metric.length // 30))])
    lon, lat = net.projection.to_lonlat(shapely.get_x(pts), shapely.get_y(pts))
    trace = [[float(i), float(a), float(b)] for i, (a, b) in enumerate(zip(lon, lat, strict=True))]
    res = HMMMatcher(net).match(trace)
    assert res.matched_share > 0.9
    matched_len = sum(net.edge(e).length_m for e in res.edge_ids)
    # the hand-drawn line cuts corners, the road path is a bit longer, never wildly so
    assert 0.9 * metric.length < matched_len < 1.6 * metric.length

"""Build the demo road network src/citybrain/data/networks/stockholm.geojson from ../shared/data.

Source: FMM's osmnx example network of central Stockholm (OpenStreetMap data, ODbL 1.0), see
src/citybrain/data/networks/SOURCE.md for why this one and not the Xi'an network.

Steps: read the shapefile with our importer (WGS-84 checked against the .prj), keep the edges
inside the bounding box, keep the largest strongly connected part (so every edge can be reached
from every other one: routing and map matching never dead-end), renumber edge ids 0..n-1 and
write GeoJSON with 6 decimals (~0.1 m).

Usage:
    python scripts/make_demo_network.py [--shared ../shared/data]
        [--out src/citybrain/data/networks/stockholm.geojson]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import rustworkx as rx

from citybrain.geo.importers import read_shapefile
from citybrain.geo.network import RoadNetwork

# lon/lat box: all of FMM's central-Stockholm extract (Vasastan, Norrmalm, Östermalm edge)
BBOX = (18.025, 59.330, 18.080, 59.356)


def build(shared: Path) -> RoadNetwork:
    src = read_shapefile(shared / "stockholm-osm-network-fmm" / "edges.shp")
    x0, y0, x1, y1 = BBOX
    inside = [e for e in src if all(x0 <= x <= x1 and y0 <= y <= y1 for x, y, *_ in e.geometry.coords)]
    sub = RoadNetwork(inside, name="stockholm")
    comps = rx.strongly_connected_components(sub.graph)
    keep_nodes = set(max(comps, key=len))
    kept = [
        e for i, e in enumerate(sub.edges) if int(sub.src[i]) in keep_nodes and int(sub.dst[i]) in keep_nodes
    ]
    kept.sort(key=lambda e: (e.source, e.target, e.ref))
    return RoadNetwork([replace(e, id=i) for i, e in enumerate(kept)], name="stockholm")


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(here.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(here / "src/citybrain/data/networks/stockholm.geojson"))
    args = ap.parse_args()
    net = build(Path(args.shared))
    doc = net.to_geojson(precision=6)
    doc["name"] = "stockholm"
    doc["attribution"] = "© OpenStreetMap contributors, ODbL 1.0 (via the FMM osmnx example)"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    km = sum(e.length_m for e in net) / 1000
    print(
        f"{out}: {len(net)} directed edges, {net.node_count} nodes, {km:.1f} km, {out.stat().st_size} bytes"
    )
    print(f"bounds {tuple(round(b, 5) for b in net.bounds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``citybrain traffic ...``: import a city's road network for the traffic scene.

The scene declares :func:`commands` as its ``Scene.commands``; the main CLI mounts them under the
scene's name only when a ``citybrain traffic`` command runs.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Annotated

import typer

from citybrain.scenes.traffic import roadnet
from citybrain.scenes.traffic.settings import DEFAULT_AREAS
from citybrain.sdk import CitybrainError

app = typer.Typer(help="Traffic scene: road networks", no_args_is_help=True)


def commands() -> typer.Typer:
    """The scene's sub-commands (``Scene.commands``)."""
    return app


@app.callback()
def traffic() -> None:
    """Traffic scene commands (a group even with one command, so the name stays in the CLI)."""


@app.command("import-network")
def import_network(
    file: Annotated[Path, typer.Argument(help="OSM XML (.osm), GeoJSON (.geojson) or ESRI shapefile (.shp)")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="GeoJSON to write (default: var/networks/<name>.geojson)"),
    ] = None,
    areas: Annotated[
        Path | None, typer.Option(help="districts/hotspots JSON to check against the network")
    ] = None,
) -> None:
    """Read a road network, check it, and write it as the scene's directed GeoJSON.

    Coordinates must be WGS-84: convert GCJ-02 / BD-09 data first (citybrain.geo.datum); a
    shapefile whose .prj declares another datum is refused.
    """
    try:
        net = roadnet.read_network(file)
        doc = json.loads(areas.read_text(encoding="utf-8")) if areas else {"districts": [], "hotspots": []}
        tn = roadnet.TrafficNetwork(net, doc, str(file))
    except (CitybrainError, OSError, json.JSONDecodeError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    target = out or Path("var") / "networks" / f"{file.stem}.geojson"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(net.to_geojson(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    classes = collections.Counter(s.road_class for s in tn.segments.values())
    limited = sum(1 for s in tn.segments.values() if s.speed_limit_kmh)
    km = sum(s.length_m for s in tn.segments.values()) / 1000
    lo0, la0, lo1, la1 = net.bounds
    typer.echo(f"{len(net)} directed segments, {net.node_count} nodes, {km:.1f} km")
    typer.echo(f"bounds: lon {lo0:.5f}..{lo1:.5f}, lat {la0:.5f}..{la1:.5f}")
    typer.echo(f"named roads: {len(tn.area_list('road'))}; with a speed limit: {limited} segments")
    typer.echo("road classes: " + ", ".join(f"{k} {v}" for k, v in classes.most_common()))
    for kind in ("district", "hotspot"):
        for a in tn.area_list(kind):
            typer.echo(f"{kind} {a.id}: {len(a.segments)} segments, {a.length_m / 1000:.2f} km")
    typer.echo(f"wrote {target}")
    typer.echo(f'use it: [scenes.traffic] network = "{target}"' + (f' areas = "{areas}"' if areas else ""))
    if not areas:
        typer.echo(f"(hotspots and districts: write a JSON like {DEFAULT_AREAS} and pass it with --areas)")

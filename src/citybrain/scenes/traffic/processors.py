"""The traffic scene's processing stages (see events.py for why three stages, each re-keyed):
positions by vehicle -> traversals by segment -> segment windows by area, and the source watch.
Each is a hand-written processor built with the typed settings and the scene's world, the road
network every stage shares (``roadnet.world``)."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.scenes.traffic.aggregate import AreaIndex
from citybrain.scenes.traffic.matching import VehicleMatcher
from citybrain.scenes.traffic.segments import SegmentSpeeds
from citybrain.scenes.traffic.sources import SourceWatch

PROCESSORS: list[type[sdk.Processor[Any]]] = [VehicleMatcher, SegmentSpeeds, AreaIndex, SourceWatch]

# what they store, declared for the scene's description and the panel check
METRICS = {
    **{
        f"traffic.segment.{name}{sfx}": f"{what} per segment and {window} window"
        for name, what in (("samples", "traversals"), ("speed", "space-mean speed, km/h"),
                           ("index", "delay index"))
        for sfx, window in (("", "1-minute"), ("_5m", "5-minute"))
    },
    **{
        f"traffic.{kind}.{name}{sfx}": f"{what} of each {kind}, {window} window"
        for kind in ("city", "district", "hotspot", "road")
        for name, what in (("index", "flow-weighted delay index"), ("speed", "mean speed, km/h"))
        for sfx, window in (("", "1-minute"), ("_5m", "5-minute"))
    },
}  # fmt: skip

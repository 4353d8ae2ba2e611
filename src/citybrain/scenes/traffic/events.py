"""Traffic scene events: raw positions (per vehicle), and the derived events of the later stages.

Three stages, because the bus partitions by event key and each stage needs a different key:

1. ``traffic.position`` keyed by vehicle: map matching needs one vehicle's points in order.
2. ``traffic.traversal`` keyed by road segment (derived by stage 1): speeds per segment need every
   vehicle that drove the segment in one place.
3. ``traffic.segment_window`` keyed by area (derived by stage 2): a hotspot, district, road or the
   city aggregates its segments' closed windows.
``traffic.source_seen`` (derived by stage 1, keyed by probe source) feeds the silence alert.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, cast

import msgspec

from citybrain.sdk import Event

VehicleType = Literal["bus", "taxi", "ride-hail", "navigation", "truck", "other"]
VEHICLE_TYPES: tuple[str, ...] = ("bus", "taxi", "ride-hail", "navigation", "truck", "other")


def vehicle_type(name: str) -> VehicleType:
    """A configured or registered type name as the event's type ("other" when unknown)."""
    return cast(VehicleType, name) if name in VEHICLE_TYPES else "other"


Lon = Annotated[float, msgspec.Meta(ge=-180, le=180, description="longitude, degrees, WGS-84")]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90, description="latitude, degrees, WGS-84")]


class TrafficPosition(Event, tag="traffic.position"):
    """One GPS fix of a probe vehicle, always in WGS-84 (converted at the edge if sent otherwise).
    ``key`` is the vehicle id. ``live`` is False for back-dated data (JT/T 808 0x0704 type 1 blind-
    area reissue): it is stored, but never used for live speeds."""

    scene: ClassVar[str] = "traffic"
    lon: Lon
    lat: Lat
    speed_kmh: Annotated[float, msgspec.Meta(ge=0, le=400, description="device speed, km/h")] = 0.0
    heading: Annotated[float, msgspec.Meta(ge=0, le=360, description="degrees clockwise from north")] = 0.0
    vehicle_type: VehicleType = "other"
    live: bool = True
    datum_in: Annotated[str, msgspec.Meta(max_length=16, description="datum as received")] = "WGS-84"
    terminal: Annotated[str, msgspec.Meta(max_length=32, description="JT/T 808 phone, if any")] = ""
    alarm: Annotated[int, msgspec.Meta(ge=0, description="JT/T 808 alarm flags")] = 0
    status: Annotated[int, msgspec.Meta(ge=0, description="JT/T 808 status flags")] = 0


class TrafficTerminal(Event, tag="traffic.terminal"):
    """A JT/T 808 terminal registered, authenticated or logged out. ``key`` is the vehicle id."""

    scene: ClassVar[str] = "traffic"
    action: Literal["register", "auth", "auth_failed", "logout"]
    terminal: Annotated[str, msgspec.Meta(max_length=32, description="JT/T 808 phone")]
    vehicle_type: VehicleType = "other"
    plate: Annotated[str, msgspec.Meta(max_length=32)] = ""
    plate_color: int = 0
    model: Annotated[str, msgspec.Meta(max_length=64)] = ""


class TrafficTraversal(Event, tag="traffic.traversal"):
    """One vehicle drove one whole road segment (derived by map matching). ``key`` is the segment
    id, ``ts`` the exit time; entry and exit are interpolated along the matched path between the
    GPS points that bracket the segment."""

    scene: ClassVar[str] = "traffic"
    vehicle: str
    entry_ts: int
    length_m: Annotated[float, msgspec.Meta(gt=0)]
    travel_s: Annotated[float, msgspec.Meta(gt=0)]
    vehicle_type: VehicleType = "other"


class TrafficSegmentWindow(Event, tag="traffic.segment_window"):
    """A segment's closed window, sent to each area it belongs to. ``key`` is the area key
    (``city``, ``district:<id>``, ``hotspot:<id>``, ``road:<name>``); ``ts`` the window start."""

    scene: ClassVar[str] = "traffic"
    window: Literal["1m", "5m"]
    segment: int
    length_m: float
    speed_kmh: float  # space-mean speed of the window
    freeflow_kmh: float
    samples: int
    weight: float  # flow weight (decayed traversal count, Didi's "vehicles per month" analogue)


class TrafficSourceSeen(Event, tag="traffic.source_seen"):
    """A probe source delivered positions (sent at most every few seconds per partition)."""

    scene: ClassVar[str] = "traffic"
    positions: int
    last_ingest_ts: int


EVENTS: list[type[Event]] = [
    TrafficPosition,
    TrafficTerminal,
    TrafficTraversal,
    TrafficSegmentWindow,
    TrafficSourceSeen,
]

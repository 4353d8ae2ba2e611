"""The answers of the traffic API as response models (so /openapi.json documents every route).

Numbers read back from stored states keep the type they were stored with (``Num``): the JSON of
each route is what it was before these models existed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

Num = int | float
Names = dict[str, str]  # by locale
Series = list[tuple[int, float]]  # [ts, value] per bucket


class ProbesAccepted(BaseModel):
    accepted: int
    datum_in: str
    datum: str


class LineString(BaseModel):
    type: str
    coordinates: list[list[float]]


class SegmentProperties(BaseModel):
    key: str
    name: str
    road_class: str
    length_m: float
    level: str
    index: Num | None
    speed_kmh: Num | None
    samples: Num
    level_5m: str
    freeflow_kmh: Num
    freeflow_source: str
    ts: int | None


class SegmentFeature(BaseModel):
    type: str
    id: str
    geometry: LineString
    properties: SegmentProperties


class Segments(BaseModel):
    type: str
    features: list[SegmentFeature]
    levels: dict[str, Names]


class SegmentDetail(BaseModel):
    segment: int
    name: str
    road_class: str
    length_m: float
    speed_limit_kmh: float | None
    areas: list[str]
    state: dict[str, Any] | None
    ts: int | None


class AreaView(BaseModel):
    id: str
    key: str
    kind: str
    name: Names
    segments: int
    length_m: float
    level: str
    index: Num | None
    speed_kmh: Num | None
    trend: str
    coverage: Num
    ts: int | None


class SegmentLevel(BaseModel):
    segment: int
    name: str
    level: str
    index: Num | None


class AreaAlert(BaseModel):
    id: str
    status: str
    severity: str
    message: str
    opened_ts: int


class HotspotDetail(AreaView):
    polygon: list[list[Num]] | None
    history: Series
    segment_states: list[SegmentLevel]
    alerts: list[AreaAlert]


class IndexSeries(BaseModel):
    scope: str
    key: str
    window: str
    bucket_ms: int
    index: Series
    speed_kmh: Series


class PeriodFigures(BaseModel):
    mean_index: float | None
    max_index: float | None


class PeakRow(BaseModel):
    key: str
    kind: str
    name: Names
    am_peak: PeriodFigures
    pm_peak: PeriodFigures
    all_day: PeriodFigures


class PeakHours(BaseModel):
    day: str
    periods: dict[str, str]
    areas: list[PeakRow]


class TopRoad(BaseModel):
    road: str
    name: Names
    length_m: float
    mean_index: float
    minutes: int
    level: str


class TopRoads(BaseModel):
    day: str
    period: str
    roads: list[TopRoad]


class Point(BaseModel):
    type: str
    coordinates: list[Num]


class VehicleProperties(BaseModel):
    model_config = ConfigDict(extra="allow")  # whatever the matcher put in the vehicle's state

    key: str
    ts: int


class VehicleFeature(BaseModel):
    type: str
    id: str
    geometry: Point
    properties: VehicleProperties


class Vehicles(BaseModel):
    type: str
    features: list[VehicleFeature]


class Source(BaseModel):
    model_config = ConfigDict(extra="allow")  # whatever the source watch put in the state

    key: str
    ts: int
    source: str
    last_ts: int
    last_ingest_ts: int
    positions: int
    silent: bool


class Summary(BaseModel):
    city_index: Num | None
    city_level: str
    city_speed_kmh: Num | None
    segments: int
    segments_by_level: dict[str, int]
    hotspots: int
    hotspots_congested: int
    open_alerts: int
    levels: dict[str, Names]

"""Traffic API (mounted at /api/v1/scenes/traffic): the probe feed, segment states as GeoJSON,
hotspots, index time series, the peak-hour summary and the most congested roads of a day."""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from citybrain import sdk
from citybrain.scenes.traffic import answers as a
from citybrain.scenes.traffic import levels as lv
from citybrain.scenes.traffic import probes, roadnet
from citybrain.scenes.traffic.aggregate import AREA_SCENE
from citybrain.scenes.traffic.matching import VEHICLE_SCENE
from citybrain.scenes.traffic.segments import SEGMENT_SCENE
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.scenes.traffic.sources import SOURCE_SCENE
from citybrain.sdk import (
    Agg,
    AlertQuery,
    ConfigError,
    Event,
    IngestBody,
    NotFoundError,
    ReadModel,
    ingest_body,
)

Level = Literal["smooth", "slow", "congested", "severe", "no_data"]  # levels.LEVEL_RANK
RoadClass = Annotated[str, Query(pattern=r"^[a-z_]{1,40}$", description="an OSM highway class")]

HOUR = 3_600_000
CHINA = dt.timezone(dt.timedelta(hours=8))
PERIODS = {"am_peak": (7, 9), "pm_peak": (17, 19), "all_day": (6, 22)}  # China time, as Amap reports
SCOPES = ("segment", "hotspot", "district", "city", "road")
_MANY = 1_000_000


def day_start_ms(day: str | None) -> int:
    """Midnight China time of ``day`` (YYYY-MM-DD; default today) in epoch ms."""
    try:
        d = dt.date.fromisoformat(day) if day else dt.datetime.now(CHINA).date()
    except ValueError:
        raise ConfigError(f"day {day!r} is not a date (YYYY-MM-DD)") from None
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=CHINA).timestamp() * 1000)


def area_key(scope: str, ident: str) -> str:
    if scope == "city":
        return roadnet.CITY
    if scope == "segment":
        return ident
    return f"{scope}:{ident}"


Rt = Annotated[sdk.Runtime[TrafficSettings, roadnet.TrafficNetwork], Depends(sdk.runtime)]
# Scopes differ by route (the probe feed takes ingest tokens through the ingest gate, the rest
# read tokens), so each route names its own: an ingest route inside a read router would need both.
router = APIRouter()
read = functools.partial(router.get, dependencies=[Depends(sdk.require("read"))])


@router.post("/probes", summary="Probe positions (ride-hail, navigation...) in any datum")
async def post_probes(rt: Rt, req: Annotated[IngestBody, Depends(ingest_body)]) -> a.ProbesAccepted:
    batch = probes.decode_batch(req.body)
    req.check_count(len(batch.positions))
    events: list[Event] = list(probes.to_events(batch))
    req.admit(len(events))
    await rt.submit(events)  # durable before the 2xx
    return a.ProbesAccepted(accepted=len(events), datum_in=batch.datum, datum="WGS-84")


def segment_states(store: ReadModel) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in store.states(SEGMENT_SCENE, limit=_MANY)}


def area_states(store: ReadModel) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in store.states(AREA_SCENE, limit=_MANY)}


@read(
    "/segments",
    summary="Segment states as GeoJSON (bbox, level, road class filters)",
    response_model=a.Segments,
)
def segments(
    rt: Rt,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    level: Annotated[
        list[Level] | None, Query(description="smooth, slow, congested, severe, no_data")
    ] = None,
    road_class: Annotated[list[RoadClass] | None, Query()] = None,
    with_data: bool = False,
) -> dict[str, Any]:
    box = _bbox(bbox)
    tn = rt.world
    states = segment_states(rt.store)
    feats = []
    for e in tn.net.edges:
        seg = tn.segments[e.id]
        if road_class and seg.road_class not in road_class:
            continue
        st = states.get(str(e.id))
        data = st["data"] if st else {}
        lvl = data.get("level", lv.NO_DATA)
        if (level and lvl not in level) or (with_data and st is None):
            continue
        if box is not None:
            x0, y0, x1, y1 = e.geometry.bounds
            if x1 < box[0] or x0 > box[2] or y1 < box[1] or y0 > box[3]:
                continue
        feats.append(
            {
                "type": "Feature",
                "id": f"{e.id}",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[round(x, 6), round(y, 6)] for x, y, *_ in e.geometry.coords],
                },
                "properties": {
                    "key": str(e.id),
                    "name": seg.name,
                    "road_class": seg.road_class,
                    "length_m": round(seg.length_m, 1),
                    "level": lvl,
                    "index": data.get("index"),
                    "speed_kmh": data.get("speed_kmh"),
                    "samples": data.get("samples", 0),
                    "level_5m": data.get("level_5m", lv.NO_DATA),
                    "freeflow_kmh": data.get("freeflow_kmh", round(seg.fallback_freeflow[0], 1)),
                    "freeflow_source": data.get("freeflow_source", seg.fallback_freeflow[1]),
                    "ts": st["ts"] if st else None,
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats, "levels": lv.LEVEL_NAMES}


@read("/segments/{segment_id}", summary="One segment's state")
def segment(rt: Rt, segment_id: int) -> a.SegmentDetail:
    tn = rt.world
    seg = tn.segments.get(segment_id)
    if seg is None:
        raise NotFoundError(f"segment {segment_id} is not in the network {tn.source}")
    st = rt.store.states(SEGMENT_SCENE, key=str(segment_id))
    return a.SegmentDetail(
        segment=segment_id,
        name=seg.name,
        road_class=seg.road_class,
        length_m=seg.length_m,
        speed_limit_kmh=seg.speed_limit_kmh,
        areas=tn.areas_of(segment_id),
        state=st[0]["data"] if st else None,
        ts=st[0]["ts"] if st else None,
    )


def area_view(area: roadnet.Area, states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    st = states.get(area.key)
    data = dict(st["data"]) if st else {}
    return {
        "id": area.id,
        "key": area.key,
        "kind": area.kind,
        "name": area.name,
        "segments": len(area.segments),
        "length_m": round(area.length_m, 1),
        "level": data.get("level", lv.NO_DATA),
        "index": data.get("index"),
        "speed_kmh": data.get("speed_kmh"),
        "trend": data.get("trend", "unknown"),
        "coverage": data.get("coverage", 0.0),
        "ts": st["ts"] if st else None,
    }


@read("/hotspots", summary="Hotspots with their live index, level and trend", response_model=list[a.AreaView])
def hotspots(rt: Rt) -> list[dict[str, Any]]:
    states = area_states(rt.store)
    return [area_view(x, states) for x in rt.world.area_list("hotspot")]


@read(
    "/hotspots/{hotspot_id}",
    summary="One hotspot: live figures, history, segments, alerts",
    response_model=a.HotspotDetail,
)
def hotspot(
    rt: Rt, hotspot_id: str, minutes: Annotated[int, Query(ge=1, le=1_000_000_000)] = 120
) -> dict[str, Any]:
    tn, store = rt.world, rt.store
    area = tn.areas.get(f"hotspot:{hotspot_id}")
    if area is None:
        raise NotFoundError(f"hotspot {hotspot_id!r} is not configured")
    now = int(time.time() * 1000)
    states = segment_states(store)
    alerts = store.alerts(AlertQuery(scene="traffic", key=area.key, limit=50))
    return {
        **area_view(area, area_states(store)),
        "polygon": area.polygon,
        "history": store.metric_series(
            "traffic.hotspot.index", area.key, now - minutes * 60_000, now + 60_000, 60_000, "last"
        ),
        "segment_states": [
            {
                "segment": s,
                "name": tn.segments[s].name,
                "level": states.get(str(s), {}).get("data", {}).get("level", lv.NO_DATA),
                "index": states.get(str(s), {}).get("data", {}).get("index"),
            }
            for s in area.segments
        ],
        "alerts": [
            {
                "id": x.id,
                "status": x.status,
                "severity": x.severity,
                "message": x.message,
                "opened_ts": x.opened_ts,
            }
            for x in alerts
        ],
    }


@read(
    "/areas", summary="City, districts or named roads with their live index", response_model=list[a.AreaView]
)
def areas(rt: Rt, kind: str = "district") -> list[dict[str, Any]]:
    states = area_states(rt.store)
    return [area_view(x, states) for x in rt.world.area_list(kind)]


@read("/series", summary="Index (and speed) time series of a segment, hotspot, district, road or the city")
def series(
    rt: Rt,
    scope: str,
    id: str = "",
    start: int | None = None,
    end: int | None = None,
    bucket_ms: Annotated[int, Query(ge=1_000, le=86_400_000)] = 60_000,
    window: str = "1m",
) -> a.IndexSeries:
    if scope not in SCOPES:
        raise ConfigError(f"scope must be one of {', '.join(SCOPES)}")
    if window not in ("1m", "5m"):
        raise ConfigError("window must be 1m or 5m")
    end = end or int(time.time() * 1000) + 60_000
    start = start or end - 2 * HOUR
    key = area_key(scope, id)
    sfx = "" if window == "1m" else "_5m"
    agg: Agg = "avg" if bucket_ms > 60_000 else "last"
    return a.IndexSeries(
        scope=scope,
        key=key,
        window=window,
        bucket_ms=bucket_ms,
        index=rt.store.metric_series(f"traffic.{scope}.index{sfx}", key, start, end, bucket_ms, agg),
        speed_kmh=rt.store.metric_series(f"traffic.{scope}.speed{sfx}", key, start, end, bucket_ms, agg),
    )


def period_figures(store: ReadModel, name: str, key: str, day0: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for period, (h0, h1) in PERIODS.items():
        t0, t1 = day0 + h0 * HOUR, day0 + h1 * HOUR
        mean = store.metric_series(name, key, t0, t1, t1 - t0, "avg")
        peak = store.metric_series(name, key, t0, t1, t1 - t0, "max")
        out[period] = {
            "mean_index": round(mean[0][1], 3) if mean else None,
            "max_index": round(peak[0][1], 3) if peak else None,
        }
    return out


@read(
    "/peak-hours",
    summary="Mean and worst delay index in the 07-09 and 17-19 peaks (China time)",
    response_model=a.PeakHours,
)
def peak_hours(rt: Rt, day: str | None = None) -> dict[str, Any]:
    tn, day0 = rt.world, day_start_ms(day)
    city = tn.areas[roadnet.CITY]
    rows = [
        {"key": area.key, "kind": area.kind, "name": area.name,
         **period_figures(rt.store, f"traffic.{area.kind}.index", area.key, day0)}
        for area in [city, *tn.area_list("district"), *tn.area_list("hotspot")]
    ]  # fmt: skip
    return {
        "day": dt.datetime.fromtimestamp(day0 / 1000, CHINA).date().isoformat(),
        "periods": {k: f"{h0:02d}:00-{h1:02d}:00" for k, (h0, h1) in PERIODS.items()},
        "areas": rows,
    }


@read("/top-roads", summary="The most congested named roads of a day", response_model=a.TopRoads)
def top_roads(
    rt: Rt, day: str | None = None, period: str = "all_day", limit: Annotated[int, Query(ge=1, le=1_000)] = 10
) -> dict[str, Any]:
    if period not in PERIODS:
        raise ConfigError(f"period must be one of {', '.join(PERIODS)}")
    store, day0 = rt.store, day_start_ms(day)
    h0, h1 = PERIODS[period]
    t0, t1 = day0 + h0 * HOUR, day0 + h1 * HOUR
    keys = set(store.metric_keys("traffic.road.index"))
    bands = rt.settings.levels.index_bands()
    rows: list[dict[str, Any]] = []
    for road in rt.world.area_list("road"):
        if road.key not in keys:
            continue
        mean = store.metric_series("traffic.road.index", road.key, t0, t1, t1 - t0, "avg")
        if mean:
            minutes = store.metric_series("traffic.road.index", road.key, t0, t1, t1 - t0, "count")
            rows.append(
                {
                    "road": road.id,
                    "name": road.name,
                    "length_m": round(road.length_m, 1),
                    "mean_index": round(mean[0][1], 3),
                    "minutes": int(minutes[0][1]) if minutes else 0,
                    "level": lv.level_from_index(mean[0][1], bands),
                }
            )
    rows.sort(key=lambda r: -r["mean_index"])
    return {
        "day": dt.datetime.fromtimestamp(day0 / 1000, CHINA).date().isoformat(),
        "period": period,
        "roads": rows[: max(1, min(limit, 200))],
    }


@read("/vehicles", summary="Probe vehicles' last positions as GeoJSON", response_model=a.Vehicles)
def vehicles(rt: Rt, max_age_s: int = 300) -> dict[str, Any]:
    cutoff = int(time.time() * 1000) - max_age_s * 1000
    feats = [
        {
            "type": "Feature",
            "id": s["key"],
            "geometry": {"type": "Point", "coordinates": [s["data"]["lon"], s["data"]["lat"]]},
            "properties": {
                "key": s["key"],
                "ts": s["ts"],
                **{k: v for k, v in s["data"].items() if k not in ("lon", "lat")},
            },
        }
        for s in rt.store.states(VEHICLE_SCENE, limit=_MANY)
        if s["ts"] >= cutoff
    ]
    return {"type": "FeatureCollection", "features": feats}


@read("/sources", summary="Probe sources and when each last delivered", response_model=list[a.Source])
def sources(rt: Rt) -> list[dict[str, Any]]:
    return [{"key": s["key"], "ts": s["ts"], **s["data"]} for s in rt.store.states(SOURCE_SCENE, limit=_MANY)]


@read("/summary", summary="City index and counts", response_model=a.Summary)
def summary(rt: Rt) -> dict[str, Any]:
    tn, store = rt.world, rt.store
    states = area_states(store)
    city = area_view(tn.areas[roadnet.CITY], states)
    by_level = dict.fromkeys((*lv.LEVELS, lv.NO_DATA), 0)
    seen = segment_states(store)
    for sid in tn.segments:
        by_level[seen.get(str(sid), {}).get("data", {}).get("level", lv.NO_DATA)] += 1
    hs = [area_view(x, states) for x in tn.area_list("hotspot")]
    return {
        "city_index": city["index"],
        "city_level": city["level"],
        "city_speed_kmh": city["speed_kmh"],
        "segments": len(tn.segments),
        "segments_by_level": by_level,
        "hotspots": len(hs),
        "hotspots_congested": sum(lv.LEVEL_RANK[h["level"]] >= 2 for h in hs),
        "open_alerts": len(store.alerts(AlertQuery(status="open", scene="traffic"))),
        "levels": lv.LEVEL_NAMES,
    }


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
        raise ConfigError(f"bbox {text!r} must be minlon,minlat,maxlon,maxlat")
    return parts[0], parts[1], parts[2], parts[3]

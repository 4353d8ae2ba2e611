"""Traffic API (mounted at /api/v1/scenes/traffic): the probe feed, segment states as GeoJSON,
hotspots, index time series, the peak-hour summary and the most congested roads of a day."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from citybrain.api.auth import require
from citybrain.core.errors import ConfigError, NotFoundError
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.traffic import levels as lv
from citybrain.scenes.traffic import probes, roadnet
from citybrain.scenes.traffic.aggregate import AREA_SCENE
from citybrain.scenes.traffic.config import load_config
from citybrain.scenes.traffic.matching import VEHICLE_SCENE
from citybrain.scenes.traffic.segments import SEGMENT_SCENE
from citybrain.scenes.traffic.sources import SOURCE_SCENE

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


def routes(platform: Any) -> APIRouter:
    cfg = load_config(platform.settings.scenes.get("traffic", {}))
    tn = roadnet.load(cfg.network_path, cfg.areas_path)
    store = platform.store
    router = APIRouter()
    read = APIRouter(dependencies=[Depends(require("read"))])

    @router.post(
        "/probes",
        summary="Probe positions (ride-hail, navigation...) in any datum",
        dependencies=[Depends(require("ingest"))],
    )
    async def post_probes(request: Request) -> JSONResponse:
        batch = probes.decode_batch(await request.body())
        events = probes.to_events(batch)
        token = getattr(request.state, "token", None)
        if token is not None and events:
            request.app.state.ratelimit.take(token.id, len(events))
        await platform.batcher.submit(events)  # durable before the 2xx
        return JSONResponse({"accepted": len(events), "datum_in": batch.datum, "datum": "WGS-84"})

    def segment_states() -> dict[str, dict[str, Any]]:
        return {s["key"]: s for s in store.states(SEGMENT_SCENE, limit=_MANY)}

    @read.get("/segments", summary="Segment states as GeoJSON (bbox, level, road class filters)")
    def segments(
        bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
        level: Annotated[
            list[str] | None, Query(description="smooth, slow, congested, severe, no_data")
        ] = None,
        road_class: Annotated[list[str] | None, Query()] = None,
        with_data: bool = False,
    ) -> dict[str, Any]:
        box = _bbox(bbox)
        states = segment_states()
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

    @read.get("/segments/{segment_id}", summary="One segment's state")
    def segment(segment_id: int) -> dict[str, Any]:
        seg = tn.segments.get(segment_id)
        if seg is None:
            raise NotFoundError(f"segment {segment_id} is not in the network {tn.source}")
        st = store.states(SEGMENT_SCENE, key=str(segment_id))
        return {
            "segment": segment_id,
            "name": seg.name,
            "road_class": seg.road_class,
            "length_m": seg.length_m,
            "speed_limit_kmh": seg.speed_limit_kmh,
            "areas": tn.areas_of(segment_id),
            "state": st[0]["data"] if st else None,
            "ts": st[0]["ts"] if st else None,
        }

    def area_view(a: roadnet.Area, states: dict[str, dict[str, Any]]) -> dict[str, Any]:
        st = states.get(a.key)
        data = dict(st["data"]) if st else {}
        data.pop("history", None)
        return {
            "id": a.id,
            "key": a.key,
            "kind": a.kind,
            "name": a.name,
            "segments": len(a.segments),
            "length_m": round(a.length_m, 1),
            "level": data.get("level", lv.NO_DATA),
            "index": data.get("index"),
            "speed_kmh": data.get("speed_kmh"),
            "trend": data.get("trend", "unknown"),
            "coverage": data.get("coverage", 0.0),
            "ts": st["ts"] if st else None,
        }

    def area_states() -> dict[str, dict[str, Any]]:
        return {s["key"]: s for s in store.states(AREA_SCENE, limit=_MANY)}

    @read.get("/hotspots", summary="Hotspots with their live index, level and trend")
    def hotspots() -> list[dict[str, Any]]:
        states = area_states()
        return [area_view(a, states) for a in tn.area_list("hotspot")]

    @read.get("/hotspots/{hotspot_id}", summary="One hotspot: live figures, history, segments, alerts")
    def hotspot(hotspot_id: str, minutes: int = 120) -> dict[str, Any]:
        a = tn.areas.get(f"hotspot:{hotspot_id}")
        if a is None:
            raise NotFoundError(f"hotspot {hotspot_id!r} is not configured")
        now = int(time.time() * 1000)
        states = segment_states()
        alerts = store.alerts(AlertQuery(scene="traffic", key=a.key, limit=50))
        return {
            **area_view(a, area_states()),
            "polygon": a.polygon,
            "history": store.metric_series(
                "traffic.hotspot.index", a.key, now - minutes * 60_000, now + 60_000, 60_000, "last"
            ),
            "segment_states": [
                {
                    "segment": s,
                    "name": tn.segments[s].name,
                    "level": states.get(str(s), {}).get("data", {}).get("level", lv.NO_DATA),
                    "index": states.get(str(s), {}).get("data", {}).get("index"),
                }
                for s in a.segments
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

    @read.get("/areas", summary="City, districts or named roads with their live index")
    def areas(kind: str = "district") -> list[dict[str, Any]]:
        states = area_states()
        return [area_view(a, states) for a in tn.area_list(kind)]

    @read.get(
        "/series", summary="Index (and speed) time series of a segment, hotspot, district, road or the city"
    )
    def series(
        scope: str,
        id: str = "",
        start: int | None = None,
        end: int | None = None,
        bucket_ms: int = 60_000,
        window: str = "1m",
    ) -> dict[str, Any]:
        if scope not in SCOPES:
            raise ConfigError(f"scope must be one of {', '.join(SCOPES)}")
        if window not in ("1m", "5m"):
            raise ConfigError("window must be 1m or 5m")
        end = end or int(time.time() * 1000) + 60_000
        start = start or end - 2 * HOUR
        key = area_key(scope, id)
        sfx = "" if window == "1m" else "_5m"
        agg = "avg" if bucket_ms > 60_000 else "last"
        return {
            "scope": scope,
            "key": key,
            "window": window,
            "bucket_ms": bucket_ms,
            "index": store.metric_series(f"traffic.{scope}.index{sfx}", key, start, end, bucket_ms, agg),
            "speed_kmh": store.metric_series(f"traffic.{scope}.speed{sfx}", key, start, end, bucket_ms, agg),
        }

    def period_figures(name: str, key: str, day0: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for period, (h0, h1) in PERIODS.items():
            a, b = day0 + h0 * HOUR, day0 + h1 * HOUR
            mean = store.metric_series(name, key, a, b, b - a, "avg")
            peak = store.metric_series(name, key, a, b, b - a, "max")
            out[period] = {
                "mean_index": round(mean[0][1], 3) if mean else None,
                "max_index": round(peak[0][1], 3) if peak else None,
            }
        return out

    @read.get("/peak-hours", summary="Mean and worst delay index in the 07-09 and 17-19 peaks (China time)")
    def peak_hours(day: str | None = None) -> dict[str, Any]:
        day0 = day_start_ms(day)
        rows = [
            {
                "key": roadnet.CITY,
                "kind": "city",
                "name": tn.areas[roadnet.CITY].name,
                **period_figures("traffic.city.index", roadnet.CITY, day0),
            }
        ]
        for kind in ("district", "hotspot"):
            for a in tn.area_list(kind):
                rows.append(
                    {
                        "key": a.key,
                        "kind": kind,
                        "name": a.name,
                        **period_figures(f"traffic.{kind}.index", a.key, day0),
                    }
                )
        return {
            "day": dt.datetime.fromtimestamp(day0 / 1000, CHINA).date().isoformat(),
            "periods": {k: f"{a:02d}:00-{b:02d}:00" for k, (a, b) in PERIODS.items()},
            "areas": rows,
        }

    @read.get("/top-roads", summary="The most congested named roads of a day")
    def top_roads(day: str | None = None, period: str = "all_day", limit: int = 10) -> dict[str, Any]:
        if period not in PERIODS:
            raise ConfigError(f"period must be one of {', '.join(PERIODS)}")
        day0 = day_start_ms(day)
        h0, h1 = PERIODS[period]
        a, b = day0 + h0 * HOUR, day0 + h1 * HOUR
        keys = set(store.metric_keys("traffic.road.index"))
        rows = []
        for road in tn.area_list("road"):
            if road.key not in keys:
                continue
            mean = store.metric_series("traffic.road.index", road.key, a, b, b - a, "avg")
            if mean:
                minutes = store.metric_series("traffic.road.index", road.key, a, b, b - a, "count")
                rows.append(
                    {
                        "road": road.id,
                        "name": road.name,
                        "length_m": round(road.length_m, 1),
                        "mean_index": round(mean[0][1], 3),
                        "minutes": int(minutes[0][1]) if minutes else 0,
                        "level": lv.level_from_index(mean[0][1], cfg.levels.index_bands()),
                    }
                )
        rows.sort(key=lambda r: -r["mean_index"])
        return {
            "day": dt.datetime.fromtimestamp(day0 / 1000, CHINA).date().isoformat(),
            "period": period,
            "roads": rows[: max(1, min(limit, 200))],
        }

    @read.get("/vehicles", summary="Probe vehicles' last positions as GeoJSON")
    def vehicles(max_age_s: int = 300) -> dict[str, Any]:
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
            for s in store.states(VEHICLE_SCENE, limit=_MANY)
            if s["ts"] >= cutoff
        ]
        return {"type": "FeatureCollection", "features": feats}

    @read.get("/sources", summary="Probe sources and when each last delivered")
    def sources() -> list[dict[str, Any]]:
        return [
            {"key": s["key"], "ts": s["ts"], **s["data"]} for s in store.states(SOURCE_SCENE, limit=_MANY)
        ]

    @read.get("/summary", summary="City index and counts")
    def summary() -> dict[str, Any]:
        states = area_states()
        city = area_view(tn.areas[roadnet.CITY], states)
        by_level = dict.fromkeys((*lv.LEVELS, lv.NO_DATA), 0)
        seen = segment_states()
        for sid in tn.segments:
            by_level[seen.get(str(sid), {}).get("data", {}).get("level", lv.NO_DATA)] += 1
        hs = [area_view(a, states) for a in tn.area_list("hotspot")]
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

    router.include_router(read)
    return router


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

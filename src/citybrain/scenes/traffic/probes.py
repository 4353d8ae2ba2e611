"""The HTTP probe feed (ride-hailing, navigation, any fleet without a JT/T 808 link).

A batch names its source, vehicle type and coordinate datum once; positions are converted to
WGS-84 explicitly (vectorised, :mod:`citybrain.geo.datum`) before they become events, because
Chinese map data is usually GCJ-02 and mixing datums silently shifts points by hundreds of metres.
Validation reports every bad position with its index, and a batch with any bad position is
refused whole, so a client never has to work out which half was kept.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

from citybrain.geo import datum
from citybrain.scenes.traffic.events import TrafficPosition
from citybrain.sdk import MAX_TS, MIN_TS, Problem, ValidationError

Datum = Literal["WGS-84", "GCJ-02", "BD-09"]
ProbeType = Literal["bus", "taxi", "ride-hail", "navigation"]


class ProbePoint(msgspec.Struct, forbid_unknown_fields=True):
    vehicle: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    ts: Annotated[int, msgspec.Meta(ge=MIN_TS, le=MAX_TS, description="epoch ms, UTC")]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    speed_kmh: Annotated[float, msgspec.Meta(ge=0, le=400)] = 0.0
    heading: Annotated[float, msgspec.Meta(ge=0, le=360)] = 0.0


class ProbeBatch(msgspec.Struct, forbid_unknown_fields=True):
    """``source``: the provider (e.g. ``didi``, ``amap``); vehicle keys become ``<source>:<vehicle>``."""

    source: Annotated[str, msgspec.Meta(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.-]+$")]
    source_type: ProbeType
    datum: Datum
    positions: Annotated[list[ProbePoint], msgspec.Meta(max_length=100_000)]


_DECODER = msgspec.json.Decoder(ProbeBatch)
_ITEM = msgspec.json.Decoder(list[msgspec.Raw])
_POINT = msgspec.json.Decoder(ProbePoint)


def to_wgs84(lon: np.ndarray, lat: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of lon/lat in ``source`` datum -> WGS-84."""
    if source == "WGS-84":
        return lon, lat
    if source == "GCJ-02":
        return datum.gcj02_to_wgs84(lon, lat)
    if source == "BD-09":
        return datum.bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown datum {source!r}")


def decode_batch(body: bytes) -> ProbeBatch:
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError as err:
        problems = _point_problems(body) or [Problem(0, _field(str(err)), str(err).split(" - at ")[0])]
        raise ValidationError(problems) from None
    except msgspec.DecodeError as err:
        raise ValidationError([Problem(0, "", f"not JSON: {err}")]) from None


def _field(msg: str) -> str:
    return msg.split("at `$.", 1)[1].rstrip("`") if "at `$." in msg else ""


def _point_problems(body: bytes) -> list[Problem]:
    """One problem per bad position (``line`` = its 1-based index in ``positions``)."""
    try:
        doc = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
        items = _ITEM.decode(doc["positions"]) if "positions" in doc else []
    except (msgspec.DecodeError, KeyError):
        return []
    out = []
    for i, raw in enumerate(items, start=1):
        try:
            _POINT.decode(raw)
        except msgspec.DecodeError as err:
            out.append(
                Problem(i, f"positions[{i - 1}].{_field(str(err))}".rstrip("."), str(err).split(" - at ")[0])
            )
    return out


def to_events(batch: ProbeBatch) -> list[TrafficPosition]:
    """WGS-84 position events, keyed ``<source>:<vehicle>``, source ``probe:<source>``."""
    if not batch.positions:
        return []
    lon = np.fromiter((p.lon for p in batch.positions), dtype=np.float64, count=len(batch.positions))
    lat = np.fromiter((p.lat for p in batch.positions), dtype=np.float64, count=len(batch.positions))
    wlon, wlat = to_wgs84(lon, lat, batch.datum)
    src = f"probe:{batch.source}"
    return [
        TrafficPosition(
            key=f"{batch.source}:{p.vehicle}",
            ts=p.ts,
            source=src,
            lon=round(float(x), 7),
            lat=round(float(y), 7),
            speed_kmh=p.speed_kmh,
            heading=p.heading % 360,
            vehicle_type=batch.source_type,
            datum_in=batch.datum,
        )
        for p, x, y in zip(batch.positions, wlon.tolist(), wlat.tolist(), strict=True)
    ]

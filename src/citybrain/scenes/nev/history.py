"""History signals: which report fields become metrics (key = VIN), how long ranges are
downsampled, and the CSV export. The store keeps one metric point per report; a query over a long
range asks the store for buckets instead, each signal with the aggregate that keeps its meaning
(the peak of a temperature, the mean of a speed)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from citybrain.sdk import Agg, ReadModel


@dataclass(frozen=True)
class Signal:
    name: str  # API name; the metric in the store is nev.<name>
    field: str  # NevReport field
    agg: Agg  # aggregate when downsampling
    unit: str
    label: dict[str, str]

    @property
    def metric(self) -> str:
        return f"nev.{self.name}"


SIGNALS: tuple[Signal, ...] = (
    Signal("speed", "speed_kmh", "avg", "km/h", {"zh-CN": "车速", "en": "speed"}),
    Signal("soc", "soc_pct", "avg", "%", {"zh-CN": "SOC", "en": "state of charge"}),
    Signal("mileage", "odometer_km", "max", "km", {"zh-CN": "累计里程", "en": "odometer"}),
    Signal("voltage", "total_voltage_v", "avg", "V", {"zh-CN": "总电压", "en": "pack voltage"}),
    Signal("current", "total_current_a", "avg", "A", {"zh-CN": "总电流", "en": "pack current"}),
    Signal("max_temp", "max_temp_c", "max", "°C", {"zh-CN": "最高温度", "en": "highest temperature"}),
    Signal("min_temp", "min_temp_c", "min", "°C", {"zh-CN": "最低温度", "en": "lowest temperature"}),
    Signal("max_cell_v", "max_cell_v", "max", "V", {"zh-CN": "单体最高电压", "en": "highest cell"}),
    Signal("min_cell_v", "min_cell_v", "min", "V", {"zh-CN": "单体最低电压", "en": "lowest cell"}),
    Signal("lon", "lon", "avg", "°", {"zh-CN": "经度", "en": "longitude"}),
    Signal("lat", "lat", "avg", "°", {"zh-CN": "纬度", "en": "latitude"}),
)  # fmt: skip
BY_NAME = {s.name: s for s in SIGNALS}
POSITION = ("lon", "lat")  # written only for a valid fix
DEFAULT_SIGNALS = ("speed", "soc", "mileage", "max_temp", "min_temp", "lon", "lat")


def bucket_for(start: int, end: int, max_points: int, raw_ms: int = 10_000) -> int:
    """Raw points (one per report, ``raw_ms`` apart) when they fit; else equal buckets."""
    span = max(end - start, 1)
    if span // raw_ms <= max_points:
        return 1
    step = -(-span // max_points)
    return -(-step // 1000) * 1000  # whole seconds keep bucket starts readable


def query(
    store: ReadModel, vin: str, names: list[str], start: int, end: int, max_points: int
) -> dict[str, Any]:
    """Signals of one VIN in [start, end), downsampled to at most about ``max_points`` each."""
    bucket = bucket_for(start, end, max_points)
    series: dict[str, list[list[float]]] = {}
    for name in names:
        sig = BY_NAME[name]
        points = store.metric_series(sig.metric, vin, start, end, bucket, sig.agg)
        series[name] = [[ts, v] for ts, v in points]
    track: list[list[float]] = []
    if "lon" in series and "lat" in series:
        lats = dict((int(t), v) for t, v in series["lat"])
        track = [[t, lon, lats[int(t)]] for t, lon in series["lon"] if int(t) in lats]
    return {
        "vin": vin, "start": start, "end": end, "bucket_ms": bucket, "downsampled": bucket > 1,
        "signals": {n: {"unit": BY_NAME[n].unit, "label": BY_NAME[n].label,
                        "agg": BY_NAME[n].agg if bucket > 1 else "raw", "points": series[n]} for n in names},
        "track": track,
    }  # fmt: skip


def to_csv(result: dict[str, Any]) -> str:
    """One row per time with a column per signal (blank where a signal has no point)."""
    names = list(result["signals"])
    rows: dict[int, dict[str, float]] = {}
    for name in names:
        for ts, v in result["signals"][name]["points"]:
            rows.setdefault(int(ts), {})[name] = v
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["ts_ms", *[f"{n}_{BY_NAME[n].unit}" for n in names]])
    for ts in sorted(rows):
        w.writerow([ts, *[_fmt(rows[ts].get(n)) for n in names]])
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.6f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))

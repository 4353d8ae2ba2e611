"""Stage 2: per road segment, 1-minute and 5-minute windows of traversals -> speed, index, level.

Traversals are keyed by segment, so one partition holds every vehicle's traversals of a segment.
Per window: samples, space-mean speed (total distance / total time), delay index against the
free-flow speed, level. Free flow is learned per segment as a percentile of off-peak traversal
speeds (1 km/h histogram) once enough were seen; until then the speed limit or a road-class
default stands in, and the state says which. Closed windows with data go on to every area the
segment belongs to as ``traffic.segment_window`` events (stage 3). A window with fewer than the
minimum samples says "no data".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain.scenes.traffic import levels as lv
from citybrain.scenes.traffic.events import TrafficSegmentWindow, TrafficTraversal
from citybrain.scenes.traffic.roadnet import Segment, TrafficNetwork, band_class
from citybrain.scenes.traffic.rules import SPEED_COLLAPSE
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.sdk import Emitter, Processor, Windows, WindowState, advance_watermark, now_ms

MINUTE = 60_000
HOUR = 3_600_000
SEGMENT_SCENE = "traffic.segment"
SIZES = {"1m": MINUTE, "5m": 5 * MINUTE}


def china_hour(ts_ms: int) -> int:
    return int((ts_ms // HOUR + 8) % 24)


class SegStats(msgspec.Struct, array_like=True):
    hist: dict[int, int] = msgspec.field(default_factory=dict)  # off-peak speeds, 1 km/h bins
    freeflow: float = 0.0  # learned, 0 until freeflow_min_samples were seen
    weight: float = 0.0  # decayed traversal count
    weight_ts: int = 0
    baseline: list[float] = msgspec.field(default_factory=list)  # recent 1-min speeds
    last: dict[str, list[float]] = msgspec.field(default_factory=dict)  # window -> [start, n, v, idx]


class SegmentState(msgspec.Struct):
    windows: dict[str, WindowState] = msgspec.field(default_factory=dict)  # acc = [n, metres, seconds]
    segs: dict[str, SegStats] = msgspec.field(default_factory=dict)
    last_event_wall: int = 0
    last_event_watermark: int = 0


class SegmentSpeeds(Processor[SegmentState, TrafficTraversal]):
    name = "traffic.segments"
    kinds = (TrafficTraversal,)
    state_type = SegmentState

    def __init__(self, partition: int, settings: TrafficSettings, roads: TrafficNetwork) -> None:
        super().__init__(partition, settings)
        self.cfg = settings.segments
        self.levels = settings.levels
        self.bands = settings.levels.index_bands()
        self.tn = roads
        lateness = self.cfg.allowed_lateness_ms
        self.win = {name: Windows(size, allowed_lateness_ms=lateness) for name, size in SIZES.items()}
        self.min_samples = {"1m": self.cfg.min_samples_1m, "5m": self.cfg.min_samples_5m}
        self.offpeak = [h for a, b in self.cfg.offpeak_hours for h in range(a, b)]

    # -- events ---------------------------------------------------------------------------------
    def process(self, batch: Sequence[tuple[int, TrafficTraversal]], out: Emitter) -> None:
        st = self.state
        touched: set[tuple[str, int]] = set()
        for poff, ev in batch:
            starts = []
            for name, win in self.win.items():
                ws = st.windows.setdefault(name, WindowState())
                ws.watermark = advance_watermark(ws.held, ev.ts, ws.watermark)
                for start in win.starts(ev.ts):
                    if win.is_closed(ws, start):
                        continue
                    acc = ws.open.setdefault(ev.key, {}).setdefault(start, [0.0, 0.0, 0.0])
                    acc[0] += 1
                    acc[1] += ev.length_m
                    acc[2] += ev.travel_s
                    starts.append(start)
                    if name == "1m":
                        touched.add((ev.key, start))
            if not starts:
                out.late(poff, ev, st.windows["1m"].watermark)
                continue
            self._learn(ev)
        st.last_event_wall = now_ms()
        st.last_event_watermark = st.windows["1m"].watermark if "1m" in st.windows else 0
        for key, start in sorted(touched):  # provisional figures of the open minute (upserted)
            cur = st.windows["1m"].open.get(key, {}).get(start)
            if cur is not None:
                self._publish(out, key, "1m", start, cur, final=False)
        self._expire(out)

    def tick(self, now_ms: int, out: Emitter) -> None:
        st = self.state
        idle = now_ms - st.last_event_wall
        if st.last_event_wall and idle >= self.cfg.idle_close_ms:
            # no traversals for a while: let event time run on with the clock so windows close
            for ws in st.windows.values():
                ws.watermark = max(ws.watermark, st.last_event_watermark + idle)
            self._expire(out)

    def _learn(self, ev: TrafficTraversal) -> None:
        s = self.state.segs.setdefault(ev.key, SegStats())
        cfg = self.cfg
        half = cfg.flow_half_life_h * HOUR
        if s.weight_ts and ev.ts > s.weight_ts:
            s.weight *= 0.5 ** ((ev.ts - s.weight_ts) / half)
        s.weight += 1.0
        s.weight_ts = max(s.weight_ts, ev.ts)
        if china_hour(ev.ts) in self.offpeak:
            b = int(min(ev.length_m / ev.travel_s * 3.6, 200.0))
            s.hist[b] = s.hist.get(b, 0) + 1
            if sum(s.hist.values()) >= cfg.freeflow_min_samples:
                s.freeflow = lv.percentile_from_histogram(s.hist, cfg.freeflow_percentile)

    # -- windows ----------------------------------------------------------------------------------
    def _expire(self, out: Emitter) -> None:
        for name, win in self.win.items():
            ws = self.state.windows.get(name)
            if ws is None:
                continue
            for closed in sorted(win.expire(ws), key=lambda c: (c.start, c.key)):
                self._publish(out, closed.key, name, closed.start, closed.acc, final=True)

    def segment(self, key: str) -> Segment | None:
        return self.tn.segments.get(int(key)) if key.isdigit() else None

    def freeflow(self, key: str) -> tuple[float, str]:
        s = self.state.segs.get(key)
        if s is not None and s.freeflow > 0:
            return s.freeflow, "learned"
        seg = self.segment(key)
        return seg.fallback_freeflow if seg is not None else (30.0, "road_class")

    def level(self, key: str, index: float, speed: float) -> str:
        seg = self.segment(key)
        if self.levels.method == "speed_bands" and seg is not None:
            bands = self.levels.speed_bands.get(band_class(seg.road_class))
            if bands:
                return lv.level_from_speed(speed, bands)
        return lv.level_from_index(index, self.bands)

    def _publish(
        self, out: Emitter, key: str, window: str, start: int, acc: list[float], final: bool
    ) -> None:
        n, metres, seconds = int(acc[0]), acc[1], acc[2]
        sfx = "" if window == "1m" else "_" + window
        out.metric(f"traffic.segment.samples{sfx}", key, start, n)
        stats = self.state.segs.setdefault(key, SegStats())
        ff, _ = self.freeflow(key)
        figures = [float(start), float(n), math.nan, math.nan]
        if n >= self.min_samples[window] and seconds > 0:  # else "no data": nothing is guessed
            speed = lv.space_mean_speed_kmh(metres, seconds)
            index = lv.segment_index(speed, ff)
            figures[2:] = [speed, index]
            out.metric(f"traffic.segment.speed{sfx}", key, start, round(speed, 2))
            out.metric(f"traffic.segment.index{sfx}", key, start, round(index, 3))
            if final:
                self._to_areas(out, key, window, start, n, speed, ff, stats.weight)
                if window == "1m":
                    self._collapse(out, key, start, n, speed, ff, stats)
        stats.last["current" if not final else window] = figures
        if final and window == "1m":
            stats.last.pop("current", None)
        self._state(out, key, start, stats)

    def _figures(self, key: str, f: list[float]) -> dict[str, Any]:
        ok = not math.isnan(f[2])
        return {
            "window_start": int(f[0]),
            "samples": int(f[1]),
            "speed_kmh": round(f[2], 2) if ok else None,
            "index": round(f[3], 3) if ok else None,
            "level": self.level(key, f[3], f[2]) if ok else lv.NO_DATA,
        }

    def _state(self, out: Emitter, key: str, ts: int, stats: SegStats) -> None:
        """The segment's state: last closed 1-min and 5-min figures, the open minute so far; the
        map colours by ``level`` (last closed minute)."""
        seg = self.segment(key)
        ff, ff_source = self.freeflow(key)
        data: dict[str, Any] = {
            "segment": int(key) if key.isdigit() else key,
            "freeflow_kmh": round(ff, 1),
            "freeflow_source": ff_source,
        }
        if seg is not None:
            data.update(name=seg.name, road_class=seg.road_class, length_m=round(seg.length_m, 1))
        for w in ("1m", "5m", "current"):
            data[f"last_{w}" if w != "current" else w] = (
                self._figures(key, stats.last[w]) if w in stats.last else None
            )
        last = data["last_1m"] or {}
        data.update(
            level=last.get("level", lv.NO_DATA),
            speed_kmh=last.get("speed_kmh"),
            index=last.get("index"),
            samples=last.get("samples", 0),
            level_5m=(data["last_5m"] or {}).get("level", lv.NO_DATA),
        )
        out.state(SEGMENT_SCENE, key, ts, data)

    def _to_areas(
        self, out: Emitter, key: str, window: str, start: int, n: int, v: float, ff: float, weight: float
    ) -> None:
        seg = self.segment(key)
        if seg is None:
            return
        for area in self.tn.areas_of(seg.id):
            out.event(
                TrafficSegmentWindow(
                    key=area,
                    ts=start,
                    source="traffic.segments",
                    window=window,  # type: ignore[arg-type]
                    segment=seg.id,
                    length_m=round(seg.length_m, 2),
                    speed_kmh=round(v, 3),
                    freeflow_kmh=round(ff, 3),
                    samples=n,
                    weight=round(max(weight, 1.0), 4),
                )
            )

    def _collapse(self, out: Emitter, key: str, start: int, n: int, v: float, ff: float, s: SegStats) -> None:
        cfg = self.cfg
        base = sum(s.baseline) / len(s.baseline) if s.baseline else 0.0
        active = (
            len(s.baseline) >= cfg.collapse_min_baseline and v < cfg.collapse_ratio * base and v < 0.5 * ff
        )
        seg = self.segment(key)
        place = f"{seg.name or '无名路'} (路段 {key})" if seg else f"路段 {key}"
        out.signal(
            SPEED_COLLAPSE,
            key,
            start + MINUTE,
            active,
            message=f"{place} {v:.1f} km/h, 此前 {base:.1f} km/h, {n} 辆次, "
            f"窗口 {_hhmm(start)}-{_hhmm(start + MINUTE)} · "
            f"speed {v:.1f} km/h vs {base:.1f} km/h before",
            data={
                "segment": int(key) if key.isdigit() else key,
                "name": seg.name if seg else "",
                "speed_kmh": round(v, 2),
                "baseline_kmh": round(base, 2),
                "freeflow_kmh": round(ff, 1),
                "samples": n,
                "window_start": start,
                "window_end": start + MINUTE,
            },
        )
        if not active:  # frozen while collapsed, so a long incident stays open
            s.baseline.append(v)
            del s.baseline[: -cfg.collapse_baseline_minutes]


def _hhmm(ts_ms: int) -> str:
    m = (ts_ms // MINUTE + 8 * 60) % (24 * 60)
    return f"{m // 60:02d}:{m % 60:02d}"

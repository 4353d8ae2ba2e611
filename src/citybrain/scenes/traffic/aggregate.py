"""Stage 3: per area (city, district, hotspot, named road), the Didi-weighted delay index.

Segment windows arrive keyed by area, so one partition sees all of an area's segments. A minute's
figure is recomputed (and its metric upserted) whenever another segment of it arrives; it becomes
final ``finalize_after_ms`` after the minute ended, when the slowest stage-2 partition has closed
its windows too. Final minutes feed the history, the trend and the hotspot alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from citybrain.scenes.traffic import levels as lv
from citybrain.scenes.traffic.events import TrafficSegmentWindow
from citybrain.scenes.traffic.roadnet import TrafficNetwork
from citybrain.scenes.traffic.rules import HOTSPOT_CONGESTED
from citybrain.scenes.traffic.segments import MINUTE, SIZES, _hhmm
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.sdk import Emitter, Processor, advance_watermark, now_ms

AREA_SCENE = "traffic.area"


class AreaStats(msgspec.Struct, array_like=True):
    history: list[list[float]] = msgspec.field(default_factory=list)  # [start, index or -1]
    streak: int = 0  # consecutive final minutes congested or worse
    streak_start: int = 0


class AreaState(msgspec.Struct):
    # area -> "window:start" -> segment -> [weight, length, speed, freeflow, samples]
    open: dict[str, dict[str, dict[str, list[float]]]] = msgspec.field(default_factory=dict)
    stats: dict[str, AreaStats] = msgspec.field(default_factory=dict)
    watermark: int = 0
    held: list[int] = msgspec.field(default_factory=list)  # see core.windows.advance_watermark
    last_event_wall: int = 0
    last_event_watermark: int = 0


class AreaIndex(Processor[AreaState, TrafficSegmentWindow]):
    name = "traffic.areas"
    kinds = (TrafficSegmentWindow,)
    state_type = AreaState

    def __init__(self, partition: int, settings: TrafficSettings, roads: TrafficNetwork) -> None:
        super().__init__(partition, settings)
        self.cfg = settings.area
        self.bands = settings.levels.index_bands()
        self.tn = roads

    def process(self, batch: Sequence[tuple[int, TrafficSegmentWindow]], out: Emitter) -> None:
        st = self.state
        touched: set[tuple[str, str]] = set()
        for poff, ev in batch:
            wkey = f"{ev.window}:{ev.ts}"
            if ev.ts + SIZES[ev.window] + self.cfg.finalize_after_ms <= st.watermark:
                out.late(poff, ev, st.watermark)  # its minute was already final
                continue
            st.watermark = advance_watermark(st.held, ev.ts, st.watermark)
            rows = st.open.setdefault(ev.key, {}).setdefault(wkey, {})
            rows[str(ev.segment)] = [ev.weight, ev.length_m, ev.speed_kmh, ev.freeflow_kmh, float(ev.samples)]
            touched.add((ev.key, wkey))
        st.last_event_wall, st.last_event_watermark = now_ms(), st.watermark
        for area, wkey in sorted(touched):
            self._publish(out, area, wkey, st.open[area][wkey], final=False)
        self._finalize(out)

    def tick(self, now_ms: int, out: Emitter) -> None:
        st = self.state
        idle = now_ms - st.last_event_wall
        if st.last_event_wall and idle >= self.cfg.finalize_after_ms:
            st.watermark = max(st.watermark, st.last_event_watermark + idle)
            self._finalize(out)

    def _finalize(self, out: Emitter) -> None:
        st = self.state
        done: list[tuple[int, str, str]] = []
        for area, per in st.open.items():
            for wkey in per:
                window, start = wkey.split(":")
                if int(start) + SIZES[window] + self.cfg.finalize_after_ms <= st.watermark:
                    done.append((int(start), area, wkey))
        for _, area, wkey in sorted(done):
            rows = st.open[area].pop(wkey)
            if not st.open[area]:
                del st.open[area]
            self._publish(out, area, wkey, rows, final=True)

    def figure(self, area: str, rows: dict[str, list[float]]) -> dict[str, Any]:
        """Index, speed, level and coverage of an area from its segments' rows; "no data" below
        the minimum segments or (for hotspots) the minimum share of its length."""
        a = self.tn.areas.get(area)
        covered = sum(r[1] for r in rows.values())
        coverage = covered / a.length_m if a is not None and a.length_m > 0 else 0.0
        out: dict[str, Any] = {
            "segments": len(rows),
            "coverage": round(coverage, 3),
            "samples": int(sum(r[4] for r in rows.values())),
        }
        enough = len(rows) >= self.cfg.min_segments
        if a is not None and a.kind == "hotspot":
            enough = enough and coverage >= self.cfg.hotspot_min_coverage
        if not enough:
            return {**out, "index": None, "speed_kmh": None, "level": lv.NO_DATA}
        index, speed = lv.area_index((r[0], r[1], r[2], r[3]) for r in rows.values())
        level = lv.level_from_index(index, self.bands)
        return {**out, "index": round(index, 3), "speed_kmh": round(speed, 2), "level": level}

    def _publish(self, out: Emitter, area: str, wkey: str, rows: dict[str, list[float]], final: bool) -> None:
        window, start_s = wkey.split(":")
        start = int(start_s)
        a = self.tn.areas.get(area)
        kind = a.kind if a is not None else area.split(":", 1)[0]
        fig = self.figure(area, rows)
        sfx = "" if window == "1m" else "_" + window
        if fig["index"] is not None:
            out.metric(f"traffic.{kind}.index{sfx}", area, start, fig["index"])
            out.metric(f"traffic.{kind}.speed{sfx}", area, start, fig["speed_kmh"])
        if window != "1m":
            return
        stats = self.state.stats.setdefault(area, AreaStats())
        if final:
            stats.history.append([float(start), fig["index"] if fig["index"] is not None else -1.0])
            del stats.history[: -self.cfg.history_minutes]
            if kind == "hotspot":
                self._hotspot_alert(out, area, start, fig, stats)
        out.state(
            AREA_SCENE,
            area,
            start,
            {
                "kind": kind,
                "id": a.id if a else area,
                "name": a.name if a else {"zh-CN": area, "en": area},
                "window_start": start,
                "final": final,
                **fig,
                "trend": self.trend(stats, fig),
                "history": [[int(t), None if v < 0 else v] for t, v in stats.history[-30:]],
            },
        )

    def trend(self, stats: AreaStats, fig: dict[str, Any]) -> str:
        """rising / falling / steady against the final minute ``trend_minutes`` earlier."""
        if fig["index"] is None or len(stats.history) <= self.cfg.trend_minutes:
            return "unknown"
        then = stats.history[-1 - self.cfg.trend_minutes][1]
        if then < 0:
            return "unknown"
        delta = fig["index"] - then
        if delta > self.cfg.trend_delta:
            return "rising"
        if delta < -self.cfg.trend_delta:
            return "falling"
        return "steady"

    def _hotspot_alert(self, out: Emitter, area: str, start: int, fig: dict[str, Any], s: AreaStats) -> None:
        level = fig["level"]
        if level == lv.NO_DATA:
            return
        if lv.LEVEL_RANK[level] >= lv.LEVEL_RANK["congested"]:
            if s.streak == 0:
                s.streak_start = start
            s.streak += 1
        else:
            s.streak = 0
        n = self.cfg.congested_minutes
        a = self.tn.areas.get(area)
        name = a.name.get("zh-CN", area) if a else area
        end = start + MINUTE
        out.signal(
            HOTSPOT_CONGESTED,
            area,
            end,
            s.streak >= n,
            severity="major" if level == "severe" else "warning",
            message=f"{name} 拥堵延时指数 {fig['index']:.2f} ({lv.LEVEL_NAMES[level]['zh-CN']}), "
            f"已持续 {s.streak} 分钟 ({_hhmm(s.streak_start)}-{_hhmm(end)}) · index {fig['index']:.2f} "
            f"{level} for {s.streak} min",
            data={
                "hotspot": area,
                "name": a.name if a else area,
                "index": fig["index"],
                "level": level,
                "minutes": s.streak,
                "threshold_minutes": n,
                "window_start": s.streak_start,
                "window_end": end,
                "speed_kmh": fig["speed_kmh"],
                "coverage": fig["coverage"],
            },
        )

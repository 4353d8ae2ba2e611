"""Probe sources and the silence alert. Stage 1 reports each source's deliveries as
``traffic.source_seen`` events keyed by source, so one partition knows a source's last delivery
whichever partitions its vehicles fall in; ``tick`` compares that with the wall clock."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain.scenes.traffic.events import TrafficSourceSeen
from citybrain.scenes.traffic.roadnet import TrafficNetwork
from citybrain.scenes.traffic.rules import SOURCE_SILENT
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.sdk import Emitter, Processor

SOURCE_SCENE = "traffic.source"


class SourceInfo(msgspec.Struct, array_like=True):
    last_ts: int = 0
    last_ingest: int = 0
    positions: int = 0


class SourceState(msgspec.Struct):
    sources: dict[str, SourceInfo] = msgspec.field(default_factory=dict)


class SourceWatch(Processor[SourceState, TrafficSourceSeen]):
    name = "traffic.sources"
    kinds = (TrafficSourceSeen,)
    state_type = SourceState

    def __init__(self, partition: int, settings: TrafficSettings, _roads: TrafficNetwork) -> None:
        super().__init__(partition, settings)
        self.silent_ms = int(settings.sources.silent_after_s * 1000)

    def process(self, batch: Sequence[tuple[int, TrafficSourceSeen]], out: Emitter) -> None:
        touched: set[str] = set()
        for _, ev in batch:
            s = self.state.sources.setdefault(ev.key, SourceInfo())
            s.last_ts = max(s.last_ts, ev.ts)
            s.last_ingest = max(s.last_ingest, ev.last_ingest_ts)
            s.positions += ev.positions
            touched.add(ev.key)
        for key in sorted(touched):
            s = self.state.sources[key]
            out.signal(SOURCE_SILENT, key, s.last_ingest, False, message="数据恢复 · deliveries resumed")
            out.state(
                SOURCE_SCENE,
                key,
                s.last_ts,
                {
                    "source": key,
                    "last_ts": s.last_ts,
                    "last_ingest_ts": s.last_ingest,
                    "positions": s.positions,
                    "silent": False,
                },
            )

    def tick(self, now_ms: int, out: Emitter) -> None:
        for key, s in self.state.sources.items():
            quiet = now_ms - s.last_ingest
            if quiet < self.silent_ms:
                continue
            out.signal(
                SOURCE_SILENT,
                key,
                now_ms,
                True,
                message=f"数据源 {key} 已 {quiet / 1000:.0f} 秒无数据 "
                f"(阈值 {self.silent_ms / 1000:.0f} 秒) · "
                f"source {key} silent for {quiet / 1000:.0f} s",
                data={
                    "source": key,
                    "silent_s": round(quiet / 1000),
                    "threshold_s": self.silent_ms / 1000,
                    "last_ingest_ts": s.last_ingest,
                    "last_ts": s.last_ts,
                },
            )

"""Stage 1: per vehicle, map-match a sliding window of recent points and emit segment traversals.

Positions are keyed by vehicle, so one partition sees each vehicle's points in order. For every
vehicle with new points in a batch, the last ``window_points`` points are matched again (the HMM
revises its view of older points as newer ones arrive; re-matching a short window is what makes
it online) and all vehicles of the batch are matched in one ``match_many`` call. Segments the
window fully brackets become ``traffic.traversal`` events keyed by segment, published back into
the bus for stage 2; ``last_exit`` per vehicle makes sure a traversal is emitted once.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain.scenes.traffic.events import TrafficPosition, TrafficSourceSeen, TrafficTraversal, vehicle_type
from citybrain.scenes.traffic.roadnet import TrafficNetwork
from citybrain.scenes.traffic.settings import TrafficSettings
from citybrain.scenes.traffic.traversals import crossings
from citybrain.sdk import Emitter, Processor, advance_watermark

VEHICLE_SCENE = "traffic.vehicle"
STALE_MS = 30 * 60_000  # a vehicle silent this long (event time) is forgotten
SWEEP_EVERY_MS = 5 * 60_000


class Track(msgspec.Struct, array_like=True):
    t: list[int]
    lon: list[float]
    lat: list[float]
    vehicle_type: str = "other"
    last_exit: int = 0  # exit time of the last traversal emitted (ms)
    last_state: int = 0  # event time of the last vehicle state emitted


class SourceMark(msgspec.Struct, array_like=True):
    pending: int = 0
    last_ts: int = 0
    last_ingest: int = 0
    emitted_ingest: int = 0


class MatchState(msgspec.Struct):
    tracks: dict[str, Track] = msgspec.field(default_factory=dict)
    sources: dict[str, SourceMark] = msgspec.field(default_factory=dict)
    watermark: int = 0
    held: list[int] = msgspec.field(default_factory=list)  # see core.windows.advance_watermark
    swept: int = 0
    traversals: int = 0
    dropped: int = 0  # out-of-order or duplicate fixes of one vehicle


def source_key(ev: TrafficPosition) -> str:
    return f"{ev.source or 'unknown'}/{ev.vehicle_type}"


class VehicleMatcher(Processor[MatchState, TrafficPosition]):
    name = "traffic.match"
    kinds = (TrafficPosition,)
    state_type = MatchState

    def __init__(self, partition: int, settings: TrafficSettings, roads: TrafficNetwork) -> None:
        super().__init__(partition, settings)
        self.cfg = settings.matching
        self.tn = roads
        net = self.tn.net
        self._length = {int(eid): float(net.length[i]) for i, eid in enumerate(net.edge_ids.tolist())}

    def process(self, batch: Sequence[tuple[int, TrafficPosition]], out: Emitter) -> None:
        st, cfg = self.state, self.cfg
        touched: dict[str, TrafficPosition] = {}
        for _, ev in batch:
            self._seen(ev)
            if not ev.live:  # back-dated reissue: stored in the log, never mixed into live speeds
                continue
            st.watermark = advance_watermark(st.held, ev.ts, st.watermark)
            tr = st.tracks.get(ev.key)
            if tr is None:
                tr = st.tracks[ev.key] = Track([], [], [], ev.vehicle_type)
            if tr.t and ev.ts <= tr.t[-1]:
                st.dropped += 1
                continue
            if tr.t and ev.ts - tr.t[-1] > cfg.max_gap_s * 1000:
                tr.t, tr.lon, tr.lat = [], [], []  # a new trip: do not route across the silence
            tr.t.append(ev.ts)
            tr.lon.append(ev.lon)
            tr.lat.append(ev.lat)
            tr.vehicle_type = ev.vehicle_type
            if len(tr.t) > cfg.window_points:
                del tr.t[0], tr.lon[0], tr.lat[0]
            touched[ev.key] = ev
        self._match([k for k in touched if len(st.tracks[k].t) >= 2], out)
        for key, ev in touched.items():
            tr = st.tracks[key]
            if ev.ts - tr.last_state >= cfg.vehicle_state_every_ms:
                tr.last_state = ev.ts
                out.state(
                    VEHICLE_SCENE,
                    key,
                    ev.ts,
                    {
                        "lon": ev.lon,
                        "lat": ev.lat,
                        "speed_kmh": ev.speed_kmh,
                        "heading": ev.heading,
                        "vehicle_type": ev.vehicle_type,
                        "source": ev.source,
                    },
                )
        self._emit_sources(out)
        if st.watermark - st.swept >= SWEEP_EVERY_MS:
            st.swept = st.watermark
            for key in [k for k, tr in st.tracks.items() if tr.t and tr.t[-1] < st.watermark - STALE_MS]:
                del st.tracks[key]

    def _seen(self, ev: TrafficPosition) -> None:
        mark = self.state.sources.setdefault(source_key(ev), SourceMark())
        mark.pending += 1
        mark.last_ts = max(mark.last_ts, ev.ts)
        mark.last_ingest = max(mark.last_ingest, ev.ingest_ts)

    def _emit_sources(self, out: Emitter) -> None:
        # ingest time (stored with the event) rather than the clock: a replay derives the same events
        for key, mark in self.state.sources.items():
            if mark.pending and mark.last_ingest - mark.emitted_ingest >= self.cfg.source_seen_every_ms:
                out.event(
                    TrafficSourceSeen(
                        key=key,
                        ts=mark.last_ts,
                        source=f"traffic.match/{self.partition}",
                        positions=mark.pending,
                        last_ingest_ts=mark.last_ingest,
                    )
                )
                mark.pending, mark.emitted_ingest = 0, mark.last_ingest

    def _match(self, keys: list[str], out: Emitter) -> None:
        if not keys:
            return
        st, cfg = self.state, self.cfg
        traces = [
            [(t / 1000.0, lo, la) for t, lo, la in zip(tr.t, tr.lon, tr.lat, strict=True)]
            for tr in (st.tracks[k] for k in keys)
        ]
        results = self.tn.matcher.match_many(traces)
        for key, res in zip(keys, results, strict=True):
            tr = st.tracks[key]
            found = crossings(
                res,
                tr.t,
                self._length.__getitem__,
                confirm_points=cfg.confirm_points,
                max_gap_ms=cfg.max_gap_s * 1000,
            )
            for c in found:
                # re-matching the window finds earlier crossings again: only newer ones count
                if c.exit_ms <= tr.last_exit or c.entry_ms < tr.last_exit - 1000:
                    continue
                if c.travel_s < cfg.min_travel_s or c.speed_kmh > cfg.max_speed_kmh or c.length_m < 1.0:
                    continue
                tr.last_exit = c.exit_ms
                st.traversals += 1
                out.event(
                    TrafficTraversal(
                        key=str(c.edge_id),
                        ts=c.exit_ms,
                        source="traffic.match",
                        vehicle=key,
                        vehicle_type=vehicle_type(tr.vehicle_type),
                        entry_ts=c.entry_ms,
                        length_m=round(c.length_m, 2),
                        travel_s=round(c.travel_s, 3),
                    )
                )

"""The machine processor: tags -> states, counters, OEE elements per shift, hourly output, reject
reasons, process-value checks; and the alerts. Keyed by machine (``<site>/<machine>``), so a
machine's readings arrive in order in one partition.

What it writes, so the API can recompute any aggregate from the store (a line, a day, a plant):

* ``factory.shift.<element>`` (key machine, ts shift start): the OEE time elements and counts;
* ``factory.oee|availability|performance|quality`` (key machine, ts shift start);
* ``factory.output_hour|good_hour|reject_hour`` (key machine, ts hour start);
* ``factory.rejects`` (key ``machine|reason``, ts shift start);
* ``factory.pv`` (key ``machine|tag``, ts minute start): the last value of each process tag;
* state ``factory``/machine: the live picture of the machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from citybrain.scenes.factory import machine as mc
from citybrain.scenes.factory.anomaly import explain, judge
from citybrain.scenes.factory.events import FactoryLink, FactoryReject, FactoryTags
from citybrain.scenes.factory.oee import ELEMENTS, Elements, counts, machine_oee
from citybrain.scenes.factory.plant import MachineRef
from citybrain.scenes.factory.rules import ANOMALY, DOWN, OFFLINE, QUALITY, RANGE, SILENT
from citybrain.scenes.factory.settings import FactorySettings
from citybrain.scenes.factory.shifts import shift_at
from citybrain.scenes.factory.world import FactoryWorld
from citybrain.sdk import Emitter, Processor

MINUTE = 60_000
COUNTER_ROLES = ("cycle", "good", "reject")
METRICS = {
    **{f"factory.shift.{f}": f"OEE element {f} of a machine in a shift (ts: shift start)" for f in ELEMENTS},
    **{f"factory.{r}": f"{r} of a machine in a shift, ISO 22400-2 (ts: shift start)"
       for r in ("oee", "availability", "performance", "quality")},
    "factory.output_hour": "pieces made by a machine in an hour",
    "factory.good_hour": "good pieces made by a machine in an hour",
    "factory.reject_hour": "rejects of a machine in an hour",
    "factory.rejects": "rejects of a machine by reason in a shift (key machine|reason)",
    "factory.pv": "last value of a process tag in a minute (key machine|tag)",
}  # fmt: skip


class FactoryState(msgspec.Struct):
    machines: dict[str, mc.MachineState] = msgspec.field(default_factory=dict)
    unknown: dict[str, int] = msgspec.field(default_factory=dict)  # keys not in the plant model


def roles(ref: MachineRef) -> set[str]:
    return {t.role for t in ref.machine.tags.values()}


def _state_text(v: float | bool | str) -> str:
    if isinstance(v, bool):
        return "running" if v else "stopped"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


MachineEvent = FactoryTags | FactoryLink | FactoryReject


class FactoryMachines(Processor[FactoryState, MachineEvent]):
    name = "factory.machines"
    kinds = (FactoryTags, FactoryLink, FactoryReject)
    state_type = FactoryState

    config: FactorySettings

    def __init__(self, partition: int, settings: FactorySettings, world: FactoryWorld) -> None:
        super().__init__(partition, settings)
        self.book = world.book  # shared with the API: an edit applies at once

    def process(self, batch: Sequence[tuple[int, MachineEvent]], out: Emitter) -> None:
        book = self.book
        touched: dict[str, mc.Changes] = {}
        for _, ev in batch:
            ref = book.machine(ev.key)
            if ref is None:
                self.state.unknown[ev.key] = self.state.unknown.get(ev.key, 0) + 1
                continue
            st = self.state.machines.get(ev.key)
            if st is None:
                st = self.state.machines[ev.key] = mc.MachineState()
            ch = touched.setdefault(ev.key, mc.Changes())
            if isinstance(ev, FactoryTags):
                self._tags(st, ref, ev, ch, out)
            elif isinstance(ev, FactoryLink):
                mc.advance(st, ref, ev.ts, ch)
                st.online = ev.online
                ch.state_changed = True
                out.signal(
                    OFFLINE,
                    ev.key,
                    ev.ts,
                    not ev.online,
                    message=f"{ref.machine.name or ref.key} 离线 · offline: {ev.reason}",
                    data={"machine": ev.key, "reason": ev.reason},
                )
            else:
                shift = mc.add_rejects(st, ref, ev.reason, ev.count, ev.ts)
                if shift is not None:
                    n = st.rejects[shift][ev.reason]
                    out.metric("factory.rejects", f"{ev.key}|{ev.reason}", st.shift_start[shift], n)
        for key, ch in touched.items():
            ref = book.machine(key)
            if ref is not None:
                self._emit(key, ref, self.state.machines[key], ch, out)

    # -- one reading ----------------------------------------------------------------------------
    def _tags(
        self, st: mc.MachineState, ref: MachineRef, ev: FactoryTags, ch: mc.Changes, out: Emitter
    ) -> None:
        seen = ev.ingest_ts or ev.ts
        st.seen_ms = max(st.seen_ms, seen)
        if ev.source.startswith("spb:"):
            st.rbe = True
        mc.advance(st, ref, ev.ts, ch)
        tags = ref.machine.tags
        for tag, v in ev.values.items():
            st.values[tag] = v
            st.tag_seen[tag] = seen
            spec = tags.get(tag)
            if spec is None:
                continue
            if spec.role == "state":
                mc.set_state(st, ref, _state_text(v), ev.ts, ch)
            elif spec.role in COUNTER_ROLES and isinstance(v, float | int) and not isinstance(v, bool):
                mc.count(st, ref, tag, spec.role, float(v), ev.ts, ch, birth=ev.birth)
            elif spec.role == "process" and isinstance(v, float | int) and not isinstance(v, bool):
                ch.pv[tag] = float(v)
                self._check_pv(st, ref, tag, float(v), ev.ts, out)

    def _check_pv(
        self, st: mc.MachineState, ref: MachineRef, tag: str, x: float, ts: int, out: Emitter
    ) -> None:
        spec = ref.machine.tags[tag]
        has_state = any(t.role == "state" for t in ref.machine.tags.values())
        if has_state and st.cat != "running":  # a stopped ironer cools down: not a process fault
            return
        dk = f"{ref.key}|{tag}"
        unit = f" {spec.unit}" if spec.unit else ""
        if spec.lo is not None or spec.hi is not None:
            low = spec.lo is not None and x < spec.lo
            high = spec.hi is not None and x > spec.hi
            out.signal(
                RANGE,
                dk,
                ts,
                low or high,
                message=f"{ref.machine.name or ref.key} {tag} = {x:.2f}{unit} "
                f"(范围 range {spec.lo}..{spec.hi})",
                data={"machine": ref.key, "tag": tag, "value": x, "lo": spec.lo, "hi": spec.hi},
            )
        if spec.anomaly:
            th = ref.site.thresholds
            d = st.detectors.get(tag)
            if d is None:
                d = st.detectors[tag] = mc.Detector()
            bad = judge(d, x, ts, warmup=th.anomaly_warmup, z_limit=th.anomaly_z, alpha=th.anomaly_alpha)
            out.signal(
                ANOMALY,
                dk,
                ts,
                bad,
                message=explain(tag, spec.unit, d, x),
                data={
                    "machine": ref.key,
                    "tag": tag,
                    "value": x,
                    "level": d.level,
                    "median": d.median,
                    "sigma": d.sigma,
                    "z": d.z,
                    "readings": d.over,
                    "since": d.since,
                    "reference_ts": d.ref_ts,
                    "method": "robust z-score of EWMA vs reference median/MAD",
                },
            )

    # -- outputs --------------------------------------------------------------------------------
    def _emit(self, key: str, ref: MachineRef, st: mc.MachineState, ch: mc.Changes, out: Emitter) -> None:
        rl = roles(ref)
        pri = ref.machine.ideal_cycle_s
        for shift in ch.shifts:
            e, start = st.shifts.get(shift), st.shift_start.get(shift)
            if e is None or start is None:
                continue
            for f in ELEMENTS:
                out.metric(f"factory.shift.{f}", key, start, getattr(e, f))
            so = machine_oee(e, pri, rl)
            for name, v in (
                ("oee", so.oee),
                ("availability", so.availability),
                ("performance", so.performance),
                ("quality", so.quality),
            ):
                if v is not None:
                    out.metric(f"factory.{name}", key, start, v)
        for hour in ch.hours:
            cyc, good, rej = st.hours[hour]
            c = counts(Elements(cycles=cyc, good=good, reject=rej), rl)
            out.metric("factory.output_hour", key, hour, c.produced)
            out.metric("factory.good_hour", key, hour, c.good)
            out.metric("factory.reject_hour", key, hour, c.reject)
        for tag, v in ch.pv.items():
            out.metric("factory.pv", f"{key}|{tag}", st.last_ts - st.last_ts % MINUTE, v)
        cur = shift_at(ref.site, st.last_ts) if st.last_ts else None
        live = st.shifts.get(cur[0]) if cur else None
        now_oee = machine_oee(live, pri, rl) if live is not None else None
        o = now_oee
        if o is not None and cur is not None:
            th = ref.site.thresholds
            fpy = o.good / o.produced if o.produced else 1.0
            out.signal(
                QUALITY,
                key,
                st.last_ts,
                o.produced >= th.quality_min_count and fpy < th.quality_min,
                message=f"{ref.machine.name or key} 一次合格率 first-pass yield {fpy:.1%} < "
                f"{th.quality_min:.0%} ({o.good:.0f}/{o.produced:.0f}, {cur[0]})",
                data={
                    "machine": key,
                    "fpy": fpy,
                    "good": o.good,
                    "produced": o.produced,
                    "threshold": th.quality_min,
                    "shift": cur[0],
                },
            )
        if st.cat != "stopped":
            out.signal(DOWN, key, st.last_ts, False)
        mc.prune(st, st.last_ts)
        hour = st.last_ts - st.last_ts % mc.HOUR
        units = {t: s.unit for t, s in ref.machine.tags.items() if s.unit}
        out.state(
            "factory",
            key,
            st.last_ts,
            {
                "site": ref.site.id,
                "workshop": ref.workshop.id,
                "line": ref.line.id,
                "machine": ref.machine.id,
                "name": ref.machine.name,
                "station": ref.machine.station,
                "state": st.raw_state,
                "category": st.cat or "unknown",
                "since": st.cat_since,
                "online": st.online,
                "shift": cur[0] if cur else None,
                "oee": now_oee.as_dict() if now_oee else None,
                "output_this_hour": counts(
                    Elements(*([0.0] * 6), *st.hours.get(hour, [0.0] * 3)), rl
                ).produced,
                "values": st.values,
                "units": units,
                "counter_events": st.counter_events,
                "off_shift_pieces": st.off_shift_pieces,
                "last_seen_ms": st.seen_ms,
            },
        )

    # -- wall clock -----------------------------------------------------------------------------
    def tick(self, now_ms: int, out: Emitter) -> None:
        book = self.book
        for key, st in self.state.machines.items():
            ref = book.machine(key)
            if ref is None or st.seen_ms == 0:
                continue
            th = ref.site.thresholds
            name = ref.machine.name or key
            if st.cat == "stopped" and st.stop_since:
                # event time of the stop so far plus the wall time since the last reading: right for
                # live data and for a replayed past alike
                mins = ((st.last_ts - st.stop_since) + max(now_ms - st.seen_ms, 0)) / MINUTE
                out.signal(
                    DOWN,
                    key,
                    now_ms,
                    mins >= th.down_alert_min,
                    message=f"{name} 停机 {mins:.0f} 分钟 ({st.raw_state}) · stopped for {mins:.0f} min",
                    data={"machine": key, "state": st.raw_state, "minutes": mins, "since": st.stop_since},
                )
            silent_s = (now_ms - st.seen_ms) / 1000
            out.signal(
                SILENT,
                key,
                now_ms,
                silent_s > th.silent_s,
                message=f"{name} 无数据 {silent_s:.0f} s · no data for {silent_s:.0f} s",
                data={"machine": key, "silent_s": silent_s},
            )
            for tag, spec in ref.machine.tags.items():
                if spec.expect_every_s > 0 and tag in st.tag_seen:
                    quiet = (now_ms - st.tag_seen[tag]) / 1000
                    out.signal(
                        SILENT,
                        f"{key}|{tag}",
                        now_ms,
                        quiet > spec.expect_every_s,
                        message=f"{name} {tag} 无更新 {quiet:.0f} s · tag silent for {quiet:.0f} s",
                        data={"machine": key, "tag": tag, "silent_s": quiet},
                    )

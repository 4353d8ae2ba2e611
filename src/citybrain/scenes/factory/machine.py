"""One machine's running account: time in each state per shift instance, counter increments,
hourly output, reject reasons and process-value detectors. Pure logic on event time; the
processor turns what changed into metrics, states and alerts.

How time is attributed: a reading at ``ts`` closes the interval since the previous reading, which
is credited to the state known during it (a state holds until the next reading says otherwise).
For periodic sources it holds at most ``max_gap_s``; the rest of a longer gap is "no data". A
Sparkplug source reports by exception, so while its node is online a value holds however long it
stays unchanged; once it is offline (DEATH) the time is "no data" until it is back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from citybrain.scenes.factory.anomaly import Detector

__all__ = ["Changes", "Detector", "MachineState"]
from citybrain.scenes.factory.oee import Elements, counter_cap, counter_delta
from citybrain.scenes.factory.plant import Category, MachineRef
from citybrain.scenes.factory.shifts import DAY, segments, shift_at

HOUR = 3_600_000
RUNNING = {"running", "run", "1", "true", "producing", "auto"}
PLANNED = {"planned", "break", "maintenance", "planned_stop", "cleaning"}
KEEP_MS = 3 * DAY


class MachineState(msgspec.Struct):
    last_ts: int = 0
    seen_ms: int = 0  # wall-clock (ingest) time of the last reading: silence is judged on it
    raw_state: str = ""
    cat: str = ""  # running | stopped | planned; "" before the first state reading
    cat_since: int = 0
    stop_since: int = 0
    stop_s: float = 0.0  # unplanned stop seconds of the ongoing stop
    pending: dict[str, float] = msgspec.field(default_factory=dict)  # shift -> unclassified stop s
    counters: dict[str, float] = msgspec.field(default_factory=dict)
    shifts: dict[str, Elements] = msgspec.field(default_factory=dict)
    shift_start: dict[str, int] = msgspec.field(default_factory=dict)
    hours: dict[int, list[float]] = msgspec.field(default_factory=dict)  # hour -> [cycles, good, reject]
    rejects: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)  # shift -> reason -> n
    values: dict[str, int | float | bool | str] = msgspec.field(default_factory=dict)
    tag_seen: dict[str, int] = msgspec.field(default_factory=dict)  # tag -> wall-clock ms
    detectors: dict[str, Detector] = msgspec.field(default_factory=dict)
    online: bool = True
    rbe: bool = False
    off_shift_pieces: float = 0.0
    counter_events: dict[str, int] = msgspec.field(default_factory=dict)  # reset, rollover, jump, birth
    counter_ts: dict[str, int] = msgspec.field(default_factory=dict)  # tag -> event time of its reading


@dataclass
class Changes:
    shifts: set[str] = field(default_factory=set)
    hours: set[int] = field(default_factory=set)
    pv: dict[str, float] = field(default_factory=dict)  # process tag -> value
    state_changed: bool = False


def category(ref: MachineRef, raw: str) -> Category:
    mapped = ref.machine.states.get(raw)
    if mapped is not None:
        return mapped
    low = raw.lower()
    if low in RUNNING:
        return "running"
    return "planned" if low in PLANNED else "stopped"


def _bucket(st: MachineState, key: str, start: int) -> Elements:
    e = st.shifts.get(key)
    if e is None:
        e = st.shifts[key] = Elements()
        st.shift_start[key] = start
    return e


def _settle_stop(st: MachineState, to_minor: bool) -> None:
    """The ongoing stop is classified: its pending seconds become minor or unplanned stop time."""
    for key, secs in st.pending.items():
        e = st.shifts.get(key)
        if e is None:
            continue
        e.pending_s -= secs
        if to_minor:
            e.minor_s += secs
        else:
            e.down_s += secs
    st.pending.clear()


def _credit(st: MachineState, ref: MachineRef, a: int, b: int, cat: str, ch: Changes) -> None:
    minor_s = ref.site.thresholds.minor_stop_s
    for seg in segments(ref.site, ref.line.id, a, b):
        if seg.shift is None:
            continue
        e = _bucket(st, seg.shift, seg.shift_start)
        ch.shifts.add(seg.shift)
        secs = (seg.end - seg.start) / 1000
        if cat == "nodata":
            e.nodata_s += secs
        elif seg.planned or cat == "planned":
            e.planned_s += secs
        elif cat == "running":
            e.run_s += secs
        else:  # stopped (or unknown state): an unplanned stop, minor until it grows long
            st.stop_s += secs
            if st.stop_s >= minor_s:
                _settle_stop(st, to_minor=False)
                e.down_s += secs
            else:
                st.pending[seg.shift] = st.pending.get(seg.shift, 0.0) + secs
                e.pending_s += secs


def advance(st: MachineState, ref: MachineRef, ts: int, ch: Changes) -> None:
    """Credit the time since the previous reading up to ``ts``."""
    if st.last_ts == 0 or ts <= st.last_ts:
        st.last_ts = max(st.last_ts, ts)
        return
    t0 = st.last_ts
    has_state = any(t.role == "state" for t in ref.machine.tags.values())
    cat = (st.cat or "nodata") if has_state else "running"
    if not st.online:
        held = t0
    elif st.rbe:
        held = ts
    else:
        held = min(ts, t0 + int(ref.site.thresholds.max_gap_s * 1000))
    _credit(st, ref, t0, held, cat, ch)
    _credit(st, ref, held, ts, "nodata", ch)
    st.last_ts = ts


def set_state(st: MachineState, ref: MachineRef, raw: str, ts: int, ch: Changes) -> None:
    cat = category(ref, raw)
    st.raw_state = raw
    if cat == st.cat:
        return
    if st.cat == "stopped":
        _settle_stop(st, to_minor=st.stop_s < ref.site.thresholds.minor_stop_s)
        st.stop_s, st.stop_since = 0.0, 0
    if cat == "stopped":
        st.stop_since, st.stop_s = ts, 0.0
    st.cat, st.cat_since = cat, ts
    ch.state_changed = True


def count(
    st: MachineState,
    ref: MachineRef,
    tag: str,
    role: str,
    value: float,
    ts: int,
    ch: Changes,
    birth: bool = False,
) -> None:
    """A reading of a monotonic counter. A Sparkplug BIRTH is a new baseline like the first
    reading (the edge node may have restarted with counters from anywhere); a drop or an
    impossible jump is one too (:func:`~citybrain.scenes.factory.oee.counter_delta`)."""
    spec = ref.machine.tags[tag]
    prev = st.counters.get(tag)
    if birth and prev is not None:
        delta, how = 0.0, "birth"
    else:
        cap = counter_cap(
            ts - st.counter_ts.get(tag, ts), ref.machine.ideal_cycle_s, ref.site.thresholds.max_rate_factor
        )
        delta, how = counter_delta(prev, value, spec.counter_max, cap)
    st.counters[tag] = value
    st.counter_ts[tag] = max(ts, st.counter_ts.get(tag, ts))
    if how not in ("ok", "baseline"):
        st.counter_events[how] = st.counter_events.get(how, 0) + 1
    if delta <= 0:
        return
    idx = {"cycle": 0, "good": 1, "reject": 2}[role]
    # the increment was made during (previous reading, ts]: a reading at 16:00:00 closes shift A's
    # last interval, so it counts in the shift (and hour) holding the instant just before ts
    ts -= 1
    hour = ts - ts % HOUR
    st.hours.setdefault(hour, [0.0, 0.0, 0.0])[idx] += delta
    ch.hours.add(hour)
    shift = shift_at(ref.site, ts)
    if shift is None:
        st.off_shift_pieces += delta if role != "reject" else 0.0
        return
    e = _bucket(st, shift[0], shift[1])
    if role == "cycle":
        e.cycles += delta
    elif role == "good":
        e.good += delta
    else:
        e.reject += delta
    ch.shifts.add(shift[0])


def add_rejects(st: MachineState, ref: MachineRef, reason: str, n: int, ts: int) -> str | None:
    shift = shift_at(ref.site, ts)
    if shift is None:
        return None
    per = st.rejects.setdefault(shift[0], {})
    per[reason] = per.get(reason, 0) + n
    st.shift_start.setdefault(shift[0], shift[1])
    return shift[0]


def prune(st: MachineState, now: int) -> None:
    """Keep three days of shift accounts and two of hours: older ones live in the metrics table."""
    for key in [k for k, s in st.shift_start.items() if s < now - KEEP_MS and k not in st.pending]:
        st.shift_start.pop(key, None)
        st.shifts.pop(key, None)
        st.rejects.pop(key, None)
    for h in [h for h in st.hours if h < now - 2 * DAY]:
        del st.hours[h]

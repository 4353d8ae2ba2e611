"""The processing runtime with the city pulse processor, no server: exact counts, restart without
double counting, late events recorded, alert lifecycle with flapping suppression, poison events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from citybrain.core.config import Settings, load_settings
from citybrain.core.events import Event
from citybrain.core.outputs import Alert, Outputs
from citybrain.core.pipeline import ProcessorSpec
from citybrain.core.platform import Platform
from citybrain.core.processor import Emitter, Processor
from citybrain.core.scenes import Scene, discover
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.pulse.events import PulseReport
from citybrain.scenes.pulse.processors import METRIC

MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN


def make(tmp: Path, **scene_cfg: object) -> Platform:
    s: Settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp)})
    s.scenes["pulse"] = dict(scene_cfg)
    s.pipeline.batch_max = 7  # small batches: many commits, many crash points
    return Platform(s, scenes={"pulse": discover({"pulse"})["pulse"]})


def reports(spec: Sequence[tuple[str, int, int]]) -> list[Event]:
    """(district, minute, count) -> individual events spread inside that minute."""
    out: list[Event] = []
    for d, minute, n in spec:
        for i in range(n):
            out.append(
                PulseReport(
                    key=d, ts=T0 + minute * MIN + (i * 997) % MIN, category="hotline", id=f"{d}-{minute}-{i}"
                )
            )
    return out


def minute_sums(p: Platform, key: str) -> dict[int, float]:
    return {(t - T0) // MIN: v for t, v in p.store.metric_series(METRIC, key, T0, T0 + 100 * MIN, MIN, "sum")}


def test_counts_per_district_and_minute_are_exact(tmp_path: Path) -> None:
    p = make(tmp_path, allowed_lateness_ms=0)
    spec = [("360102", 0, 13), ("360102", 1, 4), ("360113", 0, 9), ("360113", 2, 21)]
    p.publish(reports(spec))
    p.pipeline.drain()
    assert minute_sums(p, "360102") == {0: 13, 1: 4}
    assert minute_sums(p, "360113") == {0: 9, 2: 21}
    state = p.store.states("pulse", "360113")[0]["data"]
    assert state["last_minute"] == 9 and state["by_category"] == {"hotline": 30}
    p.stop()


def test_restart_after_a_crash_resumes_without_double_counting(tmp_path: Path) -> None:
    spec = [("360102", m, 10 + m) for m in range(6)] + [("360111", m, 3) for m in range(6)]
    p = make(tmp_path)
    p.publish(reports(spec))
    for _ in range(3):  # process a few small batches, then "crash": no clean shutdown of the pipeline
        p.pipeline.run_once()
    partial = sum(minute_sums(p, "360102").values())
    assert 0 < partial < sum(10 + m for m in range(6))
    p.store.close()  # the process dies; only what was committed survives

    q = make(tmp_path)
    q.pipeline.drain()
    assert minute_sums(q, "360102") == {m: 10 + m for m in range(6)}
    assert minute_sums(q, "360111") == {m: 3 for m in range(6)}
    q.publish(reports(spec))  # the sender retries everything: duplicates are ignored
    q.pipeline.drain()
    assert minute_sums(q, "360102") == {m: 10 + m for m in range(6)}
    q.stop()


def test_late_events_are_counted_and_stored_not_dropped(tmp_path: Path) -> None:
    p = make(tmp_path, allowed_lateness_ms=MIN)
    p.publish(reports([("360102", 0, 2), ("360102", 5, 1)]))
    p.pipeline.drain()
    late = reports([("360102", 1, 3)])  # minute 1 closed once the watermark passed minute 3
    for e in late:
        e.id = "late-" + e.id
    p.publish(late)
    p.pipeline.drain()
    assert p.store.late_count() == 3
    assert p.pipeline.stats.late == 3
    assert 1 not in minute_sums(p, "360102")
    assert p.store.count_events() == 6  # raw late events are kept
    p.stop()


def test_surge_alert_opens_updates_and_resolves_without_flapping(tmp_path: Path) -> None:
    p = make(tmp_path, surge_per_min=10, allowed_lateness_ms=0)
    # minutes 0-2 surge (25/min, 40/min -> critical), minute 3 quiet, minute 4 surge again, then quiet 5-8
    counts = {0: 25, 1: 25, 2: 40, 3: 2, 4: 25, 5: 2, 6: 2, 7: 2, 8: 2, 9: 1}
    p.publish(reports([("360113", m, n) for m, n in counts.items()]))
    p.pipeline.drain()
    alerts = p.store.alerts(AlertQuery(scene="pulse"))
    assert len(alerts) == 1, "one quiet minute inside a surge must not close and reopen the alert"
    a = alerts[0]
    assert a.key == "360113" and a.rule == "pulse.surge"
    assert a.status == "resolved" and a.resolved_by == "system"
    assert a.opened_ts == T0 + MIN  # window [0, 1 min) closes at 1 min
    assert a.data["threshold"] == 10
    assert a.count >= 3
    p.stop()


def test_alert_escalates_severity(tmp_path: Path) -> None:
    p = make(tmp_path, surge_per_min=10, allowed_lateness_ms=0)
    p.publish(reports([("360113", 0, 15), ("360113", 1, 35), ("360113", 2, 1)]))
    p.pipeline.drain()
    [a] = p.store.alerts(AlertQuery(scene="pulse"))
    assert a.status == "open" and a.severity == "critical"
    p.stop()


class Boom(Event, tag="test.boom"):
    explode: bool = False


class BoomState(msgspec.Struct):
    seen: int = 0


class BoomCounter(Processor[BoomState]):
    name = "test.boom"
    kinds = (Boom,)
    state_type = BoomState

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        for _, ev in batch:
            assert isinstance(ev, Boom)
            if ev.explode:
                raise RuntimeError("poison")
            self.state.seen += 1
            out.metric("test.seen", "all", 0, self.state.seen)


def test_a_poison_event_is_skipped_and_counted_not_fatal(tmp_path: Path) -> None:
    from citybrain.core.events import REGISTRY

    REGISTRY.register(Boom)
    scene = Scene(
        name="boom",
        title={},
        description={},
        events=[Boom],
        processors=lambda _: [ProcessorSpec(BoomCounter.name, lambda part: BoomCounter(part))],
    )
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path)})
    s.bus.partitions = 1
    p = Platform(s, scenes={"boom": scene})
    p.publish([Boom(key="k", ts=T0 + i, explode=(i == 3), id=f"b{i}") for i in range(6)])
    p.pipeline.drain()
    assert p.pipeline.stats.errors == 1
    assert p.store.metric_series("test.seen", "all", 0, 1, 1_000, "max") == [(0, 5.0)]
    p.stop()


def test_partitions_cannot_shrink(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.publish(reports([(d, 0, 1) for d in ("360102", "360103", "360104", "360111", "360112", "360113")]))
    p.stop()
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path), "CITYBRAIN_BUS__PARTITIONS": "1"})
    with pytest.raises(Exception, match="cannot shrink"):
        Platform(s, scenes={"pulse": discover({"pulse"})["pulse"]})


def test_simulator_is_deterministic() -> None:
    from citybrain.scenes.pulse.sim import PulseSimConfig, PulseSimulator

    a, b = PulseSimulator(PulseSimConfig(seed=3)), PulseSimulator(PulseSimConfig(seed=3))
    ea = [e for t in range(5) for e in a.events_for(T0 + t * 1000, 1.0)]
    eb = [e for t in range(5) for e in b.events_for(T0 + t * 1000, 1.0)]
    assert ea == eb and len(ea) > 0
    surge = PulseSimulator(PulseSimConfig(seed=3, surge_district="360123", surge_factor=20))
    per = Counter(e.key for e in surge.events_for(T0 - T0 % 600_000, 60.0))
    assert per["360123"] > per["360104"]  # the surge district dominates during a surge


class Hop(Event, tag="test.hop"):
    """A first-stage event; its processor re-keys it to a second stage."""

    target: str


class Landed(Event, tag="test.landed"):
    origin: str


class Rekey(Processor[BoomState]):
    name = "test.rekey"
    kinds = (Hop,)
    state_type = BoomState

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        for _, ev in batch:
            assert isinstance(ev, Hop)
            out.event(Landed(key=ev.target, ts=ev.ts, origin=ev.key, id=f"landed-{ev.id}"))


class Tally(Processor[BoomState]):
    name = "test.tally"
    kinds = (Landed,)
    state_type = BoomState

    def process(self, batch: Sequence[tuple[int, Event]], out: Emitter) -> None:
        for _, ev in batch:
            self.state.seen += 1
            out.metric("test.landed", ev.key, 0, self.state.seen)


def test_derived_events_feed_a_second_stage_exactly_once(tmp_path: Path) -> None:
    from citybrain.core.events import REGISTRY

    REGISTRY.register(Hop)
    REGISTRY.register(Landed)
    scene = Scene(name="hop", title={}, description={}, events=[Hop, Landed],
                  processors=lambda _: [ProcessorSpec(Rekey.name, lambda part: Rekey(part)),
                                        ProcessorSpec(Tally.name, lambda part: Tally(part))])  # fmt: skip
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path)})
    s.pipeline.batch_max = 3
    p = Platform(s, scenes={"hop": scene})
    p.publish(
        [Hop(key=f"v{i}", ts=T0 + i, target="seg-a" if i % 3 else "seg-b", id=f"h{i}") for i in range(30)]
    )
    for _ in range(4):
        p.pipeline.run_once()
    p.store.close()  # crash part-way through both stages
    q = Platform(s, scenes={"hop": scene})
    q.pipeline.drain()
    totals = {k: q.store.metric_series("test.landed", k, 0, 1, 1_000, "max") for k in ("seg-a", "seg-b")}
    assert totals == {"seg-a": [(0, 20.0)], "seg-b": [(0, 10.0)]}
    q.stop()


def test_a_failed_commit_rolls_state_back_so_the_retry_counts_once(tmp_path: Path) -> None:
    p = make(tmp_path, allowed_lateness_ms=0)
    p.publish(reports([("360102", 0, 5), ("360102", 1, 1)]))
    real_commit = p.store.commit
    calls = {"n": 0}

    def flaky(
        processor: str, partition: int, poff: int, state: bytes, out: Outputs, entries: Any = None
    ) -> list[Alert]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("connection lost")
        return real_commit(processor, partition, poff, state, out, entries)

    p.store.commit = flaky  # type: ignore[method-assign]  # the test replaces the store's commit on purpose
    with pytest.raises(RuntimeError):
        p.pipeline.run_once()
    p.pipeline.drain()
    assert minute_sums(p, "360102") == {0: 5, 1: 1}
    assert p.store.states("pulse", "360102")[0]["data"]["by_category"] == {"hotline": 6}
    p.stop()


def test_last_minute_shows_the_previous_minute_before_its_window_closes(tmp_path: Path) -> None:
    p = make(tmp_path)  # default allowed lateness: minute 0 stays open while minute 1 runs
    p.publish(reports([("360104", 0, 8), ("360104", 1, 2)]))
    p.pipeline.drain()
    assert p.store.states("pulse", "360104")[0]["data"]["last_minute"] == 8
    assert p.store.alerts(AlertQuery(scene="pulse")) == []  # alerts still judge closed windows only
    p.stop()


def test_batches_without_a_tasks_kinds_cost_no_transaction(tmp_path: Path) -> None:
    from collections import Counter

    from citybrain.core.events import REGISTRY

    for kind in (Hop, Landed, Boom):
        if kind.kind_name() not in REGISTRY.kinds():
            REGISTRY.register(kind)
    scene = Scene(name="mix", title={}, description={}, events=[Hop, Landed, Boom],
                  processors=lambda _: [ProcessorSpec(BoomCounter.name, lambda part: BoomCounter(part)),
                                        ProcessorSpec(Tally.name, lambda part: Tally(part))])  # fmt: skip
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path)})
    s.bus.partitions, s.pipeline.batch_max = 1, 2
    p = Platform(s, scenes={"mix": scene})
    commits: Counter[str] = Counter()
    real = p.store.commit

    def counting(
        processor: str, partition: int, poff: int, state: bytes, out: Outputs, entries: Any = None
    ) -> list[Alert]:
        commits[processor] += 1
        return real(processor, partition, poff, state, out, entries)

    p.store.commit = counting  # type: ignore[method-assign]  # the test replaces the store's commit on purpose
    p.publish([Landed(key="seg", ts=T0 + i, origin="v", id=f"l{i}") for i in range(20)])
    p.pipeline.drain()
    assert commits["test.tally"] == 10  # every batch of its own kind commits
    assert commits["test.boom"] <= 1  # other kinds: at most the periodic checkpoint
    assert p.pipeline.positions()[("test.boom", 0)] == 20  # yet it has read past them
    p.store.close()
    q = Platform(s, scenes={"mix": scene})  # restart: re-reading the other kinds changes nothing
    q.pipeline.drain()
    assert q.store.metric_series("test.landed", "seg", 0, 1, 1_000, "max") == [(0, 20.0)]
    assert q.store.metric_series("test.seen", "all", 0, 1, 1_000, "max") == []
    q.stop()

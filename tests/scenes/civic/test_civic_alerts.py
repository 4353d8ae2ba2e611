"""Alerts that become cases, and case deadlines watched as alerts (issue 14 items 4, 5, 1):
a camera that keeps seeing street vending opens one alert and one grid case with its photo and
place; detections below the confidence floor do nothing; at start the open alerts are dispatched
again without a second case; a case near its deadline warns, past it is overdue (critical when
late by its whole allowance again), and closing it resolves both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace

from citybrain.core.cases.engine import Actor as CaseActor
from citybrain.core.cases.records import CaseQuery
from citybrain.core.config import load_settings
from citybrain.core.outputs import Outputs
from citybrain.core.platform import Platform
from citybrain.core.processor import AlertBook, Emitter
from citybrain.core.scenes import discover
from citybrain.core.store.base import AlertQuery
from citybrain.scenes import civic
from citybrain.scenes.civic.events import CameraDetection
from citybrain.scenes.civic.processors import CaseDeadlines
from citybrain.scenes.civic.settings import CivicSettings
from citybrain.sdk import CaseChanged

HOUR = 3_600_000


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path)})
    p = Platform(settings, scenes={"civic": discover({"civic"}).get("civic", civic.scene)})
    yield p
    p.stop()


def _seen(ts: int, confidence: float = 0.9, camera: str = "cam-0107") -> CameraDetection:
    return CameraDetection(
        key=camera, ts=ts, category="占道经营", area="360102001002003", confidence=confidence,
        lon=115.9, lat=28.68, image=f"photo://cam/{camera}/{ts}.jpg", id=f"{camera}-{ts}-{confidence}",
    )  # fmt: skip


def test_a_camera_that_keeps_seeing_vending_opens_one_alert_and_one_grid_case(platform: Platform) -> None:
    now = platform.cases.clock()
    platform.publish([_seen(now - 60_000, confidence=0.3)])  # below camera_min_confidence (0.6)
    platform.pipeline.drain()
    assert platform.store.alerts(AlertQuery(scene="civic")) == []
    platform.publish([_seen(now - 50_000), _seen(now - 40_000), _seen(now - 30_000)])
    platform.pipeline.drain()
    [alert] = platform.store.alerts(AlertQuery(scene="civic"))
    assert alert.rule == "civic.camera" and alert.key == "cam-0107:占道经营" and alert.count == 3
    [case] = platform.store.find_cases(CaseQuery())
    assert (case.type, case.state, case.category) == ("civic.grid", "reported", "占道经营")
    assert case.area == "360102001002003" and case.fields["alert"] == alert.id
    assert case.fields["photos"] == [f"photo://cam/cam-0107/{now - 30_000}.jpg"]  # the latest sighting
    assert (case.lon, case.lat) == (115.9, 28.68) and case.due_ts is not None  # 占道经营: 4 working hours
    assert platform.dispatch_alerts([alert]) == [case.id]  # again (as at start): the same case
    assert len(platform.store.find_cases(CaseQuery())) == 1
    assert [e.action for e in platform.store.case_entries(case.id)] == ["open"]


def _changed(
    version: int, to: str, ts: int, *, due: int | None, step_due: int | None, final: bool = False
) -> CaseChanged:
    return CaseChanged(
        key="20261207-AAAA", ts=ts, id=f"20261207-AAAA:v{version}", type="civic.hotline", action="x",
        from_state="registered" if version > 1 else "", to_state=to, version=version, department="nc-housing",
        opened_ts=0, due_ts=due, step_due_ts=step_due, final=final, public="closed" if final else "open",
    )  # fmt: skip


def _run(proc: CaseDeadlines, book: AlertBook, now: int, events: list[CaseChanged] = ()) -> Outputs:  # type: ignore[assignment]
    out = Outputs()
    em = Emitter(proc.name, 0, book, out)
    if events:
        proc.process([(i, e) for i, e in enumerate(events)], em)
    proc.state.last_watch = now - int(proc.config.watch_every_s * 1000)
    proc.tick(now, em)
    return out


def test_deadlines_warn_then_escalate_then_resolve_when_closed() -> None:
    proc, book = CaseDeadlines(0, CivicSettings()), AlertBook()
    opened = _changed(1, "registered", 0, due=100 * HOUR, step_due=None)
    assert [(op.op, op.alert.rule) for op in _run(proc, book, 10 * HOUR, [opened]).alerts] == []
    # 80 % of the 100 hours used: due soon
    out = _run(proc, book, 81 * HOUR)
    assert [(op.op, op.alert.rule) for op in out.alerts] == [("open", "civic.case_due_soon")]
    # past the deadline: overdue (major), the warning resolves
    out = _run(proc, book, 101 * HOUR)
    ops = {(op.op, op.alert.rule, op.alert.severity) for op in out.alerts}
    assert ops == {("open", "civic.case_overdue", "major"), ("resolve", "civic.case_due_soon", "warning")}
    # late by the whole allowance again: critical
    out = _run(proc, book, 201 * HOUR)
    assert [(op.op, op.alert.severity) for op in out.alerts] == [("update", "critical")]
    # closed: resolved, and no longer watched
    out = _run(
        proc, book, 202 * HOUR, [_changed(2, "closed", 202 * HOUR, due=100 * HOUR, step_due=None, final=True)]
    )
    assert [(op.op, op.alert.rule) for op in out.alerts] == [("resolve", "civic.case_overdue")]
    assert proc.state.cases == {}


def test_a_late_step_is_overdue_even_with_the_case_in_time() -> None:
    proc, book = CaseDeadlines(0, CivicSettings()), AlertBook()
    dispatched = _changed(2, "dispatched", 10 * HOUR, due=300 * HOUR, step_due=20 * HOUR)
    out = _run(proc, book, 21 * HOUR, [dispatched])
    assert [(op.op, op.alert.rule) for op in out.alerts] == [("open", "civic.case_overdue")]
    signed = _changed(3, "handling", 22 * HOUR, due=300 * HOUR, step_due=None)
    out = _run(proc, book, 23 * HOUR, [signed])
    assert [(op.op, op.alert.rule) for op in out.alerts] == [("resolve", "civic.case_overdue")]


def test_a_change_arriving_after_the_close_does_not_reopen_the_watch() -> None:
    proc, book = CaseDeadlines(0, CivicSettings()), AlertBook()
    closed = _changed(3, "closed", 50 * HOUR, due=100 * HOUR, step_due=None, final=True)
    late = _changed(2, "handling", 40 * HOUR, due=100 * HOUR, step_due=None)  # published after v3
    out = _run(proc, book, 200 * HOUR, [closed, late])
    assert proc.state.cases == {} and [op.alert.rule for op in out.alerts] == []


def test_the_live_feed_carries_public_fields_only(platform: Platform) -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    platform.hub.publish = lambda topic, data: sent.append((topic, data))  # type: ignore[method-assign]
    fields = {"description": "楼道积水", "name": "张三", "phone": "13800001234"}
    platform.cases.open(
        "civic.hotline", CaseActor("话务员", ("hotline_agent",)), "c1", fields=fields, category="投诉"
    )
    [(topic, data)] = sent
    assert topic == "case.civic" and data["fields"] == {"description": "楼道积水"}


def test_after_a_rework_the_allowance_is_measured_from_the_rework() -> None:
    proc, book = CaseDeadlines(0, CivicSettings()), AlertBook()
    opened = _changed(1, "registered", 0, due=100 * HOUR, step_due=None)
    rework = replace(_changed(5, "dispatched", 90 * HOUR, due=190 * HOUR, step_due=None), action="rework")
    # at 165 h: 75 % of the new 100 hours is used (86.8 % counted from the opening): no warning yet
    out = _run(proc, book, 165 * HOUR, [opened, rework])
    assert [op.alert.rule for op in out.alerts] == []
    out = _run(proc, book, 171 * HOUR)  # 81 %
    assert [(op.op, op.alert.rule) for op in out.alerts] == [("open", "civic.case_due_soon")]

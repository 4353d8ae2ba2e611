"""The case engine on both stores (issue 14 item 1): deadlines on the working-day calendar (hand
computed across 国庆 2026 and its 调休 Saturday), pauses that stop the clock, extensions only before
the deadline, who may act, a stale version refused, a retried command applied once, concurrent
conflicting commands of which exactly one wins, every change logged, audited and published."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from citybrain.core.cases.engine import Act, Actor, CaseEngine, Open, Outcome, case_id_for
from citybrain.core.cases.events import CaseChanged
from citybrain.core.cases.model import Action, CaseType, Limit, State
from citybrain.core.cases.records import CaseQuery
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.errors import ConfigError, ConflictError, ForbiddenError, NotFoundError, ValidationError
from citybrain.core.store.base import AuditSearch, Store
from citybrain.core.store.sql_cases import CommandSeen
from tests.core.cases.casekit import COMPLAINT, DISPATCHER, HANDLER, SUPERVISOR, Clock, Published, bjt, engine

HOUR = 3_600_000


def _opened(store: Store, clock: Clock, published: Published | None = None) -> Any:
    e = engine(store, clock, published)
    fields = {"description": "楼道积水", "phone": "13800000000"}
    case = e.open("civic.complaint", DISPATCHER, "cmd-open", fields=fields, area="360102001001001",
                  category="投诉", title="楼道积水").case  # fmt: skip
    return e, case


def test_deadlines_follow_the_working_day_calendar_across_national_day(store: Store) -> None:
    # opened Thu 2026-09-24 10:00. The next days: 09-25 中秋 and the weekend off; 09-28, 29, 30 (1-3);
    # 国庆 10-01..07 off; 10-08 (4), 10-09 (5), Sat 10-10 调休 working (6), 10-12..16 (7-11),
    # 10-19..22 (12-15): 15 working days end Thu 2026-10-22 at 17:30 (the default hours' end)
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    assert case.state == "registered" and case.version == 1
    assert case.due_ts == bjt(2026, 10, 22, 17, 30) and not case.assumed
    assert case.id == case_id_for("cmd-open", clock.ms) and case.id.startswith("20260924-")
    # dispatched Wed 09-30 09:00 with 签收 due in 1 working day: the next one is Thu 10-08 (after 国庆)
    clock.ms = bjt(2026, 9, 30, 9)
    case = e.act(case.id, "dispatch", DISPATCHER, "cmd-2", 1, fields={"department": "housing"}).case
    assert case.state == "dispatched" and case.department == "housing"
    assert case.step_due_ts == bjt(2026, 10, 8, 17, 30)
    # dispatched on Fri 10-09 instead, 签收 would be due on the 调休 Saturday 10-10
    assert e.calendar.deadline(bjt(2026, 10, 9, 9), 1, "working_days").at_ms == bjt(2026, 10, 10, 17, 30)


def test_a_pause_stops_the_clock_and_resuming_counts_what_was_left(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    case = e.act(case.id, "dispatch", DISPATCHER, "c2", 1, fields={"department": "housing"}).case
    case = e.act(case.id, "sign", HANDLER, "c3", 2).case
    # asked the citizen on Fri 10-09 10:00; left until 10-22 17:30: 5.5 h that day (10-12, 14-17:30)
    # plus 10 full days (10-10, 12-16, 19-22) of 7 h = 75.5 working hours
    clock.ms = bjt(2026, 10, 9, 10)
    case = e.act(case.id, "ask_info", HANDLER, "c4", 3, fields={"question": "请提供照片"}).case
    assert case.state == "waiting" and case.due_ts is None and case.left_ms == int(75.5 * HOUR)
    assert store.find_cases(CaseQuery(overdue_at=bjt(2026, 12, 1))) == []  # a paused case is not overdue
    # answered Wed 10-14 15:00: 2.5 h that day, 10 days (10-15..28) = 70 h, 3 h of Thu 10-29 -> 11:30
    clock.ms = bjt(2026, 10, 14, 15)
    case = e.act(case.id, "info_received", HANDLER, "c5", 4).case
    assert case.state == "accepted" and case.due_ts == bjt(2026, 10, 29, 11, 30) and case.left_ms is None


def test_an_extension_moves_the_deadline_only_before_it_passes(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    case = e.act(case.id, "dispatch", DISPATCHER, "c2", 1, fields={"department": "housing"}).case
    case = e.act(case.id, "sign", HANDLER, "c3", 2).case
    clock.ms = bjt(2026, 10, 20, 9)
    # 5 more working days from the deadline Thu 10-22 17:30: 10-23, 26, 27, 28, 29 -> Thu 10-29 17:30
    case = e.act(case.id, "extend", SUPERVISOR, "c4", 3, fields={"reason": "需现场勘查"}).case
    assert case.state == "accepted" and case.due_ts == bjt(2026, 10, 29, 17, 30)
    clock.ms = bjt(2026, 10, 30, 9)  # overdue now
    with pytest.raises(ConflictError, match="before the deadline"):
        e.act(case.id, "extend", SUPERVISOR, "c5", 4, fields={"reason": "again"})
    assert [c.id for c in store.find_cases(CaseQuery(overdue_at=clock.ms))] == [case.id]


def test_what_stops_a_command_is_named(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    with pytest.raises(ForbiddenError, match="needs one of the roles \\['dispatcher'\\]"):
        e.act(case.id, "dispatch", HANDLER, "c2", 1, fields={"department": "housing"})
    with pytest.raises(ValidationError, match="'department'"):
        e.act(case.id, "dispatch", DISPATCHER, "c2", 1)
    with pytest.raises(ConflictError, match="not possible now"):
        e.act(case.id, "sign", HANDLER, "c2", 1)
    with pytest.raises(ValidationError, match="no action 'fly'"):
        e.act(case.id, "fly", HANDLER, "c2", 1)
    with pytest.raises(NotFoundError, match="case 'nope'"):
        e.act("nope", "sign", HANDLER, "c2", 1)
    with pytest.raises(NotFoundError, match=r"case type 'civic\.nope'"):
        e.open("civic.nope", DISPATCHER, "c9")
    assert store.case(case.id).version == 1 and len(store.case_entries(case.id)) == 1


def test_a_stale_version_is_refused_and_a_retried_command_applied_once(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    published = Published()
    e, case = _opened(store, clock, published)
    first = e.act(case.id, "dispatch", DISPATCHER, "c2", 1, fields={"department": "housing"})
    again = e.act(case.id, "dispatch", DISPATCHER, "c2", 1, fields={"department": "housing"})
    assert not first.replayed and again.replayed and again.case.version == 2
    assert e.open("civic.complaint", DISPATCHER, "cmd-open").replayed  # a retried open too
    with pytest.raises(ConflictError, match="at version 2, not 1"):
        e.act(case.id, "note", DISPATCHER, "c3", 1, fields={"text": "stale"})
    log = store.case_entries(case.id)
    assert [(x.version, x.action, x.from_state, x.to_state) for x in log] == [
        (1, "open", "", "registered"), (2, "dispatch", "registered", "dispatched")]  # fmt: skip
    # a replay publishes its change again (the bus drops an id it has): nothing lost to a crash
    ids = [ev.id for ev in published.events]
    assert ids == [f"{case.id}:v1", f"{case.id}:v2", f"{case.id}:v2", f"{case.id}:v1"]
    ev = published.events[1]
    assert isinstance(ev, CaseChanged) and ev.department == "housing" and ev.due_ts == case.due_ts
    audit = store.audit_log(search=AuditSearch(action="case."))
    assert sorted((r["action"], r["target"]) for r in audit) == [
        ("case.dispatch", case.id), ("case.open", case.id)]  # fmt: skip


def test_concurrent_conflicting_commands_exactly_one_wins(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            e.act(case.id, "note", DISPATCHER, f"racer-{i}", 1, fields={"text": str(i)})
            results.append("won")
        except ConflictError as err:
            assert "not 1" in str(err)
            results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 7 + ["won"]
    assert store.case(case.id).version == 2 and len(store.case_entries(case.id)) == 2


def test_the_same_command_sent_concurrently_is_applied_once(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    outcomes: list[bool] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        barrier.wait()
        outcomes.append(e.act(case.id, "note", DISPATCHER, "same", 1, fields={"text": "x"}).replayed)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False, True, True, True]
    assert len(store.case_entries(case.id)) == 2


def test_closing_rework_and_callback(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("dispatch", DISPATCHER, {"department": "housing"}), ("sign", HANDLER, {}),
        ("handle", HANDLER, {"reply": "已清理"}), ("close", DISPATCHER, {}),
    ]  # fmt: skip
    for i, (action, who, fields) in enumerate(steps):
        clock.ms += HOUR
        case = e.act(case.id, action, who, f"s{i}", case.version, fields=fields).case
    assert case.state == "closed" and case.closed_ts == clock.ms and case.step_due_ts is None
    assert store.find_cases(CaseQuery(open_only=True)) == []
    # 返工: the case is dispatched again and its 15 working days start over
    clock.ms = bjt(2026, 10, 12, 9)
    case = e.act(case.id, "reopen", DISPATCHER, "r1", case.version, fields={"reason": "未解决"}).case
    assert case.state == "dispatched" and case.closed_ts is None
    assert case.due_ts == bjt(2026, 11, 2, 17, 30)  # 10-13..16, 19..23, 26..30, 11-02: 15 days
    with pytest.raises(ConflictError):
        e.act(case.id, "callback", DISPATCHER, "cb", case.version, fields={"satisfaction": 5})


def test_a_case_type_that_does_not_hold_together_is_refused() -> None:
    base = COMPLAINT
    bad = [
        (CaseType("complaint", "t", base.states, base.actions, "registered"), "must start with its scene"),
        (CaseType("civic.x", "t", base.states, base.actions, "nowhere"), "initial state 'nowhere'"),
        (CaseType("civic.x", "t", (*base.states, State("limbo", "limbo")), base.actions, "registered"),
         "'limbo' cannot be reached"),
        (CaseType("civic.x", "t", base.states, (*base.actions, Action("go", "go", ("registered",), "mars",
                                                                       ("dispatcher",))), "registered"),
         "unknown state 'mars'"),
        (CaseType("civic.x", "t", (State("a", "a", final=True),), (), "a"), "must be public 'closed'"),
    ]  # fmt: skip
    for ct, message in bad:
        with pytest.raises(ConfigError, match=message):
            ct.check()


def test_cases_are_found_by_department_area_state_and_text(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e = engine(store, clock)
    for i, (area, dept) in enumerate([("360102001001001", "housing"), ("360102002001001", "water"),
                                      ("360111001001001", "housing")]):  # fmt: skip
        c = e.open("civic.complaint", DISPATCHER, f"o{i}", area=area, title=f"问题{i}",
                   fields={"description": f"desc {i}"}).case  # fmt: skip
        e.act(c.id, "dispatch", DISPATCHER, f"d{i}", 1, fields={"department": dept})
    assert len(store.find_cases(CaseQuery(department="housing"))) == 2
    assert len(store.find_cases(CaseQuery(area_prefix="360102"))) == 2
    assert [c.title for c in store.find_cases(CaseQuery(text="DESC 1"))] == ["问题1"]
    assert len(store.find_cases(CaseQuery(states=("dispatched",), scene="civic"))) == 3
    assert store.find_cases(CaseQuery(area_prefix="36010_")) == []  # LIKE wildcards are literal
    assert store.count_cases() == 3


def test_republish_puts_the_log_on_the_bus_again_with_the_same_ids(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    published = Published()
    e, case = _opened(store, clock, published)
    e.act(case.id, "dispatch", DISPATCHER, "c2", 1, fields={"department": "housing"})
    first = [ev.id for ev in published.events]
    published.events.clear()
    assert e.republish(bjt(2026, 9, 24)) == 2
    assert [ev.id for ev in published.events] == first
    states = [ev.to_state for ev in published.events if isinstance(ev, CaseChanged)]
    assert states == ["registered", "dispatched"]


def test_pausing_an_overdue_case_keeps_it_due_at_once_on_resume(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    case = e.act(case.id, "dispatch", DISPATCHER, "c2", 1, fields={"department": "housing"}).case
    case = e.act(case.id, "sign", HANDLER, "c3", 2).case
    clock.ms = bjt(2026, 11, 2, 9)  # past 10-22 17:30
    case = e.act(case.id, "ask_info", HANDLER, "c4", 3, fields={"question": "?"}).case
    assert case.left_ms == 0 and case.due_ts is None
    clock.ms = bjt(2026, 11, 3, 9)
    case = e.act(case.id, "info_received", HANDLER, "c5", 4).case
    assert case.due_ts == clock.ms  # nothing was left: due (and overdue) at once


def test_a_command_id_answers_only_its_own_case(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    other = e.open("civic.complaint", DISPATCHER, "cmd-other", fields={"phone": "13900000000"}).case
    with pytest.raises(ConflictError, match="used for another case"):
        e.act(other.id, "note", DISPATCHER, "cmd-open", 1, fields={"text": "x"})  # case's open command
    e.act(case.id, "note", DISPATCHER, "n1", 1, fields={"text": "x"})
    with pytest.raises(ConflictError, match="used for another case"):
        e.act(other.id, "note", DISPATCHER, "n1", 1, fields={"text": "x"})


def test_an_action_changes_only_what_it_needs(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    sneaky = {"text": "x", "department": "dept-x", "area": "999", "phone": "1", "extra": "new"}
    moved = e.act(case.id, "note", DISPATCHER, "n1", 1, fields=sneaky).case
    assert (moved.department, moved.area) == ("", "360102001001001")  # a note moves nothing
    assert moved.fields["phone"] == "13800000000" and moved.fields["extra"] == "new"  # adds, never rewrites
    dispatched = e.act(case.id, "dispatch", DISPATCHER, "d1", 2, fields={"department": "housing"}).case
    assert dispatched.department == "housing"  # 派单 needs the department: it sets it


def test_limits_that_cannot_be_counted_are_refused_when_declared() -> None:
    with pytest.raises(ConfigError, match="counted whole"):
        Limit.parse("1.5 working_days", "scenes.civic.sign_within")
    bad = CaseType("civic.x", "t", COMPLAINT.states, COMPLAINT.actions, "registered", limit=Limit(-1))
    with pytest.raises(ConfigError, match="not between 0 and 10000"):
        bad.check()


def test_an_extension_granted_while_paused_is_there_on_resume(store: Store) -> None:
    extend = next(a for a in COMPLAINT.actions if a.name == "extend")
    anywhere = replace(extend, sources=("accepted", "waiting"), before_due=False)
    ct = replace(COMPLAINT, actions=tuple(anywhere if a.name == "extend" else a for a in COMPLAINT.actions))
    clock = Clock(bjt(2026, 10, 9, 10))
    e = CaseEngine(store, {ct.name: ct}, WorkCalendar.shipped(), clock=clock)
    case = e.open(ct.name, DISPATCHER, "o").case
    case = e.act(case.id, "dispatch", DISPATCHER, "d", 1, fields={"department": "housing"}).case
    case = e.act(case.id, "sign", HANDLER, "s", 2).case
    case = e.act(case.id, "ask_info", HANDLER, "a", 3, fields={"question": "?"}).case
    left = case.left_ms
    assert left is not None
    case = e.act(case.id, "extend", SUPERVISOR, "x", 4, fields={"reason": "r"}).case
    assert case.left_ms == left + 5 * 7 * HOUR  # five working days of the default 7-hour day


def test_a_batch_is_one_commit_and_each_command_answered_on_its_own(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    published = Published()
    e, case = _opened(store, clock, published)
    before = e._group.batches
    answers = e.run(
        [
            Act(case.id, "dispatch", "b1", 1, {"department": "housing"}),
            Act(case.id, "note", "b2", 2, {"text": "先派后记"}),  # the version the one before made
            Act(case.id, "note", "b3", 2, {"text": "stale"}),  # decided on version 2: now 3
            Act("no-such-case", "note", "b4", 1),
            Act(case.id, "sign", "b5", 3),  # the dispatcher has no 签收 role
            Open(
                "civic.complaint", "b6", {"description": "路灯不亮"}, area="360102001001002", category="投诉"
            ),
            Act(case.id, "dispatch", "b1", 1, {"department": "housing"}),  # b1 again: answered, not applied
        ],
        DISPATCHER,
    )
    assert e._group.batches == before + 1  # every change of the batch in one transaction
    kinds = [
        type(a).__name__ if not isinstance(a, Outcome) else ("replayed" if a.replayed else "ok")
        for a in answers
    ]
    assert kinds == ["ok", "ok", "ConflictError", "NotFoundError", "ForbiddenError", "ok", "replayed"]
    assert "at version 3, not 2" in str(answers[2]) and "'no-such-case'" in str(answers[3])
    log = store.case_entries(case.id)
    assert [(x.version, x.action, x.command_id) for x in log] == [
        (1, "open", "cmd-open"), (2, "dispatch", "b1"), (3, "note", "b2")]  # fmt: skip
    assert store.case(case.id).version == 3 and store.case(case.id).department == "housing"
    opened = answers[5]
    assert isinstance(opened, Outcome) and store.case(opened.case.id).due_ts == case.due_ts
    ids = [ev.id for ev in published.events]  # published once each (b1 again when answered again)
    assert ids == [f"{case.id}:v1", f"{case.id}:v2", f"{case.id}:v3", f"{opened.case.id}:v1", f"{case.id}:v2"]
    audit = store.audit_log(search=AuditSearch(action="case."))
    assert len(audit) == 4 and {r["target"] for r in audit} == {case.id, opened.case.id}


def test_a_change_refused_in_the_store_refuses_only_itself_and_what_follows_it(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e, case = _opened(store, clock)
    other = e.open("civic.complaint", DISPATCHER, "other", area="360102001001003", category="投诉").case
    # someone else moves the case between the engine's read and its write: the store's check finds it
    first = e._change(
        Act(case.id, "note", "mine-1", 1, {"text": "a"}), DISPATCHER, {case.id: case}, clock.ms, None
    )
    e.act(case.id, "note", DISPATCHER, "theirs", 1, fields={"text": "b"})
    latest = {case.id: first[1].case, other.id: other}
    second = e._change(Act(case.id, "note", "mine-2", 2, {"text": "c"}), DISPATCHER, latest, clock.ms, None)
    third = e._change(Act(other.id, "note", "mine-3", 1, {"text": "d"}), DISPATCHER, latest, clock.ms, None)
    refused = store.save_cases([first[1], second[1], third[1]])
    assert [type(r).__name__ for r in refused] == ["ConflictError", "ConflictError", "NoneType"]
    assert "at version 2, not 1" in str(refused[0]) and "version 2 this one follows was refused" in str(
        refused[1]
    )
    assert [x.command_id for x in store.case_entries(case.id)] == ["cmd-open", "theirs"]
    assert [x.command_id for x in store.case_entries(other.id)] == ["other", "mine-3"]
    seen = store.save_cases([third[1]])
    assert isinstance(seen[0], CommandSeen) and seen[0].case_id == other.id and seen[0].version == 2


def test_concurrent_callers_are_committed_together(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e = engine(store, clock)
    cases = [e.open("civic.complaint", DISPATCHER, f"o{i}", category="投诉").case for i in range(24)]
    before = e._group.batches
    barrier = threading.Barrier(24)
    versions: list[int] = []

    def work(i: int) -> None:
        barrier.wait()
        c = cases[i]
        for k in range(3):
            c = e.act(c.id, "note", DISPATCHER, f"n{i}-{k}", c.version, fields={"k": k}).case
        versions.append(c.version)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert versions == [4] * 24
    assert all(len(store.case_entries(c.id)) == 4 for c in cases)
    assert e._group.batches - before < 72  # fewer transactions than commands


def test_a_reclassified_case_is_due_by_its_new_category_counted_from_the_opening(store: Store) -> None:
    reclassify = Action(
        "reclassify", "核实改类 / reclassify", ("registered",), None, ("dispatcher",), ("category",)
    )
    ct = replace(COMPLAINT, actions=(*COMPLAINT.actions, reclassify),
                 limits_by_category={"咨询": Limit(2, "working_days")})  # fmt: skip
    clock = Clock(bjt(2026, 9, 24, 10))
    e = CaseEngine(store, {ct.name: ct}, WorkCalendar.shipped(), clock=clock)
    case = e.open("civic.complaint", DISPATCHER, "q1", category="咨询").case
    # 2 working days from Thu 09-24 10:00: 09-25 is 中秋, so Mon 09-28 and Tue 09-29, 17:30
    assert case.due_ts == bjt(2026, 9, 29, 17, 30)
    clock.ms = bjt(2026, 9, 25, 9)
    case = e.act(case.id, "reclassify", DISPATCHER, "q2", 1, fields={"category": "投诉"}).case
    # a 投诉 has the type's 15 working days, from the opening: Thu 2026-10-22 17:30 (as above)
    assert case.category == "投诉" and case.due_ts == bjt(2026, 10, 22, 17, 30)
    # and back: the 2 working days again, not 2 more
    case = e.act(case.id, "reclassify", DISPATCHER, "q3", 2, fields={"category": "咨询"}).case
    assert case.due_ts == bjt(2026, 9, 29, 17, 30)


def test_newest_first_orders_by_opening(store: Store) -> None:
    clock = Clock(bjt(2026, 9, 24, 10))
    e = engine(store, clock)
    ids = []
    for i, hour in enumerate((9, 15, 11)):
        clock.ms = bjt(2026, 9, 28, hour)
        ids.append(e.open("civic.complaint", DISPATCHER, f"n{i}", category="投诉").case.id)
    found = store.find_cases(CaseQuery(newest_first=True, limit=2))
    assert [c.id for c in found] == [ids[1], ids[2]]

"""Case KPIs (core/cases/kpi.py) on both stores: a month of civic cases built through the engine
with a settable clock, every KPI computed by hand below; rates within [0, 1] or null for random
histories.

November 2026 has no holiday: its working days are the weekdays, 7 working hours each (08:30-12:00,
14:00-17:30). Every case is a 咨询 (2 working days: due 17:30 of the 2nd working day after the
receipt day), opened at 09:00 and dispatched at 09:30 (签收 due 17:30 of the next working day).
U = nc-urban, H = nc-housing; areas in districts 360102 and 360103; "now" is Mon 11-30 12:00.

====  ======  ========  =================================================================================
case  dept    district  history (all in 2026-11 unless said)
====  ======  ========  =================================================================================
C1    U       360102    opened Mon 2, due Wed 4; signed 2 10:00 (on time); replied 3; callback 3 11:00
                        satisfaction 5: closed on time; handling 2 09:00 -> 3 11:00 = 6.5 + 2.5 = 9 h
C2    U       360102    opened Tue 3, due Thu 5; signed Thu 5 09:00 (step due Wed 4 17:30: late); replied,
                        callback 5 11:00 satisfaction 4: closed on time; 6.5 + 7 + 2.5 = 16 h
C3    U       360103    opened Wed 4, due Fri 6; signed on time; replied Mon 9, callback 9 11:00
                        satisfaction 2: closed late; 6.5 + 7 + 7 + 2.5 = 23 h
C4    H       360103    opened Thu 5, due Mon 9; signed on time; replied Fri 6 10:00, sent back (返工) 11:00:
                        due starts over, Tue 10 17:30; signed again Mon 9 (answers a rework: not counted);
                        replied 9 10:00; callback 9 11:00 satisfaction 5: on time; 6.5 + 7 + 2.5 = 16 h
C5    H       360103    opened Mon 23, due Wed 25; signed; 补充材料 23 11:00: paused at month's end, with
                        18.5 working hours left (due when the pause began: Wed 25 17:30) -> 缓办
C6    H       360103    opened Thu 26, due Mon 30; signed; 延期 granted 26 14:00: due + 5 working days =
                        Mon 12-07 17:30 (not due in November)
C7    U       360102    opened Mon 16, due Wed 18; signed on time; replied Thu 19, callback 19 11:00
                        satisfaction 4: closed late; 6.5 + 7 + 7 + 2.5 = 23 h
C8    H       360102    opened Mon 23, due Wed 25; dispatched, never signed: overdue now
C9    H       360102    opened Tue 10, due Thu 12; dispatched to U, returned (退单) by U, reassigned (改派) to
                        H 11:00, signed by H 14:30 (step due Wed 11 17:30: on time); replied Wed 11, no
                        callback: open and overdue now
C10   12345   360102    opened Tue 10, merged into C9 (并单): left out of 应结案
C11   U       360102    a grid report, Thu 12, not filed (不予立案): left out of 应结案
C12   U       360102    opened Fri 10-30, dispatched 10-30 (an October dispatch: its sign on Mon 2 is not
                        November's); due Tue 3; replied Mon 2, callback 2 11:00 satisfaction 5: on time;
                        handling 10-30 09:00 -> 11-02 11:00 = 6.5 + 2.5 = 9 h
====  ======  ========  =================================================================================

By department:

* U: 派单 C1 C2 C3 C7 C9 = 5; 按时签收 C1 C3 C7 = 3 (C2 late, C9 returned): 签收率 0.6. 应结案 C1 C2 C3 C7 C12
  = 5, 缓办 0, 结案 5, 按期 C1 C2 C12 = 3: 按期办结率 0.6, 结案率 1. 答复 C1 C2 C3 C7 C12 = 5, none reworked
  (返工率 0), all called back (回访率 1); 回访 5 of which satisfied (>= 4) 4: 满意率 0.8. 受理 C1 C2 C3 C7 C11
  = 5. Handled 9, 9, 16, 23, 23 h: mean 16, p90 (nearest rank 5 of 5) 23. Overdue 0.
* H: 派单 C4 C5 C6 C8 + C9's 改派 = 5; 按时签收 C4 C5 C6 C9 = 4: 0.8. 应结案 C4 (Nov 10) C5 (paused, Nov 25)
  C8 C9 = 4 (C6 is due in December), 缓办 1, 结案 1 (C4, on time): 按期办结率 = 结案率 = 1 / (4 - 1).
  答复 3 (C4 twice, C9): reworked 1, called back 1: 返工率 = 回访率 = 1/3. 回访 1, satisfied 1: 满意率 1.
  受理 5. Handled C4 16 h. Overdue C8, C9 = 2.
* nc-12345: C10 only: 受理 1, every rate null (nothing to judge).
* total: 受理 11, 派单 10, 按时签收 7, 应结案 9, 缓办 1, 结案 6, 按期 4, 答复 8, reworked 1, called back 6,
  回访 6, satisfied 5, handled 6 (mean 96 / 6 = 16 h, p90 rank 6 of 6 = 23 h), overdue 2.

By district, 360103 (C3 C4 C5 C6): 派单 4, 按时签收 4; 应结案 C3 C4 C5 = 3, 缓办 1, 结案 2, 按期 1 (C4):
按期办结率 1/2, 结案率 1.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from citybrain.core.cases.engine import Actor, CaseEngine
from citybrain.core.cases.kpi import KpiRow, KpiTable, month_kpis, month_range
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.errors import CitybrainError
from citybrain.core.store.base import Store
from citybrain.scenes.civic.casetypes import case_types
from citybrain.scenes.civic.settings import CivicSettings
from tests.core.cases.casekit import Clock, bjt

HOUR = 3_600_000
U, H, CENTRE = "nc-urban", "nc-housing", "nc-12345"
AGENT = Actor("话务员 (a1)", ("hotline_agent",), CENTRE)
DISPATCHER = Actor("派遣员 (d1)", ("dispatcher", "supervisor"), CENTRE)
CALLBACK = Actor("回访员 (c1)", ("callback_agent",), CENTRE)
HANDLER = {U: Actor("城管承办 (u1)", ("handler",), U), H: Actor("住建承办 (h1)", ("handler",), H)}
NOW = bjt(2026, 11, 30, 12)
RATES = ("sign_rate", "on_time_rate", "close_rate", "rework_rate", "callback_rate", "satisfaction_rate")


def civic_engine(store: Store, clock: Clock) -> CaseEngine:
    types = {ct.name: ct for ct in case_types(CivicSettings())}
    return CaseEngine(store, types, WorkCalendar.shipped(), audit=False, clock=clock)


class Month:
    """Cases told as stories: ``at`` sets the clock, ``act`` takes an action on the case's version."""

    def __init__(self, store: Store) -> None:
        self.clock = Clock(bjt(2026, 11, 2))
        self.engine = civic_engine(store, clock=self.clock)
        self.store, self.n, self.tag = store, itertools.count(), uuid.uuid4().hex[:8]

    def at(self, month: int, day: int, hour: int, minute: int = 0) -> Month:
        self.clock.ms = bjt(2026, month, day, hour, minute)
        return self

    def open(self, area: str, kind: str = "civic.hotline", category: str = "咨询", dept: str = CENTRE) -> str:
        who = DISPATCHER if kind == "civic.grid" else AGENT  # grid reports: not the hotline's to open
        out = self.engine.open(
            kind, who, f"{self.tag}-o{next(self.n)}", department=dept, area=area, category=category
        )
        return out.case.id

    def act(self, case_id: str, action: str, actor: Actor, **fields: Any) -> Any:
        version = self.store.case(case_id).version
        return self.engine.act(
            case_id, action, actor, f"{self.tag}-c{next(self.n)}", version, fields=fields
        ).case

    def handled(self, cid: str, dept: str, day: int, sign: tuple[int, int] = (10, 0)) -> None:
        """Dispatched at 09:30 of ``day`` to ``dept`` and signed then (default 10:00 the same day)."""
        self.at(11, day, 9, 30).act(cid, "dispatch", AGENT, department=dept)
        self.at(11, *sign).act(cid, "sign", HANDLER[dept])

    def replied(self, cid: str, dept: str, day: int, satisfaction: int | None) -> None:
        self.at(11, day, 10).act(cid, "reply", HANDLER[dept], reply="已答复")
        if satisfaction is not None:
            self.at(11, day, 11).act(cid, "callback", CALLBACK, satisfaction=satisfaction)


def build_november(store: Store) -> Month:
    m = Month(store)
    c1 = m.at(11, 2, 9).open("360102001001")
    m.handled(c1, U, 2, (2, 10))
    m.replied(c1, U, 3, 5)
    c2 = m.at(11, 3, 9).open("360102001002")
    m.handled(c2, U, 3, (5, 9))  # signed Thu 5 09:00: late
    m.replied(c2, U, 5, 4)
    c3 = m.at(11, 4, 9).open("360103001001")
    m.handled(c3, U, 4, (4, 10))
    m.replied(c3, U, 9, 2)
    c4 = m.at(11, 5, 9).open("360103001002")
    m.handled(c4, H, 5, (5, 10))
    m.at(11, 6, 10).act(c4, "reply", HANDLER[H], reply="已处理")
    case = m.at(11, 6, 11).act(c4, "rework", CALLBACK, reason="群众不认可")
    assert case.due_ts == bjt(2026, 11, 10, 17, 30) and case.step_due_ts == bjt(2026, 11, 9, 17, 30)
    m.at(11, 9, 9).act(c4, "sign", HANDLER[H])
    m.replied(c4, H, 9, 5)
    c5 = m.at(11, 23, 9).open("360103001003")
    m.handled(c5, H, 23, (23, 10))
    case = m.at(11, 23, 11).act(c5, "ask_info", HANDLER[H], question="请补充地址")
    assert case.state == "waiting" and case.due_ts is None and case.left_ms == int(18.5 * HOUR)
    c6 = m.at(11, 26, 9).open("360103001004")
    m.handled(c6, H, 26, (26, 10))
    m.at(11, 26, 11).act(c6, "request_extension", HANDLER[H], reason="需现场勘查")
    case = m.at(11, 26, 14).act(c6, "approve_extension", DISPATCHER)
    assert case.due_ts == bjt(2026, 12, 7, 17, 30)
    c7 = m.at(11, 16, 9).open("360102001003")
    m.handled(c7, U, 16, (16, 10))
    m.replied(c7, U, 19, 4)
    c8 = m.at(11, 23, 9).open("360102001004")
    m.at(11, 23, 9, 30).act(c8, "dispatch", AGENT, department=H)
    c9 = m.at(11, 10, 9).open("360102001005")
    m.at(11, 10, 9, 30).act(c9, "dispatch", AGENT, department=U)
    m.at(11, 10, 10).act(c9, "return", HANDLER[U], reason="不属本单位职责")
    m.at(11, 10, 11).act(c9, "reassign", DISPATCHER, department=H, reason="住建职责")
    m.at(11, 10, 14, 30).act(c9, "sign", HANDLER[H])
    m.replied(c9, H, 11, None)
    c10 = m.at(11, 10, 9, 5).open("360102001005")
    m.at(11, 10, 9, 10).act(c10, "merge", DISPATCHER, master=c9)
    c11 = m.at(11, 12, 9).open("360102001006", "civic.grid", "非法小广告", U)
    m.at(11, 12, 9, 20).act(c11, "reject", DISPATCHER, reason="非城管事项")
    c12 = m.at(10, 30, 9).open("360102001007")
    m.at(10, 30, 9, 30).act(c12, "dispatch", AGENT, department=U)
    m.at(11, 2, 9).act(c12, "sign", HANDLER[U])
    m.replied(c12, U, 2, 5)
    return m


def kpis(store: Store, by: str = "department", now: int = NOW, month: str = "2026-11") -> KpiTable:
    types = {ct.name: ct for ct in case_types(CivicSettings())}
    return month_kpis(store, types, WorkCalendar.shipped(), month, by, now=now, scene="civic")  # type: ignore[arg-type]


def row(table: KpiTable, key: str) -> KpiRow:
    return next(r for r in table.rows if r.key == key)


def test_a_hand_computed_month_by_department(store: Store) -> None:
    build_november(store)
    t = kpis(store)
    assert [r.key for r in t.rows] == [CENTRE, H, U]
    u = row(t, U).answer()
    assert u == {
        "key": U, "opened": 5, "dispatched": 5, "signed_on_time": 3, "sign_rate": 0.6, "due": 5, "paused": 0,
        "closed": 5, "closed_on_time": 3, "on_time_rate": 0.6, "close_rate": 1.0, "replies": 5, "reworked": 0,
        "rework_rate": 0.0, "called_back": 5, "callback_rate": 1.0, "callbacks": 5, "satisfied": 4,
        "satisfaction_rate": 0.8, "handled": 5, "handling_hours_mean": 16.0, "handling_hours_p90": 23.0,
        "overdue": 0,
    }  # fmt: skip
    h = row(t, H).answer()
    assert h == {
        "key": H, "opened": 5, "dispatched": 5, "signed_on_time": 4, "sign_rate": 0.8, "due": 4, "paused": 1,
        "closed": 1, "closed_on_time": 1, "on_time_rate": 1 / 3, "close_rate": 1 / 3, "replies": 3,
        "reworked": 1, "rework_rate": 1 / 3, "called_back": 1, "callback_rate": 1 / 3, "callbacks": 1,
        "satisfied": 1, "satisfaction_rate": 1.0, "handled": 1, "handling_hours_mean": 16.0,
        "handling_hours_p90": 16.0, "overdue": 2,
    }  # fmt: skip
    centre = row(t, CENTRE)
    assert centre.opened == 1 and all(getattr(centre, r) is None for r in RATES)
    assert centre.handling_hours_mean is None and centre.handling_hours_p90 is None
    total = t.total
    counts = (total.opened, total.dispatched, total.signed_on_time, total.due, total.paused, total.closed,
              total.closed_on_time, total.replies, total.reworked, total.called_back, total.callbacks,
              total.satisfied, total.handled, total.overdue)  # fmt: skip
    assert counts == (11, 10, 7, 9, 1, 6, 4, 8, 1, 6, 6, 5, 6, 2)
    assert total.sign_rate == 0.7 and total.on_time_rate == 0.5 and total.close_rate == 0.75
    assert total.satisfaction_rate == 5 / 6 and total.rework_rate == 1 / 8 and total.callback_rate == 6 / 8
    assert total.handling_hours_mean == 16.0 and total.handling_hours_p90 == 23.0
    # the overdue list: C8 (step due Tue 24 17:30, due Wed 25 17:30) and C9 (due Thu 12 17:30), longest first
    assert [(o.department, o.overdue_ms) for o in t.overdue] == [
        (H, NOW - bjt(2026, 11, 12, 17, 30)),
        (H, NOW - bjt(2026, 11, 24, 17, 30)),
    ]
    assert len(t.open_cases) == 4  # C5 (paused), C6 (extended), C8, C9
    assert (t.start, t.end) == month_range("2026-11") == (bjt(2026, 11, 1), bjt(2026, 12, 1))


def test_the_same_month_by_district(store: Store) -> None:
    build_november(store)
    t = kpis(store, "district")
    assert [r.key for r in t.rows] == ["360102", "360103"]
    d = row(t, "360103")
    assert (d.dispatched, d.signed_on_time, d.due, d.paused, d.closed, d.closed_on_time) == (4, 4, 3, 1, 2, 1)
    assert d.on_time_rate == 0.5 and d.close_rate == 1.0 and d.sign_rate == 1.0
    assert t.total.answer() | {"key": ""} == kpis(store).total.answer() | {
        "key": ""
    }  # same cases, other keys


def test_a_reader_of_one_district_sees_only_its_cases(store: Store) -> None:
    build_november(store)
    types = {ct.name: ct for ct in case_types(CivicSettings())}
    xihu = month_kpis(store, types, WorkCalendar.shipped(), "2026-11", "district", now=NOW, scene="civic",
                      admit=lambda area: area.startswith("360103"))  # fmt: skip
    assert [r.key for r in xihu.rows] == ["360103"]
    assert xihu.rows[0].answer() == row(kpis(store, "district"), "360103").answer()
    assert all(o.area.startswith("360103") for o in xihu.overdue)


def test_answers_after_the_month_and_an_empty_month(store: Store) -> None:
    m = Month(store)
    cid = m.at(11, 30, 9).open("360102001001")
    m.at(11, 30, 9, 30).act(cid, "dispatch", AGENT, department=U)
    # judged on the last day, the dispatch is not signed yet; judged in December, it was on time
    assert row(kpis(store, now=bjt(2026, 11, 30, 12)), U).sign_rate == 0.0
    m.at(12, 1, 9).act(cid, "sign", HANDLER[U])
    assert row(kpis(store, now=bjt(2026, 12, 2)), U).sign_rate == 1.0
    december = kpis(store, month="2026-12", now=bjt(2026, 12, 2))
    assert december.rows[0].dispatched == 0 and december.rows[0].sign_rate is None
    empty = kpis(store, month="2026-09")
    assert empty.rows == [] and all(getattr(empty.total, r) is None for r in RATES)


def test_a_month_that_is_not_one_is_refused(store: Store) -> None:
    for bad in ("2026-13", "2026-1x", "", "2026/11"):
        try:
            kpis(store, month=bad)
        except CitybrainError as err:
            assert "YYYY-MM" in str(err)
        else:
            raise AssertionError(bad)


# -- random histories ------------------------------------------------------------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["dispatch", "sign", "return", "reassign", "reply", "callback", "rework", "ask_info",
                         "info_received", "note", "merge"]),
        st.integers(1, 5 * 24),  # hours after the previous step
        st.sampled_from([U, H]),
        st.integers(1, 5),
    ),
    max_size=14,
)  # fmt: skip


def _try(m: Month, cid: str, action: str, dept: str, score: int) -> None:
    case = m.store.case(cid)
    handler = HANDLER.get(case.department, HANDLER[U])
    commands: dict[str, tuple[Actor, dict[str, Any]]] = {
        "dispatch": (AGENT, {"department": dept}),
        "sign": (handler, {}),
        "return": (handler, {"reason": "r"}),
        "reassign": (DISPATCHER, {"department": dept, "reason": "r"}),
        "reply": (handler, {"reply": "r"}),
        "callback": (CALLBACK, {"satisfaction": score}),
        "rework": (CALLBACK, {"reason": "r"}),
        "ask_info": (handler, {"question": "q"}),
        "info_received": (AGENT, {}),
        "note": (AGENT, {"text": "t"}),
        "merge": (DISPATCHER, {"master": "x"}),
    }
    who, fields = commands[action]
    with contextlib.suppress(CitybrainError):  # not possible in that state: the history goes on
        m.act(cid, action, who, **fields)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(st.tuples(st.integers(0, 40 * 24), STEPS), min_size=1, max_size=5))
def test_rates_are_shares_or_null_for_random_histories(store: Store, histories: Any) -> None:
    m = Month(store)
    base = bjt(2026, 10, 20)
    for start_h, steps in histories:
        m.clock.ms = base + start_h * HOUR
        cid = m.open("360102001001")
        for action, gap, dept, score in steps:
            m.clock.ms += gap * HOUR
            _try(m, cid, action, dept, score)
    for by in ("department", "district"):
        for month in ("2026-10", "2026-11", "2026-12"):
            t = kpis(store, by, now=bjt(2027, 1, 15), month=month)
            for r in [*t.rows, t.total]:
                for name in RATES:
                    value = getattr(r, name)
                    assert value is None or 0.0 <= value <= 1.0, (month, r.key, name, value)
                assert r.paused <= r.due and r.closed_on_time <= r.closed <= r.due
                assert r.signed_on_time <= r.dispatched and r.satisfied <= r.callbacks

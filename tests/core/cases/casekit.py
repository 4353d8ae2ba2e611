"""A 12345-style complaint as a case type, a settable clock and helpers for the case-engine tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from citybrain.core.cases.engine import Actor, CaseEngine
from citybrain.core.cases.model import ANY, Action, CaseType, Limit, State
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.events import Event
from citybrain.core.store.base import Store

BJT = timezone(timedelta(hours=8))

COMPLAINT = CaseType(
    name="civic.complaint",
    title="投诉 / complaint",
    initial="registered",
    limit=Limit(15, "working_days"),
    public_fields=("description", "reply"),
    states=(
        State("registered", "已登记 / registered"),
        State("dispatched", "已派遣 / dispatched", limit=Limit(1, "working_days")),
        State("accepted", "已签收 / accepted"),
        State("waiting", "待补充材料 / waiting for the citizen", pause=True),
        State("handled", "已办结 / handled"),
        State("closed", "已结案 / closed", public="closed", final=True),
    ),
    actions=(
        Action(
            "dispatch", "派遣 / dispatch", ("registered",), "dispatched", ("dispatcher",), ("department",)
        ),
        Action("sign", "签收 / accept", ("dispatched",), "accepted", ("handler",)),
        Action("return", "退单 / return", ("dispatched",), "registered", ("handler",), ("reason",)),
        Action(
            "ask_info", "补充材料 / ask the citizen", ("accepted",), "waiting", ("handler",), ("question",)
        ),
        Action("info_received", "材料已补 / answered", ("waiting",), "accepted", ("handler",)),
        Action("extend", "延期 / extend", ("accepted",), None, ("supervisor",), ("reason",), before_due=True,
               extends=Limit(5, "working_days")),
        Action("handle", "办结 / handle", ("accepted",), "handled", ("handler",), ("reply",)),
        Action("close", "结案 / close", ("handled",), "closed", ("dispatcher",)),
        Action("reopen", "返工 / rework", ("handled", "closed"), "dispatched", ("dispatcher",), ("reason",),
               restarts=True),
        Action("callback", "回访 / callback", ("closed",), None, ("dispatcher",), ("satisfaction",)),
        Action("note", "备注 / note", (ANY,), None, ("dispatcher", "handler")),
    ),
)  # fmt: skip

DISPATCHER = Actor("王调度 (u1)", ("dispatcher",), "hotline")
HANDLER = Actor("李办理 (u2)", ("handler",), "housing")
SUPERVISOR = Actor("赵主管 (u3)", ("supervisor",), "housing")


def bjt(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Epoch ms of a Beijing wall-clock time."""
    return int(datetime(year, month, day, hour, minute, tzinfo=BJT).timestamp() * 1000)


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class Published:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def engine(store: Store, clock: Clock, published: Published | None = None) -> CaseEngine:
    return CaseEngine(store, {COMPLAINT.name: COMPLAINT}, WorkCalendar.shipped(), published, clock=clock)

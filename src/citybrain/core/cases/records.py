"""What the store keeps of a case: its current row (``Case``) and its log (``CaseEntry``).

A case's row is what queries, inboxes and KPIs filter on (state, department, area, deadlines);
everything a case type adds (the caller's phone, the photo references, the satisfaction score)
lives in ``fields``. Each change is one entry of the log, numbered by the version it made, with
the client's command id (unique: a retried command is applied once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    id: str
    type: str  # a CaseType name ("civic.complaint")
    state: str
    version: int  # 1 when opened; +1 per change
    opened_ts: int
    updated_ts: int
    department: str = ""  # who handles it now (an organisation department id)
    area: str = ""  # where: an administrative or 15-digit unit-grid code
    category: str = ""  # what: a 部件/事件 class, an appeal kind (咨询, 投诉 ...)
    title: str = ""
    due_ts: int | None = None  # the whole case's deadline (moved by pauses and extensions)
    step_due_ts: int | None = None  # the current state's deadline
    closed_ts: int | None = None
    paused_since: int | None = None  # in a pause state since then
    left_ms: int | None = None  # while paused: the allowance left when the pause began
    assumed: bool = False  # a deadline counted days the calendar does not know (weekdays assumed)
    entered_ts: int = 0  # when it entered its current state (0: before this was recorded)
    lon: float | None = None
    lat: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def scene(self) -> str:
        return self.type.split(".", 1)[0]


@dataclass(frozen=True)
class CaseEntry:
    """One change of a case: who took which action, from and to which state, with what."""

    case_id: str
    version: int
    ts: int
    actor: str
    action: str
    from_state: str  # "" for the opening entry
    to_state: str
    command_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    # the case as the change left it: its department and deadlines (KPIs judge by them)
    department: str = ""
    due_ts: int | None = None
    step_due_ts: int | None = None


@dataclass(frozen=True)
class CaseChange:
    """A change to write: the case as it becomes, the version it was computed from (0: a new
    case) and its log entry."""

    case: Case
    expected: int
    entry: CaseEntry


@dataclass(frozen=True)
class CaseQuery:
    """Which cases: every filter optional; ``overdue_at`` (epoch ms) keeps the open cases whose
    deadline or step deadline has passed by then; ``text`` is a substring of title or fields."""

    type: str = ""
    scene: str = ""
    states: tuple[str, ...] = ()
    department: str = ""
    area_prefix: str = ""  # "360102" matches that district and every grid inside it
    category: str = ""
    open_only: bool = False
    overdue_at: int | None = None
    opened_since: int | None = None
    opened_until: int | None = None
    text: str = ""
    limit: int = 200
    newest_first: bool = False  # else the soonest deadline first (then the newest)

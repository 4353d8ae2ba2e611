"""The factory API's answer types (the OpenAPI document's response schemas). Answers with optional
parts are served with ``response_model_exclude_unset``, so a part that is absent stays absent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

Num = int | float  # counts and seconds: an int stays an int in the answer
Doc = dict[str, Any]


class Plant(BaseModel):
    """One site of the plant model, as in the plants file."""

    id: str
    name: str
    name_en: str
    industry: str
    district: str
    utc_offset_h: Num
    workshops: list[Doc]
    shifts: list[Doc]
    planned_stops: list[Doc]
    thresholds: Doc


class PlantSaved(BaseModel):
    site: str
    version: int


class PlantDeleted(BaseModel):
    site: str
    deleted: bool


class Machine(TypedDict, total=False):
    """A machine's live state (``key``, ``ts`` and what the processor last wrote). A TypedDict, not
    a model: the dashboard reads the nested ``oee.oee``, which the panel check cannot follow yet."""

    key: str
    ts: int
    site: str
    workshop: str
    line: str
    machine: str
    name: str
    station: str
    state: str
    category: str
    since: int
    online: bool
    shift: str | None
    oee: Doc | None
    output_this_hour: Num
    values: Doc
    units: dict[str, str]
    counter_events: Doc
    off_shift_pieces: Num
    last_seen_ms: int


class MachineDetail(BaseModel):
    key: str
    line: str
    workshop: str
    spec: Doc
    live: Doc | None


class OeeFigures(BaseModel):
    """ISO 22400-2 figures of a machine, line or site over a period (ratios null without production time)."""

    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    produced: Num
    good: Num
    reject: Num
    first_pass_yield: float | None
    time_s: dict[str, Num]
    losses_s: dict[str, Num]
    coverage: float | None
    clamped: list[str] = []  # ratios that left 0..1 and were clamped (a wrong ideal_cycle_s)


class OeeRow(OeeFigures):
    period: str  # "2026-07-06/A" (shift) or "2026-07-06" (day)
    level: str  # machine | line | site
    entity: str


class OeeLive(BaseModel):
    site: str
    machines: list[Doc]
    lines: dict[str, OeeFigures]


class Output(BaseModel):
    line: str | None = None
    plan_per_hour: Num | None = None
    hours: list[Doc]
    days: list[Doc]
    machines: list[Doc]
    rolled_yield: float | None = None
    reject_reasons: dict[str, Num]


class Backward(BaseModel):
    unit: str
    tree: Doc
    machines: list[str]
    operators: list[str]
    lots: list[str]


class Forward(BaseModel):
    lot: str
    used_in: list[Doc]
    units: list[str]


class Replay(BaseModel):
    id: str
    site: str
    line: str
    start: int
    end: int
    speed: Num
    status: str
    error: str
    position: int
    events: int
    sent: int
    frames: int
    topic: str
    progress: float
    snapshot: dict[str, Doc]


class DistrictPlant(BaseModel):
    site: str
    name: str
    name_en: str
    industry: str
    district: str
    connected: bool
    oee_today: float | None
    output_today: Num
    lines: int


class District(BaseModel):
    plants: list[DistrictPlant]
    connected: int
    share_connected: float | None
    target_share: float
    industries: dict[str, Doc]


class Connectivity(BaseModel):
    """The MQTT server's status; ``{"enabled": false}`` alone when the ingest is off."""

    enabled: bool | None = None
    broker: str | None = None
    connected: bool | None = None
    mqtt: Doc | None = None
    sparkplug: list[Doc] | None = None
    sparkplug_stats: Doc | None = None
    unmapped: dict[str, int] | None = None
    broker_refusals: Doc | None = None

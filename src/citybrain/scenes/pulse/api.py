"""City pulse API: districts with their live figures, and a city summary."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel

from citybrain import sdk
from citybrain.geo.regions import NANCHANG as DISTRICTS
from citybrain.scenes.pulse.settings import PulseSettings
from citybrain.sdk import AlertQuery

Rt = Annotated[sdk.Runtime[PulseSettings], Depends(sdk.runtime)]
router = sdk.router("read")


class District(BaseModel):
    code: str
    name: dict[str, str]
    last_minute: float | None = None
    current_minute: float | None = None
    current_minute_start: int | None = None
    by_category: dict[str, int] | None = None
    updated_ts: int | None = None


class Summary(BaseModel):
    districts: int
    reporting: int
    last_minute_total: float
    current_minute_total: float
    open_alerts: int


@router.get("/districts", summary="Districts with their report rates")
def districts(rt: Rt) -> list[District]:
    states: dict[str, dict[str, Any]] = {s["key"]: s for s in rt.store.states("pulse")}
    out = []
    for code, names in DISTRICTS.items():
        st = states.get(code)
        data = {k: v for k, v in st["data"].items() if k != "name"} if st else {}
        out.append(District(code=code, name=names, **data, updated_ts=st["ts"] if st else None))
    return out


@router.get("/summary", summary="City-wide figures")
def summary(rt: Rt) -> Summary:
    states = rt.store.states("pulse")
    return Summary(
        districts=len(DISTRICTS),
        reporting=len(states),
        last_minute_total=sum(s["data"].get("last_minute", 0.0) for s in states),
        current_minute_total=sum(s["data"].get("current_minute", 0.0) for s in states),
        open_alerts=len(rt.store.alerts(AlertQuery(status="open", scene="pulse"))),
    )

"""Safety API (mounted at /api/v1/scenes/safety): the 平安指数 of a month, its history, a district's
detail and the robustness of the ranks, read from the stored months; a recompute on demand.

| route | scope | what |
|---|---|---|
| GET /index | read | the month's index: districts with score, band, rank, dimensions, changes, imputed |
| GET /history | read | each district's score and rank over the last months (the trend) |
| GET /districts/{code} | read | one district: dimensions, indicators with contributions, changes, trend |
| GET /robustness | read | rank intervals per district and what moves the ranks most |
| POST /recompute | operate | compute a month now (a closed month only with ``force``) |

``month`` is "YYYY-MM" (Beijing time), by default the running month. Lists hold only the districts
the caller may read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from citybrain import sdk
from citybrain.scenes.safety.answers import DistrictAnswer, HistoryAnswer, IndexAnswer, RobustnessAnswer
from citybrain.scenes.safety.index import TREND_MONTHS, Safety, month_of, month_range
from citybrain.scenes.safety.views import district_answer, history_answer, index_answer, robustness_answer

router = sdk.router(None)
READ = [Depends(sdk.require("read"))]
OPERATE = [Depends(sdk.require("operate"))]
Rt = Annotated[sdk.Runtime[Any], Depends(sdk.runtime)]
Areas = Annotated[sdk.Areas, Depends(sdk.readable_areas)]
MONTH = Query(
    default="", pattern=r"^(\d{4}-\d{2})?$", description="YYYY-MM (Beijing time); empty: this month"
)


def _safety(rt: sdk.Runtime[Any]) -> Safety:
    w: Safety = rt.world
    return w


def _month(month: str) -> str:
    month = month or month_of(sdk.now_ms())
    month_range(month)  # 422 with the reason for a month outside 2000-2098
    return month


@router.get("/index", dependencies=READ, summary="The month's 平安指数 by district")
def index(rt: Rt, areas: Areas, month: str = MONTH) -> IndexAnswer:
    month = _month(month)
    w = _safety(rt)
    return index_answer(w, w.lookup(rt.store, month), month, areas)


@router.get("/history", dependencies=READ, summary="Each district's score and rank month by month")
def history(
    rt: Rt, areas: Areas, month: str = MONTH, months: Annotated[int, Query(ge=1, le=60)] = TREND_MONTHS
) -> HistoryAnswer:
    w = _safety(rt)
    return history_answer(w, w.months(rt.store), _month(month), months, areas)


@router.get("/districts/{code}", dependencies=READ, summary="One district: dimensions, indicators, trend")
def district(rt: Rt, areas: Areas, code: str, month: str = MONTH) -> DistrictAnswer:
    month = _month(month)
    w = _safety(rt)
    if code not in w.units or not areas.admit(code):
        raise sdk.NotFoundError(f"district {code!r} is not one of the index's units")
    trend = history_answer(w, w.months(rt.store), month, TREND_MONTHS, areas).districts
    points = next(t.points for t in trend if t.code == code)
    found = district_answer(w, w.lookup(rt.store, month), month, code, points)
    if found is None:
        raise sdk.NotFoundError(f"the index of {month} is not computed (or has no district {code})")
    return found


@router.get("/robustness", dependencies=READ, summary="Rank intervals and what moves the ranks most")
def robustness(rt: Rt, areas: Areas, month: str = MONTH) -> RobustnessAnswer:
    month = _month(month)
    w = _safety(rt)
    found = robustness_answer(w, w.lookup(rt.store, month), month, areas)
    if found is None:
        raise sdk.NotFoundError(f"the index of {month} is not computed")
    return found


@router.post("/recompute", dependencies=OPERATE, summary="Compute a month's index now")
async def recompute(
    rt: Rt, areas: Areas, month: str = MONTH, force: Annotated[bool, Query()] = False
) -> IndexAnswer:
    """The running month is always recomputed; a month computed after it closed only with
    ``force`` (else its stored result is answered)."""
    month = _month(month)
    w = _safety(rt)
    state = await w.ensure(rt, month, force)
    return index_answer(w, state, month, areas)

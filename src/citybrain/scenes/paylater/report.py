"""The pay-later section of the monthly report: the ledger's standing and the review queue, from
the same function the API and the big screen read (``api.overview``)."""

from __future__ import annotations

from typing import Any

from citybrain import sdk
from citybrain.scenes.paylater.api import overview
from citybrain.scenes.paylater.settings import PaylaterSettings


def report(rt: sdk.Runtime[PaylaterSettings], start: int, end: int) -> dict[str, Any]:
    """The standing at the time of the report (balances are running totals, not the month's)."""
    return {
        "title": {"zh-CN": "先离场后付费 · 资金与复核", "en": "Pay later: money and review"},
        "period": {"start": start, "end": end},
        **overview(rt.store).model_dump(),
    }

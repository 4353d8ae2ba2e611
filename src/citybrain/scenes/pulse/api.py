"""City pulse API: districts with their live figures, and a city summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from citybrain.api.auth import require
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.pulse.events import DISTRICTS


def routes(platform: Any) -> APIRouter:
    router = APIRouter(dependencies=[Depends(require("read"))])

    @router.get("/districts", summary="Districts with their report rates")
    def districts() -> list[dict[str, Any]]:
        states = {s["key"]: s for s in platform.store.states("pulse")}
        return [
            {"code": code, "name": names, **(states[code]["data"] if code in states else {}),
             "updated_ts": states[code]["ts"] if code in states else None}
            for code, names in DISTRICTS.items()
        ]  # fmt: skip

    @router.get("/summary", summary="City-wide figures")
    def summary() -> dict[str, Any]:
        states = platform.store.states("pulse")
        open_alerts = platform.store.alerts(AlertQuery(status="open", scene="pulse"))
        return {
            "districts": len(DISTRICTS),
            "reporting": len(states),
            "last_minute_total": sum(s["data"].get("last_minute", 0.0) for s in states),
            "current_minute_total": sum(s["data"].get("current_minute", 0.0) for s in states),
            "open_alerts": len(open_alerts),
        }

    return router

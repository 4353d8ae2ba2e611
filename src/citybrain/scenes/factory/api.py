"""Factory API under /api/v1/scenes/factory: plant model (read and edit), machines, OEE (live and
history, by shift or day, per machine, line and plant), output and quality, genealogy, replay,
district view and the MQTT/Sparkplug connection status."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Body, Depends, Query, Request

from citybrain.api.auth import require
from citybrain.core.errors import ConfigError, NotFoundError
from citybrain.scenes.factory import district as district_view
from citybrain.scenes.factory import genealogy, query
from citybrain.scenes.factory.ingest import SERVERS
from citybrain.scenes.factory.plant import PlantBook, SiteSpec, book_for
from citybrain.scenes.factory.replay import Replayer

DAY = 86_400_000


def _now() -> int:
    return time.time_ns() // 1_000_000


def edits_path(platform: Any, settings: dict[str, Any]) -> Path:
    given = settings.get("edits_file")
    return Path(given) if given else Path(platform.settings.data_dir) / "factory" / "plants.json"


def routes(platform: Any) -> APIRouter:
    settings = platform.settings.scenes.get("factory", {})
    book: PlantBook = book_for(settings)
    book.attach_edits(edits_path(platform, settings))
    replayer = Replayer(platform, book)
    read = [Depends(require("read"))]
    router = APIRouter()

    def _range(start: int | None, end: int | None, days: float) -> tuple[int, int]:
        end = end or _now()
        return (start if start is not None else end - int(days * DAY)), end

    # -- plant model ------------------------------------------------------------------------------
    @router.get("/plants", summary="Plants with workshops, lines and machines", dependencies=read)
    def plants() -> list[dict[str, Any]]:
        return [msgspec.to_builtins(s) for s in book.sites()]

    @router.get("/plants/{site}", summary="One plant's model", dependencies=read)
    def plant(site: str) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(book.site(site))
        return out

    @router.put(
        "/plants/{site}",
        summary="Create or replace a plant's model",
        dependencies=[Depends(require("admin"))],
    )
    def put_plant(site: str, request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        try:
            spec = msgspec.convert(body, SiteSpec)
        except msgspec.ValidationError as err:
            raise ConfigError(f"plant {site!r}: {err}") from err
        if spec.id != site:
            raise ConfigError(f"plant id {spec.id!r} in the body differs from {site!r} in the path")
        book.put_site(spec)
        who = getattr(getattr(request.state, "token", None), "name", "")
        platform.store.audit(_now(), who, "factory.plant.put", site, {"version": book.version})
        return {"site": site, "version": book.version}

    @router.delete(
        "/plants/{site}", summary="Remove a plant from the model", dependencies=[Depends(require("admin"))]
    )
    def delete_plant(site: str, request: Request) -> dict[str, Any]:
        book.delete_site(site)
        who = getattr(getattr(request.state, "token", None), "name", "")
        platform.store.audit(_now(), who, "factory.plant.delete", site, {"version": book.version})
        return {"site": site, "deleted": True}

    # -- machines and OEE -------------------------------------------------------------------------
    @router.get("/machines", summary="Live state of machines", dependencies=read)
    def machines(site: str | None = None, line: str | None = None) -> list[dict[str, Any]]:
        out = []
        for s in platform.store.states("factory"):
            d = s["data"]
            if (site is None or d.get("site") == site) and (line is None or d.get("line") == line):
                out.append({"key": s["key"], "ts": s["ts"], **d})
        return sorted(out, key=lambda m: m["key"])

    @router.get("/machines/{site}/{machine}", summary="One machine: model and live state", dependencies=read)
    def machine(site: str, machine: str) -> dict[str, Any]:
        ref = book.machine(f"{site}/{machine}")
        if ref is None:
            raise NotFoundError(f"machine {site}/{machine} is not in the plant model")
        st = platform.store.states("factory", ref.key)
        return {
            "key": ref.key,
            "line": ref.line.id,
            "workshop": ref.workshop.id,
            "spec": msgspec.to_builtins(ref.machine),
            "live": st[0]["data"] if st else None,
        }

    @router.get("/oee/{site}/live", summary="Current shift OEE of every machine and line", dependencies=read)
    def oee_live(site: str) -> dict[str, Any]:
        book.site(site)
        return query.live_oee(platform.store.states("factory"), book, site)

    @router.get(
        "/oee/{site}", summary="OEE history per machine, line and plant, by shift or day", dependencies=read
    )
    def oee(
        site: str,
        by: Literal["shift", "day"] = "shift",
        line: str | None = None,
        machine: str | None = None,
        start: int | None = None,
        end: int | None = None,
        days: float = Query(1.0, gt=0, le=400),
    ) -> list[dict[str, Any]]:
        a, b = _range(start, end, days)
        return query.oee_table(platform.store, book, site, a, b, by, line, machine)

    @router.get(
        "/output/{site}/{line}",
        summary="Output per hour and day vs plan, yield, reject reasons",
        dependencies=read,
    )
    def output(
        site: str,
        line: str,
        start: int | None = None,
        end: int | None = None,
        days: float = Query(1.0, gt=0, le=400),
    ) -> dict[str, Any]:
        a, b = _range(start, end, days)
        return query.output_table(platform.store, book, site, line, a, b)

    # -- traceability -----------------------------------------------------------------------------
    @router.get("/genealogy/{unit}/backward", summary="What made this unit or lot", dependencies=read)
    def backward(unit: str, depth: int = Query(10, ge=1, le=50)) -> dict[str, Any]:
        return genealogy.backward(platform.store, unit, depth)

    @router.get("/genealogy/{lot}/forward", summary="Where this lot went", dependencies=read)
    def forward(lot: str, depth: int = Query(10, ge=1, le=50)) -> dict[str, Any]:
        return genealogy.forward(platform.store, lot, depth)

    # -- look back --------------------------------------------------------------------------------
    @router.post("/replay", summary="Replay a past period of a line to the live feed", dependencies=read)
    async def replay(
        site: Annotated[str, Body()],
        line: Annotated[str, Body()],
        start: Annotated[int, Body()],
        minutes: Annotated[float, Body()] = 60.0,
        speed: Annotated[float, Body()] = 1.0,
    ) -> dict[str, Any]:
        return replayer.start(site, line, start, minutes, speed).view()

    @router.get("/replay/{rid}", summary="A replay's progress and snapshot", dependencies=read)
    def replay_status(rid: str) -> dict[str, Any]:
        return replayer.get(rid).view()

    @router.delete("/replay/{rid}", summary="Stop a replay", dependencies=read)
    def replay_stop(rid: str) -> dict[str, Any]:
        return replayer.stop(rid).view()

    # -- district and connectivity ----------------------------------------------------------------
    @router.get(
        "/district",
        summary="Plants side by side; connected share, OEE and output by industry",
        dependencies=read,
    )
    def district(days: int = Query(7, ge=1, le=90)) -> dict[str, Any]:
        return district_view.district(platform.store, book, _now(), days)

    @router.get("/connectivity", summary="MQTT subscription and Sparkplug node status", dependencies=read)
    def connectivity() -> dict[str, Any]:
        server = SERVERS.get(id(platform))
        return server.status() if server is not None else {"enabled": False}

    return router

"""Factory API under /api/v1/scenes/factory: plant model (read and edit), machines, OEE (live and
history, by shift or day, per machine, line and plant), output and quality, genealogy, replay,
district view and the MQTT/Sparkplug connection status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from fastapi import Body, Depends, Query, Request

from citybrain import sdk
from citybrain.scenes.factory import answers as a
from citybrain.scenes.factory import district as district_view
from citybrain.scenes.factory import genealogy, query
from citybrain.scenes.factory.plant import SiteSpec
from citybrain.scenes.factory.replay import MAX_SPAN_MS, Replayer, publisher
from citybrain.scenes.factory.settings import FactorySettings
from citybrain.scenes.factory.world import FactoryWorld
from citybrain.sdk import ConfigError, NotFoundError, now_ms

DAY = 86_400_000
Runtime = sdk.Runtime[FactorySettings, FactoryWorld]
Rt = Annotated[Runtime, Depends(sdk.runtime)]
Days = Annotated[float, Query(gt=0, le=400)]
Depth = Annotated[int, Query(ge=1, le=50)]
router = sdk.router("read")
admin = sdk.router("admin")  # plant model edits


def _range(start: int | None, end: int | None, days: float) -> tuple[int, int]:
    end = end or now_ms()
    return (start if start is not None else end - int(days * DAY)), end


def _who(request: Request) -> str:
    return getattr(getattr(request.state, "token", None), "name", "")


def replayer(rt: Runtime) -> Replayer:
    """The runtime's replay sessions (created at the first replay)."""
    w = rt.world
    with w.lock:
        if w.replayer is None:
            # the runtime's publish adds the scene after the topic; replays have one topic each
            w.replayer = Replayer(rt.store, publisher(rt), w.book)
        got: Replayer = w.replayer
        return got


# -- plant model ----------------------------------------------------------------------------------
@router.get("/plants", summary="Plants with workshops, lines and machines")
def plants(rt: Rt) -> list[a.Plant]:
    return [a.Plant(**msgspec.to_builtins(s)) for s in rt.world.book.sites()]


@router.get("/plants/{site}", summary="One plant's model")
def plant(rt: Rt, site: str) -> a.Plant:
    return a.Plant(**msgspec.to_builtins(rt.world.book.site(site)))


@admin.put("/plants/{site}", summary="Create or replace a plant's model")
def put_plant(rt: Rt, site: str, request: Request, body: Annotated[dict[str, Any], Body()]) -> a.PlantSaved:
    try:
        spec = msgspec.convert(body, SiteSpec)
    except msgspec.ValidationError as err:
        raise ConfigError(f"plant {site!r}: {err}") from err
    if spec.id != site:
        raise ConfigError(f"plant id {spec.id!r} in the body differs from {site!r} in the path")
    book = rt.world.book
    book.put_site(spec)
    rt.audit(_who(request), "factory.plant.put", site, {"version": book.version})
    return a.PlantSaved(site=site, version=book.version)


@admin.delete("/plants/{site}", summary="Remove a plant from the model")
def delete_plant(rt: Rt, site: str, request: Request) -> a.PlantDeleted:
    book = rt.world.book
    book.delete_site(site)
    rt.audit(_who(request), "factory.plant.delete", site, {"version": book.version})
    return a.PlantDeleted(site=site, deleted=True)


# -- machines and OEE -----------------------------------------------------------------------------
@router.get("/machines", summary="Live state of machines")
def machines(rt: Rt, site: str | None = None, line: str | None = None) -> list[a.Machine]:
    out: list[a.Machine] = []
    for s in rt.store.states("factory"):
        d = s["data"]
        if (site is None or d.get("site") == site) and (line is None or d.get("line") == line):
            out.append({"key": s["key"], "ts": s["ts"], **d})  # type: ignore[typeddict-item]
    return sorted(out, key=lambda m: m["key"])


@router.get("/machines/{site}/{machine}", summary="One machine: model and live state")
def machine(rt: Rt, site: str, machine: str) -> a.MachineDetail:
    ref = rt.world.book.machine(f"{site}/{machine}")
    if ref is None:
        raise NotFoundError(f"machine {site}/{machine} is not in the plant model")
    st = rt.store.states("factory", ref.key)
    return a.MachineDetail(
        key=ref.key,
        line=ref.line.id,
        workshop=ref.workshop.id,
        spec=msgspec.to_builtins(ref.machine),
        live=st[0]["data"] if st else None,
    )


@router.get("/oee/{site}/live", summary="Current shift OEE of every machine and line")
def oee_live(rt: Rt, site: str) -> a.OeeLive:
    book = rt.world.book
    book.site(site)
    return a.OeeLive(**query.live_oee(rt.store.states("factory"), book, site))


@router.get("/oee/{site}", summary="OEE history per machine, line and plant, by shift or day")
def oee(
    rt: Rt,
    site: str,
    by: Literal["shift", "day"] = "shift",
    line: str | None = None,
    machine: str | None = None,
    start: int | None = None,
    end: int | None = None,
    days: Days = 1.0,
) -> list[a.OeeRow]:
    lo, hi = _range(start, end, days)
    return [a.OeeRow(**r) for r in query.oee_table(rt.store, rt.world.book, site, lo, hi, by, line, machine)]


@router.get(
    "/output/{site}/{line}",
    summary="Output per hour and day vs plan, yield, reject reasons",
    response_model_exclude_unset=True,  # a line without machines answers its four lists only
)
def output(
    rt: Rt, site: str, line: str, start: int | None = None, end: int | None = None, days: Days = 1.0
) -> a.Output:
    lo, hi = _range(start, end, days)
    return a.Output(**query.output_table(rt.store, rt.world.book, site, line, lo, hi))


# -- traceability ---------------------------------------------------------------------------------
@router.get("/genealogy/{unit}/backward", summary="What made this unit or lot")
def backward(rt: Rt, unit: str, depth: Depth = 10) -> a.Backward:
    return a.Backward(**genealogy.backward(rt.store, unit, depth))


@router.get("/genealogy/{lot}/forward", summary="Where this lot went")
def forward(rt: Rt, lot: str, depth: Depth = 10) -> a.Forward:
    return a.Forward(**genealogy.forward(rt.store, lot, depth))


# -- look back ------------------------------------------------------------------------------------
@router.post("/replay", summary="Replay a past period of a line to the live feed")
async def replay(
    rt: Rt,
    site: Annotated[str, Body()],
    line: Annotated[str, Body()],
    start: Annotated[int, Body()],
    minutes: Annotated[float, Body(gt=0, le=MAX_SPAN_MS // 60_000, allow_inf_nan=False)] = 60.0,
    speed: Annotated[float, Body(ge=1, le=60, allow_inf_nan=False)] = 1.0,
) -> a.Replay:
    return a.Replay(**replayer(rt).start(site, line, start, minutes, speed).view())


@router.get("/replay/{rid}", summary="A replay's progress and snapshot")
def replay_status(rt: Rt, rid: str) -> a.Replay:
    return a.Replay(**replayer(rt).get(rid).view())


@router.delete("/replay/{rid}", summary="Stop a replay")
def replay_stop(rt: Rt, rid: str) -> a.Replay:
    return a.Replay(**replayer(rt).stop(rid).view())


# -- district and connectivity --------------------------------------------------------------------
@router.get("/district", summary="Plants side by side; connected share, OEE and output by industry")
def district(rt: Rt, days: Annotated[int, Query(ge=1, le=90)] = 7) -> a.District:
    return a.District(**district_view.district(rt.store, rt.world.book, now_ms(), days))


@router.get(
    "/connectivity",
    summary="MQTT subscription and Sparkplug node status",
    response_model_exclude_unset=True,  # {"enabled": false} alone when the ingest is off
)
def connectivity(rt: Rt) -> a.Connectivity:
    server = rt.world.server
    return a.Connectivity(**(server.status() if server is not None else {"enabled": False}))


router.include_router(admin)

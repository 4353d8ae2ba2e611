"""The FastAPI application: platform lifecycle, routers, scenes' routes, simulators."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry

from citybrain import __version__, web
from citybrain.api import (
    apidocs,
    documented,
    errors,
    live,
    queries,
    routes_aggregation,
    routes_cases,
    routes_erasures,
    routes_identity,
    routes_ingest,
    routes_oidc,
    routes_open311,
    routes_ops,
    routes_quarantine,
    routes_query,
    routes_reports,
    routes_session,
    security,
)
from citybrain.api import server as bind
from citybrain.api.bodies import BodyGate
from citybrain.api.masking import FieldGuard
from citybrain.api.ratelimit import RateLimiter
from citybrain.core.config import Settings
from citybrain.core.platform import Platform
from citybrain.identity import org
from citybrain.identity.directory import Directory, Limits
from citybrain.identity.policy import Policy
from citybrain.sim.base import IngestClient, SimContext

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    platform: Platform | None = None,
    simulate_with_token: str | None = None,
) -> FastAPI:
    """``simulate_with_token``: run every scene's simulators against this server with that token."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        p = platform or Platform(settings)
        app.state.platform = p
        app.state.token_cache = {}
        organisation = org.load(settings.identity.org_file)
        app.state.policy = Policy(organisation)
        ids = settings.identity
        limits = Limits(ids.session_idle_s, ids.session_lifetime_s, ids.max_failures, ids.lockout_s)
        app.state.directory = Directory(p.store, organisation, limits)
        p.hub.max_subscribers = settings.server.live_max_clients
        p.hub.max_patterns = settings.server.live_max_patterns
        app.state.ratelimit = RateLimiter(settings.ingest.rate_limit_eps, settings.ingest.rate_burst)
        registry = CollectorRegistry()
        registry.register(routes_ops.PlatformCollector(p))
        app.state.prometheus = registry
        for name, scene in p.scenes.items():
            if scene.routes is not None:
                app.include_router(scene.routes(p), prefix=f"/api/v1/scenes/{name}", tags=[f"scene: {name}"])
        p.hub.bind(asyncio.get_running_loop())
        p.start()
        planned = [
            (scene.name, server)
            for scene in p.scenes.values()
            if scene.servers is not None
            for server in scene.servers(p, settings.scenes.get(scene.name, {}))
        ]
        servers: list[Any] = []
        try:
            for scene_name, server in planned:  # every declared port first: none starts if one is taken
                bind.check(scene_name, server)
            for scene_name, server in planned:
                try:
                    await server.start()
                except OSError as err:
                    raise bind.CannotListen(bind.cannot_listen(scene_name, server, err)) from err
                servers.append(server)
        except bind.CannotListen as err:
            app.state.startup_failure = str(err)  # cli._serve says it and exits; no traceback logged
            log.error("%s", err)
            for started in reversed(servers):
                await started.stop()
            p.stop()
            raise
        p.servers = servers
        stop = asyncio.Event()
        tasks = []
        if simulate_with_token:
            tasks = await _start_simulators(p, settings, simulate_with_token, stop)
        state["platform"] = p
        try:
            yield
        finally:
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for server in reversed(servers):
                await server.stop()
            await p.batcher.stop()
            p.stop()

    app = FastAPI(
        title="citybrain",
        version=__version__,
        description="An open-source City Brain: ingest, processing, alerts and live feeds for a city.",
        lifespan=lifespan,
        docs_url=None,  # apidocs.install serves /docs and /redoc from /vendor/, under their own CSP
        redoc_url=None,
        dependencies=[Depends(queries.single_values)],  # one value per one-valued query parameter
    )
    errors.install(app)
    documented.install(app)  # every operation's error answers in /openapi.json
    app.add_middleware(FieldGuard)  # personal fields masked per role, unmasked reads audited
    app.add_middleware(BodyGate)  # token and size checked before any route reads a body
    app.include_router(routes_ingest.router)
    app.include_router(routes_query.router)
    app.include_router(routes_quarantine.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_erasures.router)
    app.include_router(routes_aggregation.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_open311.router)
    app.include_router(live.router)
    app.include_router(routes_session.router)
    app.include_router(routes_identity.router)
    app.state.oidc = routes_oidc.from_settings(settings.identity)  # None: OIDC sign-in is off
    app.include_router(routes_oidc.router)
    web.mount(app)
    apidocs.install(app)  # the API reference pages, whole from this server (no CDN)
    security.install(app)  # outermost: every answer carries the security headers
    return app


async def _start_simulators(
    p: Platform, settings: Settings, token: str, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    base = f"http://{settings.server.host}:{settings.server.port}"
    tasks: list[asyncio.Task[None]] = []
    for scene in p.scenes.values():
        for name, factory in scene.simulators.items():
            cfg = settings.simulators.get(name, {})
            if cfg.get("enabled", True) is False:
                continue
            sim = factory({k: v for k, v in cfg.items() if k != "enabled"})
            ctx = SimContext(
                IngestClient(base, token),
                settings.server.host,
                settings.scenes.get(scene.name, {}),
                p.servers,
                settings.data_path,
            )
            tasks.append(asyncio.create_task(_run_sim(sim, ctx, stop), name=f"sim-{name}"))
            log.info("simulator %s started against %s", name, base)
    return tasks


async def _run_sim(sim: Any, ctx: SimContext, stop: asyncio.Event) -> None:
    """Run a simulator until stopped; one that fails is logged and restarted after a pause."""
    name = getattr(sim, "name", sim)
    try:
        await ctx.http.wait_ready()
        while not stop.is_set():
            try:
                await sim.run(ctx, stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("simulator %s stopped with an error; restarting in 5 s", name)
            with contextlib.suppress(TimeoutError):  # never a tight loop, whatever run() did
                await asyncio.wait_for(stop.wait(), 5)
    finally:
        await ctx.http.aclose()

"""Administration from the command line, whether or not the platform is running.

The commands open the store directly. With the embedded store a running server holds the database
file, so a second process cannot open it: then they go through that server's API (on the
configured address) with the local admin token it saved (``<data_dir>/admin.token``). Either way
the change is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from citybrain.core.clock import now_ms
from citybrain.core.config import Settings
from citybrain.core.errors import ConfigError, StoreError
from citybrain.core.store.base import Store


def server_url(settings: Settings) -> str:
    s = settings.server
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
    return f"{'https' if s.tls_cert else 'http'}://{host}:{s.port}"


def running_api(settings: Settings) -> httpx.Client | None:
    """A client of the running server with the local admin token, or None when none answers."""
    token_file = settings.data_path / "admin.token"
    verify: Any = settings.server.tls_cert or True
    try:
        up = httpx.get(f"{server_url(settings)}/healthz", timeout=1.0, verify=verify).status_code == 200
    except httpx.HTTPError:
        return None
    if not up:
        return None
    if not token_file.exists():
        raise ConfigError(f"a server answers at {server_url(settings)} but {token_file} is missing")
    secret = token_file.read_text().strip()
    return httpx.Client(
        base_url=server_url(settings),
        headers={"Authorization": f"Bearer {secret}"},
        verify=verify,
        timeout=30,
    )


def answer(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        try:
            message = r.json().get("message") or r.text
        except ValueError:
            message = r.text
        raise ConfigError(f"{r.request.method} {r.request.url.path}: {r.status_code} {message}")
    return r.json()


@contextmanager
def target(settings: Settings) -> Iterator[Store | httpx.Client]:
    """The store, or (when a running server holds it) a client of that server's API."""
    from citybrain.core.platform import open_store

    try:
        store = open_store(settings)
    except StoreError:
        api = running_api(settings) if settings.store == "duckdb" else None
        if api is None:
            raise
        with api:
            yield api
        return
    try:
        yield store
    finally:
        store.close()


def create_token(settings: Settings, name: str, scopes: list[str]) -> dict[str, Any]:
    from citybrain.core.tokens import create_token as make

    with target(settings) as store:
        if isinstance(store, httpx.Client):
            out: dict[str, Any] = answer(store.post("/api/v1/tokens", json={"name": name, "scopes": scopes}))
            return out
        token_id, secret = make(store, name, scopes, owner="cli")
        store.audit(now_ms(), "cli", "token.create", token_id, {"name": name, "scopes": scopes})
    return {"id": token_id, "name": name, "scopes": scopes, "token": secret}


def create_user(settings: Settings, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as ``POST /api/v1/users`` takes them (username, name, department, roles, areas,
    password); the created user without secrets."""
    from citybrain.identity import org
    from citybrain.identity.directory import Directory

    with target(settings) as store:
        if isinstance(store, httpx.Client):
            out: dict[str, Any] = answer(store.post("/api/v1/users", json=fields))
            return out
        d = Directory(store, org.load(settings.identity.org_file))
        u = d.create_user(
            fields["username"], fields["name"], fields["department"], fields["roles"], fields["password"],
            now_ms(), fields.get("areas") or [],
        )  # fmt: skip
        store.audit(now_ms(), "cli", "user.create", u.id, {"username": u.username, "roles": u.roles})
    return {"id": u.id, "username": u.username, "name": u.name, "department": u.department, "roles": u.roles}


def erase(settings: Settings, scene: str, key: str, reason: str) -> dict[str, Any]:
    """Ask for a data subject's erasure (``core.erasure``); the pipeline carries it out, at once
    when the platform runs, else when it next starts."""
    from citybrain.core.erasure import erasure_dict, request_erasure
    from citybrain.core.scenes import discover

    with target(settings) as store:
        if isinstance(store, httpx.Client):
            body = {"scene": scene, "key": key, "reason": reason}
            out: dict[str, Any] = answer(store.post("/api/v1/erasures", json=body))
            return out
        return erasure_dict(request_erasure(store, discover(), scene, key, reason, "cli", now_ms()))


def report_sections(settings: Settings, periods: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Every scene's report section for each ``[start, end)`` of ``periods``: from the store
    through a platform built beside it (not started), or from the running server's
    ``GET /api/v1/report`` when that server holds the embedded store."""
    from citybrain.core.platform import Platform

    try:
        platform = Platform(settings)
    except StoreError:
        api = running_api(settings) if settings.store == "duckdb" else None
        if api is None:
            raise
        with api:
            return [
                answer(api.get("/api/v1/report", params={"start": start, "end": end}))["sections"]
                for start, end in periods
            ]
    try:
        return [platform.report(start, end) for start, end in periods]
    finally:
        platform.stop()

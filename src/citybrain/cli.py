"""The citybrain command line. Errors print as one line, not a traceback.

The core commands are defined here; an installed scene adds ``citybrain <scene> ...`` through
``Scene.commands`` and protocols for ``citybrain decode`` through ``Scene.decoders``. Scenes are
imported only when one of their commands or decoders is used, so ``citybrain --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import socket
import ssl
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from citybrain.core.clock import now_ms
from citybrain.core.config import ServerSettings, Settings, load_settings
from citybrain.core.errors import CitybrainError, DecodeError
from citybrain.core.store.base import Store

if TYPE_CHECKING:
    import uvicorn

SCENES_GROUP = "citybrain.scenes"  # = core.scenes.ENTRY_POINT_GROUP, read without importing it

app = typer.Typer(
    help="citybrain: an open-source City Brain", no_args_is_help=True, pretty_exceptions_enable=False
)
token_app = typer.Typer(help="API tokens", no_args_is_help=True)
user_app = typer.Typer(help="People who sign in to the console", no_args_is_help=True)
docs_app = typer.Typer(help="Generated documentation", no_args_is_help=True)
report_app = typer.Typer(help="Reports rendered to HTML and PDF (docs/reports.md)", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(report_app, name="report")
app.add_typer(user_app, name="user")
app.add_typer(docs_app, name="docs")

REPLAY_SHOWN = 10  # rejected lines `citybrain replay` prints
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="settings TOML (or CITYBRAIN_CONFIG)")]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _local_token(store: Store, path: Path, name: str, scopes: list[str]) -> str:
    """Reuse the token saved in ``path`` if the store still knows it; else create and save one."""
    from citybrain.core.tokens import create_token, digest

    if path.exists():
        secret = path.read_text().strip()
        known = store.token_by_hash(digest(secret))
        if known is not None and known.revoked_ts is None and set(scopes) <= set(known.scopes):
            return secret
    _, secret = create_token(store, name, scopes)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def _serve(config: Path | None, simulate: bool, role: str | None = None) -> None:
    from citybrain.api.app import create_app
    from citybrain.api.server import QuietStartupFailure, listen_socket
    from citybrain.core.platform import Platform

    settings = _settings(config)
    if role is not None:
        settings.role = role  # api|gateway|worker need bus.backend = "nats" (checked when the bus opens)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "amqtt", "transitions"):  # per-request / per-state-change chatter
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sock = listen_socket(settings.server)  # a taken port ends here, in one line, before the store opens
    platform = Platform(settings)
    data = settings.data_path
    admin = _local_token(platform.store, data / "admin.token", "local-admin", ["admin", "ingest"])
    # the simulators send events and play every role of the case workflows (civic): admin
    sim = (
        _local_token(platform.store, data / "simulators.token", "simulators", ["ingest", "admin"])
        if simulate
        else None
    )
    scheme = "https" if settings.server.tls_cert else "http"
    url = f"{scheme}://{settings.server.host}:{settings.server.port}"
    typer.echo(f"citybrain on {url}  (API docs {url}/docs)")
    typer.echo(f"admin token (also in {data / 'admin.token'}): {admin}")
    typer.echo(f"scenes: {', '.join(platform.scenes)}; simulators {'on' if simulate else 'off'}")
    application = create_app(settings, platform, simulate_with_token=sim)
    try:
        api_server(QuietStartupFailure(application), settings.server).run(sockets=[sock])
    except SystemExit:  # uvicorn's exit when the startup failed: a port a scene could not bind says why
        failure = getattr(application.state, "startup_failure", None)
        if failure:
            raise CitybrainError(failure) from None
        raise
    finally:
        sock.close()


def api_server(application: Any, server: ServerSettings) -> uvicorn.Server:
    """The uvicorn server for the API: HTTPS when ``server.tls_cert`` is set, its certificate
    reloaded while it runs when the files change or on SIGHUP (citybrain.gateways.tls)."""
    import uvicorn

    from citybrain.api.server import http_limits
    from citybrain.gateways.tls import ReloadingTls

    tls = None
    if server.tls_cert:
        tls = ReloadingTls(server.tls_cert, server.tls_key, check_every_s=server.tls_reload_s, name="api")

    def context(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
        assert tls is not None
        return tls.context

    config = uvicorn.Config(
        application,
        host=server.host,
        port=server.port,
        log_level="warning",
        **http_limits(server),  # request heads and live-feed messages bounded (api/server.py)
        ssl_context_factory=None if tls is None else context,
    )

    class ApiServer(uvicorn.Server):
        async def serve(self, sockets: list[socket.socket] | None = None) -> None:
            if tls is not None:
                tls.start()
            try:
                await super().serve(sockets)
            finally:
                if tls is not None:
                    await tls.stop()

    return ApiServer(config)


@app.command()
def run(config: ConfigOpt = None) -> None:
    """Start the platform with every scene's simulators (the one-command demo)."""
    _serve(config, simulate=True)


@app.command()
def serve(
    config: ConfigOpt = None,
    role: Annotated[
        str | None,
        typer.Option(help="all (default), api, gateway or worker; scale-out roles need bus.backend=nats"),
    ] = None,
) -> None:
    """Start the platform without simulators."""
    _serve(config, simulate=False, role=role)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="who or what uses it")],
    scope: Annotated[list[str], typer.Option(help="ingest, read, operate, admin (repeatable)")],
    config: ConfigOpt = None,
) -> None:
    """Create a token; its secret is printed once and stored only as a hash. Works while the
    platform runs (through its API) and while it does not (on the store)."""
    from citybrain import admin

    made = admin.create_token(_settings(config), name, scope)
    typer.echo(f"token {made['id']} ({', '.join(scope)}): {made['token']}")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="sign-in name: a-z, 0-9, '.', '_', '-'")],
    name: Annotated[str, typer.Option(help="the person's name as shown")],
    department: Annotated[str, typer.Option(help="a department id of the organisation file")],
    role: Annotated[list[str], typer.Option(help="a role of the organisation file (repeatable)")],
    area: Annotated[list[str] | None, typer.Option(help="an area code of their own (repeatable)")] = None,
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
    config: ConfigOpt = None,
) -> None:
    """Create a person who signs in to the console (asks for the password unless --password-stdin)."""
    import sys

    from citybrain import admin

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    fields = {"username": username, "name": name, "department": department, "roles": role,
              "areas": area or [], "password": password}  # fmt: skip
    made = admin.create_user(_settings(config), fields)
    typer.echo(f"user {made['id']} {made['username']} ({', '.join(made['roles'])})")


@app.command()
def erase(
    scene: Annotated[str, typer.Option(help="the scene holding the subject (nev, traffic, ...)")],
    key: Annotated[str, typer.Option(help="the subject's entity key (a VIN, a vehicle id, ...)")],
    reason: Annotated[str, typer.Option(help="the request it answers (kept in the audit log)")],
    config: ConfigOpt = None,
) -> None:
    """Erase a data subject's records in a scene on request; the audit of it is kept."""
    from citybrain import admin

    made = admin.erase(_settings(config), scene, key, reason)
    typer.echo(f"erasure {made['id']} of {scene} {key!r}: {made['status']} (GET /api/v1/erasures to follow)")


@token_app.command("list")
def token_list(config: ConfigOpt = None) -> None:
    """List tokens (never their secrets); through the running platform's API when it holds the store."""
    import httpx

    from citybrain import admin

    with admin.target(_settings(config)) as store:
        if isinstance(store, httpx.Client):
            rows = [
                (t["id"], t["name"], t["scopes"], t["revoked_ts"])
                for t in admin.answer(store.get("/api/v1/tokens"))
            ]
        else:
            rows = [(t.id, t.name, list(t.scopes), t.revoked_ts) for t in store.tokens()]
    for token_id, name, scopes, revoked_ts in rows:
        typer.echo(f"{token_id}  {name:<20} {','.join(scopes):<24} {'revoked' if revoked_ts else 'active'}")


@token_app.command("revoke")
def token_revoke(token_id: str, config: ConfigOpt = None) -> None:
    """Revoke a token; through the running platform's API when it holds the store (its live feeds
    close at once)."""
    import httpx

    from citybrain import admin

    with admin.target(_settings(config)) as store:
        if isinstance(store, httpx.Client):
            admin.answer(store.delete(f"/api/v1/tokens/{token_id}"))
        else:
            now = now_ms()
            store.revoke_token(token_id, now)
            store.audit(now, "cli", "token.revoke", token_id, {})
    typer.echo(f"revoked {token_id}")


@app.command()
def export(
    table: str,
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    since: Annotated[int | None, typer.Option(help="epoch ms")] = None,
    until: Annotated[int | None, typer.Option(help="epoch ms")] = None,
    config: ConfigOpt = None,
) -> None:
    """Export a table to Parquet or CSV (server stopped; while it runs use GET /api/v1/export/TABLE)."""
    from citybrain.core.store.duck import DuckStore

    if fmt not in ("parquet", "csv"):
        raise CitybrainError(f"--format must be parquet or csv, not {fmt!r}")
    settings = _settings(config)
    store = DuckStore(settings.data_path / "citybrain.duckdb", read_only=True)
    try:
        n = store.export(table, fmt, str(out), since, until)  # type: ignore[arg-type]
    finally:
        store.close()
    typer.echo(f"wrote {n} rows of {table} to {out}")


@app.command()
def backup(directory: Path, config: ConfigOpt = None) -> None:
    """Back up every table of the store into DIRECTORY (DuckDB: server stopped; PostgreSQL: live)."""
    from citybrain.core.store import backup as ops

    manifest = ops.backup(_settings(config), directory)
    rows = sum(manifest["tables"].values())
    typer.echo(f"backed up {len(manifest['tables'])} tables ({rows} rows, schema version "
               f"{manifest['schema_version']}) to {directory}")  # fmt: skip


@app.command()
def restore(directory: Path, config: ConfigOpt = None) -> None:
    """Restore a backup into an empty store (a new data folder, or an empty PostgreSQL schema)."""
    from citybrain.core.store import backup as ops

    manifest = ops.restore(_settings(config), directory)
    typer.echo(f"restored {len(manifest['tables'])} tables from {directory}")


@app.command()
def replay(
    file: Path,
    url: Annotated[str, typer.Option(help="server base URL")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(help="ingest token (or CITYBRAIN_TOKEN)")] = None,
    batch: Annotated[int, typer.Option(help="events per request")] = 5_000,
    restart: Annotated[bool, typer.Option(help="ignore saved progress and start over")] = False,
) -> None:
    """Send an NDJSON or CSV file of events to a server, resumably (progress in FILE.progress).
    Rejected lines are printed with their reasons (the first 10) and make the exit status 1."""
    from citybrain.replay import replay_file

    secret = token or os.environ.get("CITYBRAIN_TOKEN")
    if not secret:
        raise CitybrainError("no token: pass --token or set CITYBRAIN_TOKEN (an ingest-scope token)")
    summary = asyncio.run(replay_file(file, url, secret, batch, restart))
    typer.echo(
        f"replayed {file}: {summary['accepted']} accepted, {summary['duplicates']} duplicates, "
        f"{summary['rejected']} rejected (lines {summary['first_line']}..{summary['last_line']})"
    )
    if summary["rejected"]:
        shown = summary["problems"][:REPLAY_SHOWN]
        typer.echo(f"rejected lines (the first {len(shown)} of {summary['rejected']}):", err=True)
        for p in shown:
            where = f"{p['field']}: " if p["field"] else ""
            typer.echo(f"  {file}:{p['line']}: {where}{p['reason']}", err=True)
        raise typer.Exit(1)


@report_app.command("monthly")
def report_monthly(
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM, Beijing time (default: the month before this one)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="also copy the files to this folder")] = None,
    lang: Annotated[str, typer.Option(help="zh (Chinese) or en (English), from the same data")] = "zh",
    config: ConfigOpt = None,
) -> None:
    """Render the monthly report of every scene to HTML and PDF and archive it with the files'
    SHA-256 (<data_dir>/reports: `citybrain report list`, GET /api/v1/reports)."""
    import shutil
    from functools import partial

    from citybrain import admin
    from citybrain.core.reports import monthly
    from citybrain.core.reports.schedule import Reports

    settings = _settings(config)
    if lang not in ("zh", "en"):
        raise CitybrainError(f"--lang must be zh or en, not {lang!r}")
    month = month or monthly.previous_month(monthly.month_of(now_ms()))
    reports = Reports(
        settings.reports, settings.data_path / "reports", partial(admin.report_sections, settings)
    )
    entry, _ = reports.generate(month, lang, "cli")
    folder = reports.archive.root / entry.id
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir()):
            shutil.copyfile(path, out / path.name)
        folder = out
    stem = f"report-{month}.{lang}"
    typer.echo(f"wrote {folder / stem}.pdf, {stem}.html and {stem}.sha256 ({len(entry.sections)} sections, "
               f"{entry.seconds:.1f} s), archived as {entry.id}")  # fmt: skip


@report_app.command("list")
def report_list(
    period: Annotated[str, typer.Option(help="YYYY-MM: that month's reports only")] = "",
    lang: Annotated[str, typer.Option(help="zh or en: that language's only")] = "",
    config: ConfigOpt = None,
) -> None:
    """The archived reports, newest first: id, when and by whom, and each file's SHA-256 and size."""
    from datetime import datetime

    from citybrain.core.cases.engine import BJT
    from citybrain.core.reports.archive import Archive

    settings = _settings(config)
    for e in Archive(settings.data_path / "reports").entries("", period, lang):
        when = datetime.fromtimestamp(e.generated_ts / 1000, BJT).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{e.id}  {when}  by {e.generated_by}  ({e.seconds:.1f} s, {len(e.sections)} sections)")
        for f in e.files:
            typer.echo(f"  {f.sha256}  {f.name}  ({f.size:,} bytes)")


@docs_app.command("events")
def docs_events() -> None:
    """Print the event catalogue (docs/events.md) generated from the registered event kinds."""
    from citybrain.catalogue import catalogue_markdown
    from citybrain.core.scenes import discover

    discover()
    typer.echo(catalogue_markdown(), nl=False)


@docs_app.command("settings")
def docs_settings() -> None:
    """Print the settings reference (docs/settings.md): the platform's and every SDK scene's."""
    from citybrain.reference import settings_markdown

    typer.echo(settings_markdown())


@docs_app.command("panels")
def docs_panels() -> None:
    """Print the panel widgets reference (docs/panels.md)."""
    from citybrain.reference import panels_markdown

    typer.echo(panels_markdown())


def _decoders() -> dict[str, str]:
    """Protocol name -> "module:function", as the installed scenes declare them."""
    from citybrain.core.scenes import discover

    return {name: path for scene in discover().values() for name, path in scene.decoders.items()}


@app.command()
def decode(
    protocol: Annotated[str, typer.Argument(help="a protocol a scene declares, e.g. jt808 or gb32960")],
    hex_frame: Annotated[str, typer.Argument(help="one frame as hex (JT/T 808: with its 0x7e delimiters)")],
) -> None:
    """Decode one protocol frame given as hex and print it as JSON."""
    decoders = _decoders()
    if protocol not in decoders:
        raise DecodeError(f"protocol {protocol!r} is not available; installed: {', '.join(sorted(decoders))}")
    decoded: dict[str, Any] = EntryPoint(protocol, decoders[protocol], "citybrain.decoders").load()(hex_frame)
    typer.echo(msgspec.json.format(msgspec.json.encode(decoded), indent=2).decode())


def _add_scene_commands(argv: list[str]) -> None:
    """Mount ``citybrain <scene> ...`` when ``argv`` runs a scene's commands: only that scene is
    imported. Scene names come from their entry points, so help names them without importing any."""
    names = sorted(ep.name for ep in entry_points(group=SCENES_GROUP))
    installed = ", ".join(names)
    app.info.epilog = f"Scenes may add commands: citybrain SCENE --help (installed scenes: {installed})"
    if not argv or argv[0] not in names:
        return
    from citybrain.core.scenes import discover

    scene = discover({argv[0]}).get(argv[0])
    if scene is None or scene.commands is None:
        raise CitybrainError(f"scene {argv[0]!r} has no commands")
    app.add_typer(scene.commands(), name=argv[0])


def main() -> None:
    try:
        _add_scene_commands(sys.argv[1:])
        app()
    except CitybrainError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except (OSError, csv.Error) as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)

"""Settings: defaults here, overridden by a TOML file, overridden by environment variables.

``CITYBRAIN_CONFIG`` names the file; ``CITYBRAIN_<SECTION>__<KEY>=value`` overrides one key
(value parsed as TOML, else taken as a string), e.g. ``CITYBRAIN_SERVER__PORT=9000``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from citybrain.core.errors import ConfigError
from citybrain.core.eventtime import EventTimeGate, TimeWindow


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"  # the HTTP API and dashboard listen here
    port: int = 8000  # the HTTP port (dashboard at http://<host>:<port>)
    max_body_bytes: int = 1_048_576  # every route but ingest (which has ingest.max_body_bytes)
    max_header_bytes: int = 32_768  # request line and headers of one request; over it: 431
    live_max_patterns: int = 64  # live-feed subscriptions per client
    live_max_clients: int = 1_000  # live-feed connections in all
    live_recheck_s: float = 5.0  # a live client's token is re-checked this often
    ws_max_bytes: int = 65_536  # largest WebSocket message a client may send
    tls_cert: str = ""  # PEM certificate chain file: set it to serve HTTPS (HTTP when empty)
    tls_key: str = ""  # PEM private key file (empty: the key is in tls_cert)
    tls_reload_s: float = 5.0  # how often the files are checked for a new certificate (SIGHUP: at once)


class BusSettings(msgspec.Struct, forbid_unknown_fields=True):
    backend: str = "embedded"  # embedded (in-process, log in the store) | nats (JetStream, scale-out)
    partitions: int = 4  # partitions of the log: the most workers that can share the load
    tail: int = 65_536  # events kept in memory per partition for live consumers
    max_lag: int = 2_000_000  # ingest answers 429 while a consumer lags more than this


class PostgresSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Used when ``store = "postgres"``: the shared store of a scaled-out city."""

    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"  # libpq connection string
    schema: str = "citybrain"  # every table lives in this schema (created if missing)


class NatsSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Used when ``bus.backend = "nats"``: partition N is stream ``<stream>_P<N>``, subject
    ``<subject>.p<N>``."""

    url: str = "nats://127.0.0.1:4222"  # comma-separated for a cluster
    stream: str = "CITYBRAIN"  # partition N is stream <stream>_P<N>; leases in <stream>_leases
    subject: str = "citybrain.events"  # partition N is subject <subject>.p<N>
    replicas: int = 1  # 3 on a 3-node cluster
    max_events_per_msg: int = 500  # events batched into one JetStream message
    max_pending_msgs: int = 20_000  # per partition not yet in the store; beyond it publishers get 429
    lease_ttl_s: float = 3.0  # a killed worker's partitions are taken over after about this long
    worker_id: str = ""  # default: host-pid


class IngestSettings(msgspec.Struct, forbid_unknown_fields=True):
    max_body_bytes: int = 64 * 1024 * 1024  # after gzip decompression too
    max_events: int = 250_000  # per request, checked before the events are decoded
    rate_limit_eps: float = 0.0  # events/s per token; 0 = unlimited
    rate_burst: float = 0.0  # bucket size; 0 = one second of rate
    # accepted event times around ingest time, at every entry point (core/eventtime.py)
    max_future_s: float = 300.0  # an event dated further ahead of the platform clock is refused
    max_age_days: float = 0.0  # 0 = any age
    sources: dict[str, TimeWindow] = msgspec.field(default_factory=dict)  # per-source windows

    def time_gate(self) -> EventTimeGate:
        return EventTimeGate(TimeWindow(self.max_future_s, self.max_age_days), self.sources)


class PipelineSettings(msgspec.Struct, forbid_unknown_fields=True):
    batch_max: int = 5_000  # events a processor takes in one batch (one commit)
    tick_ms: int = 1_000  # how often processors get a wall-clock tick (silence and timeout rules)


class RetentionSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Days to keep each table; 0 keeps forever. Alerts are deleted only once resolved."""

    events_days: int = 30  # raw events (only once every processor consumed them)
    metrics_days: int = 400  # metric points
    alerts_days: int = 400  # resolved alerts
    late_events_days: int = 30  # the record of late events
    quarantine_days: int = 90  # quarantined events
    audit_days: int = 0  # the audit log (0 = keep forever)
    check_every_s: int = 3_600  # how often retention runs


class IdentitySettings(msgspec.Struct, forbid_unknown_fields=True):
    org_file: str = ""  # areas, departments and roles (TOML); empty: the Nanchang demo organisation
    session_idle_s: int = 1_800  # a console session unused this long ends
    session_lifetime_s: int = 43_200  # and every session ends this long after sign-in
    max_failures: int = 5  # failed sign-ins in a row before the account is locked...
    lockout_s: int = 900  # ...for this long
    # OIDC sign-in with the city's identity provider (docs/operations.md); empty issuer: OIDC off
    oidc_issuer: str = ""  # the provider's issuer URL (https; http only on loopback), as its discovery says
    oidc_client_id: str = ""  # citybrain's client at the provider (a confidential client)
    oidc_client_secret: str = ""  # its secret (also keys the signed cookie that carries the sign-in's state)
    oidc_redirect_url: str = ""  # the public URL of /api/v1/auth/oidc/callback, registered at the provider
    oidc_scopes: str = "openid profile"  # space-separated; must include openid
    oidc_username_claim: str = "preferred_username"  # the ID token claim matched to a local username
    # roles, department and areas always come from citybrain's own user record, never from the provider
    oidc_provision: str = "existing"  # existing: only people with an enabled local account of that username


class CasesSettings(msgspec.Struct, forbid_unknown_fields=True):
    # TOML: holidays and 调休 days the package does not know yet, local days, hours per department
    calendar_file: str = ""  # the city's working-day calendar table; empty: the one shipped


class AggregationSettings(msgspec.Struct, forbid_unknown_fields=True):
    # TOML: the departments' datasets ([[datasets]]: owner, key, typed columns, pull/file/push)
    datasets_file: str = ""  # empty: no dataset is declared
    poll_s: float = 15.0  # how often due pulls run, drop folders are read and lateness is judged
    # never in the store; the same file on every node; made at first start with the DuckDB store
    # (one process), to be given with PostgreSQL (docs/aggregation.md, "Encryption at rest")
    key_file: str = ""  # the key sealing sensitive columns (mode 0600); empty: <data_dir>/keys/fields.key


class ReportsSettings(msgspec.Struct, forbid_unknown_fields=True):
    # the platform makes last month's report by itself and archives it (docs/reports.md)
    enabled: bool = True  # make the monthly report on schedule, once a month (it checks the archive)
    day: int = 1  # the day of the month (1-28, Beijing time) from which last month's report is due
    hour: int = 6  # the Beijing hour (0-23) of that day from which it is due
    languages: list[str] = msgspec.field(default_factory=lambda: ["zh", "en"])  # one report each
    first_check_s: float = 120.0  # the schedule's first look after the start (deliveries have come in)
    check_every_s: float = 300.0  # how often the schedule looks whether a report is due
    retry_s: float = 900.0  # wait after a failed generation before the next try


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    data_dir: str = "var"  # the embedded store, tokens and gateway journals live here
    store: str = "duckdb"  # duckdb (embedded, one process) | postgres (shared, scale-out)
    role: str = "all"  # all | api | gateway | worker (api/gateway publish only; workers process)
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    bus: BusSettings = msgspec.field(default_factory=BusSettings)
    postgres: PostgresSettings = msgspec.field(default_factory=PostgresSettings)
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    pipeline: PipelineSettings = msgspec.field(default_factory=PipelineSettings)
    retention: RetentionSettings = msgspec.field(default_factory=RetentionSettings)
    identity: IdentitySettings = msgspec.field(default_factory=IdentitySettings)
    cases: CasesSettings = msgspec.field(default_factory=CasesSettings)
    aggregation: AggregationSettings = msgspec.field(default_factory=AggregationSettings)
    reports: ReportsSettings = msgspec.field(default_factory=ReportsSettings)
    scenes: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)  # per-scene settings
    simulators: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)  # per-simulator settings

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    path = path or env.get("CITYBRAIN_CONFIG")
    if path:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ConfigError(f"settings file {p} does not exist") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"settings file {p}: {err}") from err
    for name, value in env.items():
        if not name.startswith("CITYBRAIN_") or name == "CITYBRAIN_CONFIG":
            continue
        parts = name[len("CITYBRAIN_") :].lower().split("__")
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_value(value)
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as err:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid settings{where}: {err}") from err


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text

"""Helpers for the scale-out tests (conftest.py re-exports the fixtures): real servers on loopback --
the machine's PostgreSQL and NATS (started when down; a test fails loudly, never skips, when one
cannot be started), a fresh schema and stream set per test, and private nats-server, PostgreSQL and
worker child processes where a test must kill or restart them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from citybrain.core.config import Settings, load_settings
from citybrain.core.events import Event

PG_DSN = os.environ.get("CITYBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("CITYBRAIN_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
HERE = Path(__file__).resolve().parent


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _wait(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def postgres_up() -> None:
    import psycopg

    def ok() -> bool:
        try:
            psycopg.connect(PG_DSN, connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    if ok():
        return
    for v in os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "start"], timeout=60, check=False
        )
    if not _wait(ok, 30):
        pytest.fail(f"PostgreSQL at {PG_DSN} is down and could not be started")


def nats_up() -> None:
    if _port_open("127.0.0.1", 4222) or "127.0.0.1:4222" not in NATS_URL:
        return
    subprocess.run(
        ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", NATS_SERVER, "--", "-a",
         "127.0.0.1", "-p", "4222", "-js", "-sd", "/var/lib/nats-server", "-l", "/var/log/nats-server.log"],
        timeout=30, check=False,
    )  # fmt: skip
    if not _wait(lambda: _port_open("127.0.0.1", 4222), 20):
        pytest.fail(f"NATS at {NATS_URL} is down and could not be started")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A private nats-server child process (its own port and store dir): tests may restart it."""

    def __init__(self, store_dir: Path) -> None:
        self.port = free_port()
        self.store_dir = store_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait(lambda: _port_open("127.0.0.1", self.port), 20):
            pytest.fail(f"could not start {NATS_SERVER} on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)
        self.proc = None


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def delete_streams(url: str, stream: str, partitions: int) -> None:
    import asyncio

    import nats

    async def go() -> None:
        nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=1)
        js = nc.jetstream()
        for name in [f"{stream}_P{p}" for p in range(partitions)] + [f"KV_{stream}_leases"]:
            with contextlib.suppress(Exception):  # cleanup: a missing stream is fine
                await js.delete_stream(name)
        await nc.close()

    asyncio.run(go())


MakeSettings = Callable[..., Settings]


@pytest.fixture
def scaleout(tmp_path: Path) -> Iterator[MakeSettings]:
    """Settings for a scaled-out platform in a fresh schema and stream set; cleaned up afterwards."""
    postgres_up()
    tag = uuid.uuid4().hex[:10]
    made: list[Settings] = []

    def make(url: str = NATS_URL, partitions: int = 4, **env: str) -> Settings:
        if url == NATS_URL:
            nats_up()
        base = {
            "CITYBRAIN_DATA_DIR": str(tmp_path / "var"),
            "CITYBRAIN_STORE": "postgres",
            "CITYBRAIN_POSTGRES__DSN": PG_DSN,
            "CITYBRAIN_POSTGRES__SCHEMA": f"so_{tag}",
            "CITYBRAIN_BUS__BACKEND": "nats",
            "CITYBRAIN_BUS__PARTITIONS": str(partitions),
            "CITYBRAIN_NATS__URL": url,
            "CITYBRAIN_NATS__STREAM": f"SO_{tag}",
            "CITYBRAIN_NATS__SUBJECT": f"so{tag}.events",
            "CITYBRAIN_NATS__LEASE_TTL_S": "1.5",
        }
        s = load_settings(env={**base, **env})
        made.append(s)
        return s

    yield make
    for s in made[:1]:
        if s.postgres.dsn == PG_DSN:  # a private cluster goes with its directory
            drop_schema(s.postgres.schema)
    for url, stream, parts in {(s.nats.url, s.nats.stream, s.bus.partitions) for s in made}:
        if url == NATS_URL:  # a private server's streams go with its store dir
            delete_streams(url, stream, parts)


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that gives a child process the same settings."""
    return {
        **os.environ,
        "CITYBRAIN_STORE": s.store,
        "CITYBRAIN_POSTGRES__DSN": s.postgres.dsn,
        "CITYBRAIN_POSTGRES__SCHEMA": s.postgres.schema,
        "CITYBRAIN_BUS__BACKEND": s.bus.backend,
        "CITYBRAIN_BUS__PARTITIONS": str(s.bus.partitions),
        "CITYBRAIN_NATS__URL": s.nats.url,
        "CITYBRAIN_NATS__STREAM": s.nats.stream,
        "CITYBRAIN_NATS__SUBJECT": s.nats.subject,
        "CITYBRAIN_NATS__LEASE_TTL_S": str(s.nats.lease_ttl_s),
        "CITYBRAIN_DATA_DIR": s.data_dir,
    }


def start_worker(s: Settings, name: str) -> subprocess.Popen[bytes]:
    """A worker process (role worker, the pulse scene) that runs until killed."""
    env = {**settings_env(s), "CITYBRAIN_ROLE": "worker", "CITYBRAIN_NATS__WORKER_ID": name}
    return subprocess.Popen([sys.executable, str(HERE / "worker_main.py")], env=env)


class PostgresServer:
    """A private PostgreSQL cluster (initdb in a temp dir, run as the postgres user): tests may crash
    and restart it without touching the machine's server that other work shares."""

    BIN = (
        Path("/usr/lib/postgresql")
        / (os.listdir("/usr/lib/postgresql")[0] if os.path.isdir("/usr/lib/postgresql") else "15")
        / "bin"
    )

    def __init__(self) -> None:
        import tempfile

        self.port = free_port()
        # not under pytest's tmp dir: that is private to root and the server runs as postgres
        self.root = Path(tempfile.mkdtemp(prefix="citybrain-pg-"))
        self.data = self.root / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if out.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed: {out.stderr.strip()[-500:]}")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "log")
        self._as_postgres(
            str(self.BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", log, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.init()
    server.start()
    yield server
    with contextlib.suppress(BaseException):  # already stopped by the test
        server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)


def expected_counts(events: Sequence[Event]) -> dict[tuple[str, int], int]:
    """(district, minute start) -> number of reports: what the pulse metric must show, exactly."""
    out: dict[tuple[str, int], int] = {}
    for ev in events:
        k = (ev.key, ev.ts - ev.ts % 60_000)
        out[k] = out.get(k, 0) + 1
    return out


def metric_counts(store: object, keys: set[str], t0: int, t1: int) -> dict[tuple[str, int], int]:
    from citybrain.scenes.pulse.processors import METRIC

    out: dict[tuple[str, int], int] = {}
    for k in keys:
        for ts, v in store.metric_series(METRIC, k, t0, t1, 60_000, "sum"):  # type: ignore[attr-defined]
            out[(k, ts)] = int(v)
    return out


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails the test with ``what`` when ``timeout`` passes."""
    t0 = time.monotonic()
    if not _wait(cond, timeout):
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
    return time.monotonic() - t0

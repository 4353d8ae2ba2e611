"""Operations from the command line against real `citybrain serve` processes (issue 18): tokens
listed and revoked while the platform holds the store, `replay` naming the lines it could not
send and exiting non-zero, and `serve` ending with one clear line when a port is taken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citybrain.testing import free_port, server_ports_env
from tests.cli.test_cli import cli
from tests.support.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ops") / "var", free_port())
    srv.start()
    yield srv
    srv.stop()


def test_tokens_are_listed_and_revoked_while_the_platform_runs(server: Server) -> None:
    env = {"CITYBRAIN_SERVER__PORT": str(server.port)}  # the CLI finds the server at its address
    made = cli("token", "create", "--name", "wall", "--scope", "read", data=server.data, env=env)
    assert made.returncode == 0, made.stderr
    token_id, secret = made.stdout.split()[1], made.stdout.split()[-1]
    listed = cli("token", "list", data=server.data, env=env)
    assert listed.returncode == 0, listed.stderr  # the DuckDB lock made this fail
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(token_id))
    assert "wall" in line and line.endswith("active")
    session = httpx.get(f"{server.url}/api/v1/session", headers={"Authorization": f"Bearer {secret}"})
    assert session.status_code == 200
    revoked = cli("token", "revoke", token_id, data=server.data, env=env)
    assert revoked.returncode == 0 and f"revoked {token_id}" in revoked.stdout, revoked.stderr
    time.sleep(5.5)  # past the server's token cache only if the revocation had not cleared it
    after = httpx.get(f"{server.url}/api/v1/session", headers={"Authorization": f"Bearer {secret}"})
    assert after.status_code == 401
    listed = cli("token", "list", data=server.data, env=env)
    assert next(ln for ln in listed.stdout.splitlines() if ln.startswith(token_id)).endswith("revoked")
    audit = httpx.get(
        f"{server.url}/api/v1/audit", headers={"Authorization": f"Bearer {server.token}"}
    ).json()
    assert any(a["action"] == "token.revoke" and a["target"] == token_id for a in audit), audit[:3]


def _event(i: int) -> str:
    ts = int(time.time() * 1000) - 60_000 + i
    return json.dumps(
        {"kind": "pulse.report", "key": "360102", "ts": ts, "category": "hotline", "id": f"o{i}"}
    )


def test_replay_names_the_rejected_lines_and_exits_non_zero(server: Server, tmp_path: Path) -> None:
    lines = [_event(i) for i in range(30)]
    lines[4] = "{not json"
    lines[9] = json.dumps({"kind": "no.such.kind", "key": "k", "ts": 1})
    lines[14] = json.dumps({"kind": "pulse.report", "key": "360102", "ts": "yesterday"})
    for n in range(20, 30):  # 13 rejected in all: only the first 10 are printed
        lines[n] = "[]"
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(lines) + "\n")
    out = cli("replay", str(path), "--url", server.url, "--token", server.token, "--batch", "8")
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "17 accepted" in out.stdout and "13 rejected" in out.stdout
    shown = [ln for ln in out.stderr.splitlines() if ln.startswith(f"  {path}:")]
    assert len(shown) == 10 and "the first 10 of 13" in out.stderr
    at = {int(ln.split(":")[1]): ln for ln in shown}  # file line numbers, across batches of 8
    assert sorted(at)[:4] == [5, 10, 15, 21], shown
    assert "no.such.kind" in at[10] and "ts" in at[15]
    assert "Traceback" not in out.stderr
    good = tmp_path / "good.ndjson"
    good.write_text("\n".join(_event(100 + i) for i in range(5)) + "\n")
    ok = cli("replay", str(good), "--url", server.url, "--token", server.token)
    assert ok.returncode == 0 and "5 accepted" in ok.stdout and ok.stderr == "", ok.stderr


def _serve(data: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`citybrain serve`, which must end by itself (a server left running fails the test)."""
    e = {**os.environ, "CITYBRAIN_DATA_DIR": str(data), **server_ports_env(), **env}
    cmd = [sys.executable, "-c", "from citybrain.cli import main; main()", "serve"]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=90)


def _taken(host: str) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen()
    return s


def test_serve_ends_with_one_line_when_the_http_port_is_taken(tmp_path: Path) -> None:
    with _taken("127.0.0.1") as holder:
        port = holder.getsockname()[1]
        out = _serve(tmp_path / "var", {"CITYBRAIN_SERVER__PORT": str(port)})
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the API cannot listen on 127.0.0.1:{port}: ") and "server.port" in last
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "var" / "citybrain.duckdb").exists()  # stopped before opening the store


@pytest.mark.parametrize(
    ("setting", "names"),
    [
        ("CITYBRAIN_SCENES__NEV__GATEWAY__PORT", "scene nev: gb32960 cannot listen on 127.0.0.1:{port}"),
        (
            "CITYBRAIN_SCENES__FACTORY__INGEST__MQTT__EMBEDDED_PORT",
            "embedded MQTT broker on 127.0.0.1:{port}",
        ),
    ],
)
def test_serve_ends_with_one_line_when_a_gateway_port_is_taken(
    tmp_path: Path, setting: str, names: str
) -> None:
    with _taken("0.0.0.0") as holder:
        port = holder.getsockname()[1]
        out = _serve(tmp_path / "var", {setting: str(port), "CITYBRAIN_SERVER__PORT": str(free_port())})
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and names.format(port=port) in last, last
    assert "ddress already in use" in last and "scene settings" in last
    assert "Traceback" not in out.stderr

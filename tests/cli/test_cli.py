"""The command line: tokens, export, replay (against a real server), decode, docs drift, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from citybrain.testing import free_port
from tests.support.server import Server

REPO = Path(__file__).resolve().parents[2]

TS = 1_763_900_000_000


def cli(
    *args: str, data: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    e = {**os.environ, **(env or {})}
    if data is not None:
        e["CITYBRAIN_DATA_DIR"] = str(data)
    return subprocess.run(
        [sys.executable, "-c", "from citybrain.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=120,
    )


def test_event_catalogue_is_up_to_date() -> None:
    out = cli("docs", "events")
    assert out.returncode == 0
    assert (REPO / "docs" / "events.md").read_text() == out.stdout, (
        "run `make docs` to regenerate docs/events.md"
    )


def test_token_create_list_revoke(tmp_path: Path) -> None:
    made = cli("token", "create", "--name", "bureau", "--scope", "read", "--scope", "operate", data=tmp_path)
    assert made.returncode == 0 and "cb_" in made.stdout
    token_id = made.stdout.split()[1]
    listed = cli("token", "list", data=tmp_path).stdout
    assert token_id in listed and "read,operate" in listed and "active" in listed
    assert cli("token", "revoke", token_id, data=tmp_path).returncode == 0
    assert "revoked" in cli("token", "list", data=tmp_path).stdout
    bad = cli("token", "create", "--name", "x", "--scope", "god", data=tmp_path)
    assert (
        bad.returncode == 2
        and bad.stderr.startswith("error: unknown scope")
        and "Traceback" not in bad.stderr
    )


def test_errors_are_one_line(tmp_path: Path) -> None:
    missing = cli("replay", str(tmp_path / "nope.ndjson"), "--token", "x")
    assert (
        missing.returncode == 2
        and missing.stderr.strip().count("\n") == 0
        and "does not exist" in missing.stderr
    )
    conf = tmp_path / "bad.toml"
    conf.write_text("[server]\nport = 'eighty'\n")
    bad = cli("token", "list", "--config", str(conf))
    assert bad.returncode == 2 and "invalid settings" in bad.stderr and "Traceback" not in bad.stderr


def _frame(tsv: str, row_id: str) -> str:
    for line in (REPO / "tests" / "data" / "frames" / tsv).read_text().splitlines():
        cols = line.split("\t")
        if cols[0] == row_id:
            return cols[6]
    raise LookupError(row_id)


def test_decode_commands_print_json() -> None:
    jt = cli("decode", "jt808", _frame("jt808.tsv", "JT-SC-01"))  # SmallChi: 0x0001, serial 1203
    assert jt.returncode == 0
    body = json.loads(jt.stdout)
    assert (
        body["msg_id"] == "0x0001"
        and body["header"]["serial"] == 1203
        and body["body"]["reply_serial"] == 1000
    )
    gb = cli("decode", "gb32960", _frame("gb32960.tsv", "GB-SS-01"))  # production capture, 2016 edition
    assert gb.returncode == 0 and json.loads(gb.stdout)["vin"] == "H3V21AA24RZ016158"
    bad = cli("decode", "jt808", "7e00zz7e")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_replay_is_resumable_and_export_writes_files(tmp_path: Path) -> None:
    srv = Server(tmp_path / "var", free_port())
    srv.start()
    try:
        ndjson = tmp_path / "events.ndjson"
        lines = [
            json.dumps(
                {"kind": "pulse.report", "key": "360102", "ts": TS + i, "category": "hotline", "id": f"f{i}"}
            )
            for i in range(250)
        ]
        lines.insert(100, '{"kind": "pulse.report", "key": "360102", "ts": "late"}')
        ndjson.write_text("\n".join(lines) + "\n")
        first = cli("replay", str(ndjson), "--url", srv.url, "--token", srv.token, "--batch", "100")
        assert first.returncode == 1, first.stderr  # a line was rejected
        assert "250 accepted" in first.stdout and "1 rejected" in first.stdout
        assert f"{ndjson}:101: " in first.stderr
        again = cli("replay", str(ndjson), "--url", srv.url, "--token", srv.token)
        assert "0 accepted" in again.stdout  # resumed after the last acknowledged line: nothing left
        assert again.returncode == 0, again.stderr
        restart = cli("replay", str(ndjson), "--url", srv.url, "--token", srv.token, "--restart")
        assert "250 duplicates" in restart.stdout
        csv_file = tmp_path / "events.csv"
        csv_file.write_text(
            f"kind,key,ts,category,count\npulse.report,360103,{TS},parking,2\npulse.report,360103,x,parking,1\n"
        )
        c = cli("replay", str(csv_file), "--url", srv.url, "--token", srv.token)
        assert "1 accepted" in c.stdout and "1 rejected" in c.stdout
        assert c.returncode == 1 and f"{csv_file}:3: " in c.stderr
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"}) as client:
            exported = client.get("/api/v1/export/events", params={"format": "csv"}).text
            assert exported.count(',"pulse.report",') == 251  # other scenes may add events of their own
    finally:
        srv.stop()
    out = cli("export", "events", "--out", str(tmp_path / "e.parquet"), data=tmp_path / "var")
    kinds = pq.read_table(tmp_path / "e.parquet").column("kind").to_pylist()
    assert out.returncode == 0 and kinds.count("pulse.report") == 251  # other scenes add their own


@pytest.mark.parametrize("table", ["metrics", "alerts"])
def test_export_other_tables_as_csv(tmp_path: Path, table: str) -> None:
    cli("token", "list", data=tmp_path)  # creates the store
    out = cli("export", table, "--out", str(tmp_path / f"{table}.csv"), "--format", "csv", data=tmp_path)
    assert out.returncode == 0 and (tmp_path / f"{table}.csv").exists()


def create_user(
    data: Path, username: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    e = {**os.environ, "CITYBRAIN_DATA_DIR": str(data), **(env or {})}
    args = ["user", "create", "--username", username, "--name", "李娜", "--department", "donghu-civil",
            "--role", "caseworker", "--password-stdin"]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", "from citybrain.cli import main; main()", *args],
        input="correct horse battery staple\n", capture_output=True, text=True, env=e, timeout=120,
    )  # fmt: skip


def test_users_and_tokens_are_made_on_the_store_and_through_a_running_server(tmp_path: Path) -> None:
    offline = create_user(tmp_path / "var", "lina")
    assert offline.returncode == 0 and "lina (caseworker)" in offline.stdout, offline.stderr
    bad = create_user(tmp_path / "var", "lina")
    assert bad.returncode == 2 and "username 'lina' is taken" in bad.stderr
    port = free_port()
    srv = Server(tmp_path / "var", port)
    srv.start()  # the server now holds the DuckDB file: the CLI goes through its API
    try:
        env = {"CITYBRAIN_SERVER__PORT": str(port)}
        online = create_user(tmp_path / "var", "wang", env)
        assert online.returncode == 0 and "wang (caseworker)" in online.stdout, online.stderr
        made = cli("token", "create", "--name", "bi", "--scope", "read", data=tmp_path / "var", env=env)
        assert made.returncode == 0 and "cb_" in made.stdout, made.stderr
        secret = made.stdout.split()[-1]
        r = httpx.get(f"{srv.url}/api/v1/session", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200 and r.json()["name"] == "bi"
        login = httpx.post(f"{srv.url}/api/v1/auth/login",
                           json={"username": "lina", "password": "correct horse battery staple"})  # fmt: skip
        assert login.status_code == 200 and login.json()["areas"] == ["360102"]
        audit = httpx.get(f"{srv.url}/api/v1/audit", headers={"Authorization": f"Bearer {srv.token}"}).json()
        assert {"user.create", "token.create"} <= {a["action"] for a in audit}
    finally:
        srv.stop()

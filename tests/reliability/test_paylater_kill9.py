"""kill -9 of the platform while cars leave and pay, then restart: every session is settled
exactly once, every second payment is refunded, the ledger balances and the provider's statement
reconciles with it.

The payment provider is a sandbox in a process of its own (it outlives the platform, as a real
one does). Gate reads are sent twice, payments at the gate are made through the cashier, a share
of sessions is also debited by the "ETC system" with an order of its own (the 上海 case), and the
platform is killed twice mid-stream; every request that was not answered is sent again after the
restart, with the same ids.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from citybrain.core.store.duck import DuckStore
from citybrain.scenes.paylater.channels import SandboxChannel
from citybrain.testing import free_port
from tests.support.server import Server

BASE = "/api/v1/scenes/paylater"
CARS = 60  # half bound (charged after leaving), half paying at the gate


def sandbox(tmp: Path, name: str) -> tuple[subprocess.Popen[str], str, str, Path]:
    key = tmp / f"{name}.pem"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from citybrain.scenes.paylater.sandbox import main; main()",
         "--public-key", str(key), "--port", str(free_port()), "--delay-ms", "100"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    url, serial = proc.stdout.readline().strip(), proc.stdout.readline().strip()
    assert url.startswith("http://") and len(serial) == 40, (url, serial)
    return proc, url, serial, key


class Driver:
    """Sends what a lot and its drivers send; a request not answered (the platform was killed) is
    sent again, unchanged, until it is."""

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.c = httpx.Client(base_url=srv.url, timeout=10)

    def send(self, path: str, body: dict[str, Any]) -> Any:
        while True:
            try:
                r = self.c.post(BASE + path, json=body, headers={"Authorization": f"Bearer {self.srv.token}"})
            except httpx.TransportError:
                time.sleep(0.3)
                continue
            if r.status_code in (502, 503):
                time.sleep(0.3)
                continue
            return r

    def get(self, path: str) -> Any:
        while True:
            try:
                r = self.c.get(BASE + path, headers={"Authorization": f"Bearer {self.srv.token}"})
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            time.sleep(0.3)


def refunded(drv: Driver, found: list[dict[str, Any]]) -> bool:
    """Every movement ``found`` on the statement was booked and refunded by the platform."""
    for m in found:
        sid = m["order_id"].rsplit("-", 1)[0]
        txns = [p["txn"] for p in drv.get(f"/sessions/{sid}")["postings"]]
        if not any(t.startswith("refund:") for t in txns) or not any(t.startswith("dup:etc:") for t in txns):
            return False
    return True


def test_kill9_while_paying_settles_every_session_once(tmp_path: Path) -> None:
    provider, url, serial, key = sandbox(tmp_path, "wechat")
    etc_provider, etc_url, etc_serial, etc_key = sandbox(
        tmp_path, "etc"
    )  # another provider, its own statement
    config = tmp_path / "citybrain.toml"
    wechat = f'{{ url = "{url}", public_key_file = "{key}", serial = "{serial}" }}'
    etc_channel = f'{{ url = "{etc_url}", public_key_file = "{etc_key}", serial = "{etc_serial}" }}'
    config.write_text(
        '[scenes.paylater]\ndispatch_every_ms = 100\nquery_after_ms = 2000\nreconcile_at = ""\n'
        f"channels = {{ wechat = {wechat}, etc = {etc_channel} }}\n",
        encoding="utf-8",
    )
    srv = Server(tmp_path / "var", free_port(), CITYBRAIN_CONFIG=str(config))
    srv.start()
    rng = random.Random(16)
    plates = [f"赣A{10000 + i}" for i in range(CARS)]
    now = time.time_ns() // 1_000_000
    sessions: dict[str, str] = {}
    done = threading.Event()
    drv = Driver(srv)
    etc = SandboxChannel(etc_url, etc_key.read_bytes(), etc_serial, name="etc")

    def traffic() -> None:
        for i, plate in enumerate(plates):
            if i % 2 == 0:
                drv.send("/bindings", {"plate": plate, "action": "bind", "payer": f"wx-{i}", "consent": "c"})
            read = {"lot": "bayi-square", "gate": "g", "plate": plate, "confidence": 0.98}
            drv.send("/gate", {**read, "id": f"in-{i}", "direction": "entry", "ts": now - 3 * 3_600_000 + i})
        for i, plate in enumerate(plates):
            deadline = time.monotonic() + 60
            while not (drv.get(f"/plates/{plate}")["state"] or {}).get("open"):
                assert time.monotonic() < deadline, f"{plate}'s entry was never processed"
                time.sleep(0.1)
            read = {"lot": "bayi-square", "gate": "g", "plate": plate, "confidence": 0.98}
            exit_ = {**read, "id": f"out-{i}", "direction": "exit", "ts": now - 3_600_000 + i}
            answer = drv.send("/gate", exit_).json()
            drv.send("/gate", exit_)  # the lot system sends it again
            sid = sessions[plate] = answer["session"]
            if answer["decision"] == "pay":
                deadline = time.monotonic() + 60
                while drv.send(f"/sessions/{sid}/pay", {}).status_code != 200:  # until processed
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            if rng.random() < 0.3:  # the ETC system debits the car as well
                etc.create_payment(f"{sid}-etc", answer["fee_fen"], "etc-card", "ETC",
                                   f"{srv.url}{BASE}/notify/etc")  # fmt: skip
        done.set()

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        for _ in range(2):
            time.sleep(rng.uniform(1.5, 4.0))
            srv.kill9()  # mid-stream: reads, payments and notices in flight
            time.sleep(0.5)
            srv.start()
        sender.join(300)
        assert done.is_set(), "the traffic did not finish"
        deadline = time.monotonic() + 120
        while True:  # every payment settled and every duplicate refunded
            o = drv.get("/overview")
            if o["outstanding_fen"] == 0 and o["refunds_pending_fen"] == 0 and o["accrued_fen"] > 0:
                break
            assert time.monotonic() < deadline, f"not settled: {o}"
            time.sleep(0.5)
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
        run = drv.send("/reconciliation", {"channel": "wechat", "day": day}).json()
        first_etc = drv.send("/reconciliation", {"channel": "etc", "day": day}).json()
        # ETC debits whose notice came while the platform was down, and which the platform never
        # asks after (not its orders): the statement finds them, and they are refunded
        found = first_etc["report"]["channel_only"]
        assert first_etc["counts"]["channel_only"] == len(found)
        assert all(m["order_id"].endswith("-etc") and m["kind"] == "payment" for m in found), found
        assert first_etc["counts"]["platform_only"] == first_etc["counts"]["amount_mismatch"] == 0
        deadline = time.monotonic() + 60
        while drv.get("/overview")["refunds_pending_fen"] or not refunded(drv, found):
            assert time.monotonic() < deadline, "the ETC debits found on the statement were not refunded"
            time.sleep(0.5)
        etc_run = drv.send("/reconciliation", {"channel": "etc", "day": day}).json()
    finally:
        etc.close()
        drv.c.close()
        srv.stop()
        for p in (provider, etc_provider):
            p.terminate()
            p.wait(30)
            assert p.stdout is not None
            p.stdout.close()
    assert run["clean"] and etc_run["clean"], (run["report"], etc_run["report"])

    store = DuckStore(tmp_path / "var" / "citybrain.duckdb", read_only=True)
    try:
        assert store.trial_balance().balanced
        settles = [
            p for p in store.ledger_postings(prefix="payer:", limit=100_000) if p.txn.startswith("settle:")
        ]
        settles += [
            p for p in store.ledger_postings(prefix="plate:", limit=100_000) if p.txn.startswith("settle:")
        ]
        assert sorted(p.ref for p in settles) == sorted(set(sessions.values()))  # each exactly once
        balances = store.ledger_balances()
        fees = -balances["lot:bayi-square"]
        assert fees > 0 and balances.get("channel:wechat", 0) + balances.get("channel:etc", 0) == fees
        assert balances.get("clearing:refunds", 0) == 0
    finally:
        store.close()

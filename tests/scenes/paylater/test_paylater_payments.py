"""Payments for real: a platform serving HTTP on a port, the dispatcher placing orders with sandbox
providers (real HTTP servers of their own), the providers posting signed notices back to the
platform's notify route, the cashier for a car told to pay at the gate, a QR payment and an ETC
debit for the same exit with the second refunded by the provider, a lost notice found by asking,
and a forged notice refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from citybrain.api.app import create_app
from citybrain.core.cases.records import CaseQuery
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.core.tokens import create_token
from citybrain.scenes.paylater import scene
from citybrain.scenes.paylater.gateway import Dispatcher
from citybrain.scenes.paylater.reconciliation import BEIJING
from citybrain.scenes.paylater.sim import simulator
from citybrain.sim.base import IngestClient, SimContext
from citybrain.testing import free_port
from tests.scenes.paylater.paylater_testkit import BASE, HOUR, MIN

PLATE, OTHER = "赣A12345", "赣B88888"


class Live:
    def __init__(self, url: str, p: Platform) -> None:
        self.url, self.p = url, p
        self.h = {s: {"Authorization": f"Bearer {create_token(p.store, s, [s])[1]}"}
                  for s in ("read", "ingest", "operate")}  # fmt: skip
        self.c = httpx.Client(base_url=url, timeout=10)
        self.n = 0

    def post(self, path: str, body: dict[str, Any], scope: str = "ingest") -> Any:
        r = self.c.post(BASE + path, json=body, headers=self.h[scope])
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, path: str) -> Any:
        r = self.c.get(BASE + path, headers=self.h["read"])
        assert r.status_code == 200, r.text
        return r.json()

    def gate(self, plate: str, direction: str, ts: int) -> dict[str, Any]:
        self.n += 1
        got: dict[str, Any] = self.post("/gate", {"id": f"r{self.n}", "lot": "bayi-square", "gate": "g",
                                                  "direction": direction, "plate": plate, "confidence": 0.97,
                                                  "ts": ts})  # fmt: skip
        return got

    def until(self, what: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def session(self, sid: str) -> dict[str, Any]:
        got: dict[str, Any] = self.get(f"/sessions/{sid}")["session"]
        return got

    def dispatcher(self) -> Dispatcher:
        [d] = [s for s in self.p.servers if isinstance(s, Dispatcher)]
        return d


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with serve(tmp_path) as running:
        yield running


@contextmanager
def serve(tmp_path: Path, **scene_settings: Any) -> Iterator[Live]:
    port = free_port()
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var")})
    s.server.port = port
    channels = {"wechat": {"sandbox_delay_ms": 50}, "etc": {"sandbox_delay_ms": 50}}
    s.scenes["paylater"] = {"channels": channels, "dispatch_every_ms": 50, "query_after_ms": 1_500,
                            **scene_settings}  # fmt: skip
    p = Platform(s, scenes={"paylater": scene})
    server = uvicorn.Server(uvicorn.Config(create_app(s, platform=p), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    live = Live(f"http://127.0.0.1:{port}", p)
    yield live
    live.c.close()
    server.should_exit = True
    thread.join(20)


def test_a_bound_car_is_charged_by_the_provider_after_it_left(live: Live) -> None:
    live.post("/bindings", {"plate": PLATE, "action": "bind", "payer": "wx-1", "consent": "agreement-1"})
    now = time.time_ns() // 1_000_000
    live.until(lambda: live.get(f"/plates/{PLATE}")["state"] is not None)
    live.gate(PLATE, "entry", now - 2 * HOUR)
    live.until(lambda: bool(live.get(f"/plates/{PLATE}")["state"]["open"]))
    out = live.gate(PLATE, "exit", now)
    assert (out["decision"], out["reason"]) == ("open", "pay_later") and out["fee_fen"] > 0
    live.until(lambda: live.session(out["session"])["status"] == "settled")
    s = live.session(out["session"])
    assert s["settled_channel"] == "wechat" and s["fee"] == out["fee_fen"]
    fee = out["fee_fen"]
    assert live.get("/ledger/balances") == {"lot:bayi-square": -fee, "channel:wechat": fee, "payer:wx-1": 0}


def test_pay_at_the_gate_then_an_etc_debit_for_the_same_exit_is_refunded(live: Live) -> None:
    now = time.time_ns() // 1_000_000
    live.gate(OTHER, "entry", now - 40 * MIN)
    live.until(lambda: live.get(f"/plates/{OTHER}")["state"] is not None)
    out = live.gate(OTHER, "exit", now)
    assert (out["decision"], out["reason"]) == ("pay", "pay_at_gate")
    sid, fee = out["session"], out["fee_fen"]
    live.until(lambda: live.get(f"/sessions/{sid}")["session"]["status"] == "awaiting")
    paid = live.post(f"/sessions/{sid}/pay", {})
    assert (paid["status"], paid["amount_fen"], paid["channel"]) == ("accepted", fee, "wechat")
    live.until(lambda: live.session(sid)["status"] == "settled")
    assert live.gate(OTHER, "exit", now + MIN)["decision"] == "open"
    # the lot's ETC system debits the car as well, with an order of its own for the session
    etc = live.p.runtime("paylater").world.providers.channels["etc"]
    etc.create_payment(
        f"{sid}-etc", fee, "etc-card-9", "ETC", live.url + "/api/v1/scenes/paylater/notify/etc"
    )

    def refunded() -> bool:
        postings = live.get(f"/sessions/{sid}")["postings"]
        return any(p["txn"].startswith("refund:") for p in postings)

    live.until(lambda: refunded() and live.get("/ledger/balances").get("clearing:refunds") == 0)
    balances = {k: v for k, v in live.get("/ledger/balances").items() if v}
    assert balances == {"lot:bayi-square": -fee, "channel:wechat": fee}
    assert live.get("/ledger/trial-balance")["balanced"] is True


def test_a_lost_notice_is_found_by_asking_the_provider(live: Live) -> None:
    live.post("/bindings", {"plate": PLATE, "action": "bind", "payer": "wx-1", "consent": "agreement-1"})
    live.until(lambda: live.get(f"/plates/{PLATE}")["state"] is not None)
    live.dispatcher().notify = "http://127.0.0.1:9/nowhere/"  # every notice of this order is lost
    now = time.time_ns() // 1_000_000
    live.gate(PLATE, "entry", now - HOUR)
    live.until(lambda: bool(live.get(f"/plates/{PLATE}")["state"]["open"]))
    sid = live.gate(PLATE, "exit", now)["session"]
    live.until(lambda: live.session(sid)["status"] == "settled")
    [notice] = live.p.store.find_events(["paylater.notice"])
    assert notice.via == "query"  # type: ignore[attr-defined]


def test_a_forged_notice_is_refused_and_changes_nothing(live: Live) -> None:
    body = b'{"id":"x","create_time":"2026-12-07T10:00:00+08:00","event_type":"TRANSACTION.SUCCESS"}'
    headers = {"Wechatpay-Timestamp": str(int(time.time())), "Wechatpay-Nonce": "n",
               "Wechatpay-Serial": "0" * 40, "Wechatpay-Signature": "AAAA"}  # fmt: skip
    r = live.c.post(f"{BASE}/notify/wechat", content=body, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "SIGN_ERROR"
    assert live.c.post(f"{BASE}/notify/nochannel", content=body, headers=headers).status_code == 404
    assert live.p.store.find_events(["paylater.notice"]) == []


def _settled_exit(live: Live, plate: str, n: int, now: int) -> tuple[str, int]:
    """A bound car leaves first and is charged: (session, fee)."""
    live.gate(plate, "entry", now - (n + 1) * HOUR)
    live.until(lambda: bool(live.get(f"/plates/{plate}")["state"]["open"]))
    out = live.gate(plate, "exit", now - n * HOUR)
    live.until(lambda: live.session(out["session"])["status"] == "settled")
    return out["session"], out["fee_fen"]


def test_days_the_dispatcher_missed_are_reconciled_once_it_runs_again(live: Live) -> None:
    """The platform was down at ``reconcile_at`` three days running: the first round after it comes
    back reconciles each missed day that had movements, once, and never the same day twice."""
    live.post("/bindings", {"plate": PLATE, "action": "bind", "payer": "wx-1", "consent": "agreement-1"})
    live.until(lambda: live.get(f"/plates/{PLATE}")["state"] is not None)
    _settled_exit(live, PLATE, 1, time.time_ns() // 1_000_000)  # paid today, Beijing time
    today = dt.datetime.now(BEIJING)
    back = (today + dt.timedelta(days=3)).replace(hour=10, minute=0)  # after reconcile_at (09:00)
    d = live.dispatcher()
    assert d._task is not None
    loop = d._task.get_loop()  # the dispatcher's own loop, as its rounds run

    def due() -> list[str]:
        return asyncio.run_coroutine_threadsafe(d.reconcile_due(back), loop).result(30)

    runs = due()
    recorded = [e for e in live.p.store.find_events(["paylater.reconciled"]) if e.id in runs]
    assert [(e.channel, e.day, e.clean) for e in recorded] == [  # type: ignore[attr-defined]
        ("wechat", today.date().isoformat(), True)
    ]  # the two empty days after it, and the ETC channel without a movement, are not recorded
    d.reconciled.clear()  # even a new process finds the day reconciled in the store
    assert due() == []


def test_reconciliation_finds_every_injected_mismatch_and_books_what_only_the_provider_has(
    live: Live,
) -> None:
    plates = ["赣A10001", "赣A10002", "赣A10003", "赣A10004"]
    for i, plate in enumerate(plates):
        live.post("/bindings", {"plate": plate, "action": "bind", "payer": f"wx-{i}", "consent": "agreement"})
    live.until(lambda: all(live.get(f"/plates/{p}")["state"] is not None for p in plates))
    now = time.time_ns() // 1_000_000
    done = [_settled_exit(live, plate, 1, now) for plate in plates]
    box = live.p.runtime("paylater").world.providers.sandboxes["wechat"]
    box.hide_from_statement(f"{done[0][0]}-1")  # the provider lost a charge the platform booked
    box.alter_statement_amount(f"{done[1][0]}-1", done[1][1] + 100)  # or shows another amount
    ghost = box.inject_ghost(777, now)  # a debit the platform never heard of
    day = time.strftime("%Y-%m-%d", time.gmtime(now / 1000 + 8 * 3600))
    run = live.post("/reconciliation", {"channel": "wechat", "day": day}, "operate")
    assert run["clean"] is False
    assert run["counts"] == {"matched": 2, "platform_only": 1, "channel_only": 1, "amount_mismatch": 1,
                             "platform_duplicates": 0, "channel_duplicates": 0}  # fmt: skip
    assert [r["order_id"] for r in run["report"]["platform_only"]] == [f"{done[0][0]}-1"]
    assert [r["order_id"] for r in run["report"]["channel_only"]] == [ghost.order_id]
    assert [r["channel_fen"] for r in run["report"]["amount_mismatch"]] == [done[1][1] + 100]
    # the ghost debit was handed to the processor: booked as a duplicate to refund, never kept
    live.until(lambda: any(p.txn.startswith("dup:wechat:") and p.amount == 777
                           for p in live.p.store.ledger_postings(account="channel:wechat")))  # fmt: skip
    [alert] = [
        a
        for a in live.p.store.alerts(AlertQuery(scene="paylater", key="wechat"))
        if a.rule.endswith("reconciliation")
    ]
    assert alert.status == "open" and alert.data["counts"]["platform_only"] == 1
    assert live.get("/reconciliation?channel=wechat")[0]["id"] == run["id"]
    # the etc channel had nothing that day: clean, and its own alert never opens
    assert live.post("/reconciliation", {"channel": "etc", "day": day}, "operate")["clean"] is True


PER_MINUTE = """
[lots.bayi-square]
name = "八一广场"
district = "360102"
capacity = 800
tariff = "minute"

[tariffs.minute]
name = "by the minute, no free time (a test's: stays of seconds pay)"
[[tariffs.minute.versions]]
from = "2020-01-01T00:00"
free_minutes = 0
daily_cap_fen = 10000
nev_discount_pct = 0
[[tariffs.minute.versions.periods]]
name = "all day"
start = "00:00"
end = "00:00"
unit_minutes = 1
unit_fen = 10
"""


def test_the_simulator_drives_gates_payments_and_the_booth(tmp_path: Path) -> None:
    """A few seconds of the demo's simulator, fast, at a lot charging by the minute: cars enter and
    leave, bound ones leave first and are charged by the provider, others pay at the gate and are
    let out, doubtful reads are confirmed by the booth; the ledger balances throughout."""
    (tmp_path / "tariffs.toml").write_text(PER_MINUTE, encoding="utf-8")
    with serve(tmp_path, tariffs_file=str(tmp_path / "tariffs.toml")) as live:
        admin = create_token(live.p.store, "sim", ["ingest", "admin"])[1]
        sim = simulator({"seed": 4, "cars": 60, "arrivals_per_min": 900, "stay_minutes": 0.05,
                         "doubtful_share": 0.15, "tick_s": 0.2, "lots": ["bayi-square"],
                         "pay_after_s": 2.0, "booth_after_s": 2.0})  # fmt: skip

        async def play() -> None:
            ctx = SimContext(IngestClient(live.url, admin), "127.0.0.1")
            stop = asyncio.Event()
            task = asyncio.create_task(sim.run(ctx, stop))
            try:
                await asyncio.sleep(12)
                stop.set()
                await task
            finally:
                await ctx.http.aclose()

        asyncio.run(play())
        seen = sim.answers
        assert seen["open/entered"] >= 30 and seen["open/pay_later"] >= 3 and seen["pay/pay_at_gate"] >= 3
        assert seen["open/paid"] >= 1 and seen["hold/low_confidence"] >= 1  # paid at the gate, read again
        live.until(lambda: live.p.store.trial_balance().balanced and live.get("/overview")["settled_fen"] > 0)
        held = live.p.cases.store.find_cases(CaseQuery(type="paylater.held", limit=100))
        assert any(c.state == "confirmed" for c in held)

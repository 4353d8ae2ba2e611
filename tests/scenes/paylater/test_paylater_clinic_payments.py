"""Clinic repayments for real: a platform serving HTTP on a port with the payment gateway's
dispatcher running and sandbox providers (real HTTP servers) taking the cashier's orders. The
dispatcher follows the clinic cashier's orders as it follows parking's: a repayment whose notice
is lost is found by asking the provider, and an order recorded by a platform that died before
placing it is placed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from citybrain.scenes.paylater.clinic import DAY_MS, clinic_order
from citybrain.scenes.paylater.events import OrderAnswer
from tests.scenes.paylater.test_paylater_payments import Live, serve

PATIENT = "360102199001011234"
HOSPITAL = "jx-provincial"  # 江西省人民医院, illustrative
NOWHERE = "http://127.0.0.1:9/nowhere"  # the discard port: every notice posted there is lost


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def bill_on_credit(live: Live, bill: str, self_pay: int) -> None:
    """The patient rated (1,000 yuan) and treated: the bill on credit, as the processor booked it."""
    live.post(
        "/clinic/ratings", {"patient": PATIENT, "score": 620, "source": "bailu", "as_of": now_ms() - DAY_MS}
    )
    live.until(lambda: state(live) is not None)
    body = {"patient": PATIENT, "hospital": HOSPITAL, "bill": bill, "visit_ts": now_ms() - 60_000,
            "total_fen": self_pay, "self_pay_fen": self_pay}  # fmt: skip
    assert live.post("/clinic/bills", body)["on_credit"] is True
    live.until(lambda: f"{HOSPITAL}/{bill}" in (state(live) or {}).get("bills", {}))


def state(live: Live) -> dict[str, Any] | None:
    got: dict[str, Any] | None = live.get(f"/clinic/patients/{PATIENT}")["state"]
    return got


def status(live: Live, bill: str) -> str:
    return str((state(live) or {})["bills"][f"{HOSPITAL}/{bill}"]["status"])


def test_a_lost_notice_of_a_clinic_repayment_is_found_by_asking_the_provider(tmp_path: Path) -> None:
    with serve(tmp_path, notify_url=NOWHERE) as live:  # every notice of every order is lost
        bill_on_credit(live, "MZ1", 12_000)
        paid = live.post(f"/clinic/hospitals/{HOSPITAL}/bills/MZ1/pay", {})
        assert (paid["status"], paid["amount_fen"]) == ("accepted", 12_000)
        live.until(lambda: status(live, "MZ1") == "paid")  # after query_after_ms (1.5 s here)
        [notice] = live.p.store.find_events(["paylater.notice"])
        assert (notice.order, notice.via) == (paid["order"], "query")  # type: ignore[attr-defined]
        live.until(lambda: live.p.store.states("paylater.clinic_pending")[0]["data"] == {})
        balances = {k: v for k, v in live.get("/ledger/balances").items() if v}
        assert balances == {"channel:wechat": 12_000, f"hospital:{HOSPITAL}": -12_000}


def test_an_order_recorded_but_never_placed_is_placed_by_the_dispatcher(tmp_path: Path) -> None:
    with serve(tmp_path) as live:
        bill_on_credit(live, "MZ2", 5_000)
        # the cashier recorded the order and the platform died before placing it with the provider
        order = clinic_order(HOSPITAL, "MZ2", f"q{now_ms():x}")
        live.p.publish([OrderAnswer(key=PATIENT, ts=now_ms(), id=f"request:wechat:{order}", order=order,
                                    movement="payment", channel="wechat", status="requested",
                                    session=f"{HOSPITAL}/MZ2", amount_fen=5_000, payer=PATIENT)])  # fmt: skip
        live.until(lambda: status(live, "MZ2") == "paid")
        [answer] = [e for e in live.p.store.find_events(["paylater.answer"]) if e.id.startswith("answer:")]
        assert (answer.order, answer.status) == (order, "accepted")  # type: ignore[attr-defined]
        [notice] = live.p.store.find_events(["paylater.notice"])
        assert notice.order == order  # type: ignore[attr-defined]

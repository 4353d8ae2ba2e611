"""Clinic repayments for real: a platform serving HTTP on a port with the payment gateway's
dispatcher running and sandbox providers (real HTTP servers) taking the cashier's orders. The
dispatcher follows the clinic cashier's orders as it follows parking's: a repayment whose notice
is lost is found by asking the provider, and an order recorded by a platform that died before
placing it is placed. What a repayment pays over its bill is refunded: the dispatcher places the
refund and the sandbox's signed refund notice settles it (or its failure is alerted)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from citybrain.core.outputs import Alert
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.paylater.clinic import DAY_MS, clinic_order, clinic_refund_id, repayment_subject
from citybrain.scenes.paylater.events import OrderAnswer, PaymentNotice
from citybrain.scenes.paylater.notices import NOTIFY
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


def overpay(live: Live, bill: str, amount: int) -> tuple[str, str]:
    """A payment of ``bill`` taken by the wechat provider with an order the cashier did not make (a
    second terminal at the desk): its notice comes back through the notify route. (order, refund)"""
    order = clinic_order(HOSPITAL, bill, f"x{now_ms():x}")
    wechat = live.p.runtime("paylater").world.providers.channels["wechat"]
    got = wechat.create_payment(order, amount, PATIENT, repayment_subject(f"{HOSPITAL}/{bill}"),
                                live.url + NOTIFY + "wechat")  # fmt: skip
    assert got.status == "accepted"

    def paid() -> list[PaymentNotice]:
        found = live.p.store.find_events(["paylater.notice"])
        return [e for e in found if isinstance(e, PaymentNotice) and e.order == order]

    live.until(lambda: bool(paid()))
    return order, clinic_refund_id(f"wechat:{paid()[0].channel_txn}")


def alerts(live: Live, rule: str, key: str) -> list[Alert]:
    return [a for a in live.p.store.alerts(AlertQuery(scene="paylater", key=key)) if a.rule == rule]


def balances(live: Live) -> dict[str, int]:
    return {k: v for k, v in live.get("/ledger/balances").items() if v}


def test_an_overpayment_is_refunded_by_the_provider_and_the_books_settle(tmp_path: Path) -> None:
    with serve(tmp_path) as live:
        bill_on_credit(live, "MZ3", 12_000)
        order, refund = overpay(live, "MZ3", 15_000)  # 3,000 fen more than the bill owes
        live.until(lambda: status(live, "MZ3") == "paid")
        # the dispatcher places the refund; the sandbox's signed refund notice settles it
        live.until(lambda: bool(live.p.store.ledger_postings(txn=f"refund:{refund}")))
        assert [(p.account, p.amount) for p in live.p.store.ledger_postings(txn=f"refund:{refund}")] == [
            ("clearing:refunds", 3_000),
            ("channel:wechat", -3_000),
        ]
        assert balances(live) == {"channel:wechat": 12_000, f"hospital:{HOSPITAL}": -12_000}
        assert live.get("/ledger/trial-balance")["balanced"] is True
        notices = [e for e in live.p.store.find_events(["paylater.notice"]) if isinstance(e, PaymentNotice)]
        [back] = [e for e in notices if e.movement == "refund"]
        assert (back.order, back.refund, back.amount_fen, back.via) == (order, refund, 3_000, "notify")
        assert {e.key for e in notices} == {PATIENT}  # the repayment's and the refund's: the patient's
        answers = [e for e in live.p.store.find_events(["paylater.answer"]) if isinstance(e, OrderAnswer)]
        [answer] = [e for e in answers if e.order == refund]
        assert (answer.movement, answer.status, answer.key) == ("refund", "accepted", PATIENT)
        live.until(lambda: live.p.store.states("paylater.clinic_pending")[0]["data"] == {})
        [overpaid] = alerts(live, "paylater.clinic_overpaid", order)
        assert overpaid.status == "resolved" and overpaid.data["refund"] == refund


def test_a_refund_the_provider_fails_is_alerted_and_its_money_stays_held(tmp_path: Path) -> None:
    with serve(tmp_path) as live:
        live.p.runtime("paylater").world.providers.sandboxes["wechat"].refund_fail_rate = 1.0
        bill_on_credit(live, "MZ4", 5_000)
        order, refund = overpay(live, "MZ4", 5_800)
        live.until(lambda: bool(alerts(live, "paylater.refund_failed", refund)))
        [failed] = alerts(live, "paylater.refund_failed", refund)
        assert (failed.status, failed.data["order"], failed.data["amount_fen"]) == ("open", order, 800)
        live.until(lambda: live.p.store.states("paylater.clinic_pending")[0]["data"] == {})
        assert balances(live) == {"channel:wechat": 5_800, "clearing:refunds": -800,
                                  f"hospital:{HOSPITAL}": -5_000}  # fmt: skip
        [overpaid] = alerts(live, "paylater.clinic_overpaid", order)
        assert overpaid.status == "open"  # the money is still to return, by hand

"""先诊疗后付费: clinic credit on the ledger. First the processor itself, fed events and wall-clock
ticks as the pipeline would (every expected amount worked out by hand: the default bands give 500
yuan from a score of 550, 1,000 from 600, 2,000 from 650, 3,000 from 700); then a property over
random ratings, bills, repayments (repeated), insurer settlements, ticks and crashes; then the
HTTP API on a platform with the clinic registered (tests/scenes/paylater: the scene as shipped
once the lead registers it, until then the same parts composed here)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import msgspec
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain import sdk
from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.ledger import Posting
from citybrain.core.outputs import AlertOp, Outputs
from citybrain.core.platform import Platform
from citybrain.core.processor import AlertBook, Emitter, restore, snapshot
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.paylater import api, clinic_api, gateway, scene
from citybrain.scenes.paylater.casetypes import case_types
from citybrain.scenes.paylater.clinic import (
    CLINIC_ORDER,
    DAY_MS,
    RULES,
    Clinic,
    ClinicBill,
    ClinicEvent,
    ClinicSettings,
    CreditRating,
    InsurerSettled,
    Patient,
    bill_key,
    bill_ref,
    clinic_order,
    clinic_refund_id,
    clinic_settings,
    line_for,
    patient_of_order,
    ref_of_order,
)
from citybrain.scenes.paylater.events import OrderAnswer, PaymentNotice
from citybrain.scenes.paylater.notices import notice_event
from citybrain.scenes.paylater.processors import Sessions
from citybrain.scenes.paylater.settings import PaylaterSettings
from citybrain.scenes.paylater.world import build_world
from tests.scenes.paylater.paylater_testkit import BASE, T0, Lot, commit_once

HOSPITAL = "jx-provincial"  # 江西省人民医院, illustrative
OTHER = "nc-first"  # 南昌大学第一附属医院, illustrative: its HIS numbers its bills as HOSPITAL's does
INSURER = "nc-yibao"  # 南昌医保, illustrative
DUE = T0 + 10 * DAY_MS  # 2026-06-11 10:00 Beijing: ten days after a visit at T0
ALICE, BOB = "360102199001011234", "360102198502023456"


# -- the processor, by hand ------------------------------------------------------------------------
def k(bid: str, hospital: str = HOSPITAL) -> str:
    """A bill's key on the platform: the hospital names it with its HIS id."""
    return bill_key(hospital, bid)


def rating(patient: str, score: int, as_of: int = T0 - DAY_MS) -> CreditRating:
    return CreditRating(
        key=patient, ts=as_of, id=f"r:{patient}:{as_of}:{score}", score=score, source="bailu", as_of=as_of
    )


def bill(
    patient: str,
    bid: str,
    self_pay: int,
    insured: int = 0,
    visit: int = T0,
    eid: str = "",
    hospital: str = HOSPITAL,
) -> ClinicBill:
    return ClinicBill(
        key=patient,
        ts=visit,
        id=eid or f"b:{hospital}/{bid}",
        hospital=hospital,
        bill=bid,
        visit_ts=visit,
        total_fen=self_pay + insured,
        insured_fen=insured,
        self_pay_fen=self_pay,
        insurer=INSURER if insured else "",
    )


def repay(
    patient: str,
    bid: str,
    amount: int,
    txn: str,
    *,
    channel: str = "wechat",
    ts: int = T0 + DAY_MS,
    status: Literal["success", "failed"] = "success",
    via: Literal["notify", "query", "statement"] = "notify",
    order: str = "",
    hospital: str = HOSPITAL,
) -> PaymentNotice:
    return PaymentNotice(
        key=patient,
        ts=ts,
        id=f"{channel}:payment:{txn}:{status}:{via}",
        channel=channel,
        movement="payment",
        order=order or clinic_order(hospital, bid, "q1"),
        channel_txn=txn,
        amount_fen=amount,
        status=status,
        via=via,
    )


def settled(patient: str, bid: str, amount: int, eid: str = "", hospital: str = HOSPITAL) -> InsurerSettled:
    return InsurerSettled(key=patient, ts=T0 + 2 * DAY_MS, id=eid or f"s:{hospital}/{bid}", insurer=INSURER,
                          hospital=hospital, bill=bid, amount_fen=amount)  # fmt: skip


class Run:
    """The processor with what the store would hold: the ledger (a transaction at most once), the
    alerts as the store would show them, the latest entity states."""

    def __init__(self, cfg: ClinicSettings | None = None) -> None:
        self.proc = Clinic(0, _Settings(cfg or ClinicSettings()), None)
        self.book = AlertBook()
        self.ledger: dict[str, list[Posting]] = {}
        self.alerts: dict[str, AlertOp] = {}  # dedupe key -> its latest operation
        self.ops: list[AlertOp] = []
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.offset = 0

    def feed(self, *events: ClinicEvent) -> Outputs:
        out = Outputs()
        batch = list(enumerate(events, start=self.offset + 1))
        self.offset += len(events)
        self.proc.process(batch, Emitter(self.proc.name, 0, self.book, out))
        return self._commit(out)

    def tick(self, now: int) -> Outputs:
        out = Outputs()
        self.proc.tick(now, Emitter(self.proc.name, 0, self.book, out))
        return self._commit(out)

    def _commit(self, out: Outputs) -> Outputs:
        commit_once(self.ledger, out.postings)
        for op in out.alerts:
            self.alerts[op.alert.dedupe_key] = op
        self.ops.extend(out.alerts)
        for s in out.states:
            self.states[s.scene, s.key] = s.data
        assert_balanced(self.ledger)
        return out

    def lines(self, txn: str) -> list[tuple[str, int]]:
        return [(p.account, p.amount) for p in self.ledger[txn]]

    def balances(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for ps in self.ledger.values():
            for p in ps:
                out[p.account] += p.amount
        return {k: v for k, v in out.items() if v}

    def patient(self, key: str) -> dict[str, Any]:
        return self.states["paylater.patient", key]

    def open_alerts(self, rule: str) -> dict[str, AlertOp]:
        return {
            op.alert.key: op for op in self.alerts.values() if op.alert.rule == rule and op.op != "resolve"
        }


class _Settings:
    """Scene settings carrying a clinic section (as PaylaterSettings will once the lead adds it)."""

    def __init__(self, clinic: ClinicSettings) -> None:
        self.clinic = clinic


def assert_balanced(ledger: dict[str, list[Posting]]) -> None:
    for txn, ps in ledger.items():
        assert sum(p.amount for p in ps) == 0, f"{txn} does not balance"
        assert [p.line for p in ps] == list(range(len(ps))), f"{txn}: lines {[p.line for p in ps]}"


def test_a_score_gives_the_line_of_the_highest_band_it_reaches() -> None:
    bands = ClinicSettings().bands
    assert [line_for(s, bands) for s in (0, 549, 550, 599, 600, 649, 650, 699, 700, 950)] == [
        0,
        0,
        50_000,
        50_000,
        100_000,
        100_000,
        200_000,
        200_000,
        300_000,
        300_000,
    ]


def test_a_bill_within_the_line_goes_on_credit_due_ten_days_after_the_visit() -> None:
    run = Run()
    run.feed(rating(ALICE, 620))  # 1,000 yuan
    run.feed(bill(ALICE, "MZ2026060100017", self_pay=12_000, insured=18_000))
    assert run.lines(f"clinic:{HOSPITAL}/MZ2026060100017") == [
        (f"insurer:{INSURER}", 18_000),
        (f"patient:{ALICE}", 12_000),
        (f"hospital:{HOSPITAL}", -30_000),
    ]
    p = run.patient(ALICE)
    assert (p["line_fen"], p["used_fen"], p["available_fen"], p["open_bills"]) == (
        100_000,
        12_000,
        88_000,
        [k("MZ2026060100017")],
    )
    b = p["bills"][k("MZ2026060100017")]
    assert (b["status"], b["credit_fen"], b["owed_fen"], b["due_ts"], b["due"]) == (
        "open",
        12_000,
        12_000,
        DUE,
        "2026-06-11 10:00",
    )
    assert run.states["paylater.clinic_bill", bill_ref(HOSPITAL, "MZ2026060100017")]["patient"] == ALICE
    assert run.tick(DUE - 1).alerts == []  # not due yet


def test_a_bill_above_the_available_line_is_paid_at_the_counter_and_books_only_the_insurer() -> None:
    run = Run()
    run.feed(rating(ALICE, 560))  # 500 yuan
    run.feed(bill(ALICE, "B1", self_pay=40_000))
    run.feed(bill(ALICE, "B2", self_pay=20_000, insured=5_000))  # 200 yuan > the 100 left
    b2 = run.patient(ALICE)["bills"][k("B2")]
    assert (b2["status"], b2["reason"], b2["credit_fen"], b2["due_ts"]) == ("counter", "over_line", 0, 0)
    assert run.lines(f"clinic:{HOSPITAL}/B2") == [
        (f"insurer:{INSURER}", 5_000),
        (f"hospital:{HOSPITAL}", -5_000),
    ]
    assert run.patient(ALICE)["used_fen"] == 40_000
    run.feed(bill(ALICE, "B3", self_pay=10_000))  # exactly what is left
    assert run.patient(ALICE)["bills"][k("B3")]["status"] == "open"
    assert run.patient(ALICE)["available_fen"] == 0
    assert run.balances() == {
        f"patient:{ALICE}": 50_000,
        f"insurer:{INSURER}": 5_000,
        f"hospital:{HOSPITAL}": -55_000,
    }


def test_no_rating_or_a_score_below_every_band_gives_no_credit() -> None:
    run = Run()
    run.feed(bill(ALICE, "B1", self_pay=100))
    run.feed(rating(BOB, 549), bill(BOB, "B2", self_pay=100))
    assert run.patient(ALICE)["bills"][k("B1")]["reason"] == "no_line"
    assert run.patient(BOB)["bills"][k("B2")]["reason"] == "no_line"
    assert run.ledger == {}  # the counter's money never passes through the platform


def test_a_bill_of_nothing_books_nothing_and_a_bill_the_insurer_pays_in_full_is_covered() -> None:
    run = Run()
    run.feed(
        rating(ALICE, 700), bill(ALICE, "ZERO", self_pay=0), bill(ALICE, "INS", self_pay=0, insured=8_000)
    )
    bills = run.patient(ALICE)["bills"]
    assert (bills[k("ZERO")]["status"], bills[k("INS")]["status"]) == ("covered", "covered")
    assert list(run.ledger) == [f"clinic:{HOSPITAL}/INS"]
    assert run.lines(f"clinic:{HOSPITAL}/INS") == [
        (f"insurer:{INSURER}", 8_000),
        (f"hospital:{HOSPITAL}", -8_000),
    ]
    assert run.patient(ALICE)["used_fen"] == 0


def test_a_bill_posted_twice_is_booked_once() -> None:
    run = Run()
    run.feed(rating(ALICE, 700), bill(ALICE, "B1", 5_000), bill(ALICE, "B1", 5_000, eid="again"))
    run.feed(bill(ALICE, "B1", 9_000, eid="changed"))
    assert run.patient(ALICE)["used_fen"] == 5_000 and len(run.ledger[f"clinic:{HOSPITAL}/B1"]) == 2


def test_two_hospitals_bills_of_the_same_id_are_two_bills_each_booked_and_repaid_once() -> None:
    run = Run()
    run.feed(rating(ALICE, 700), rating(BOB, 700))
    # the same patient seen at both hospitals, each HIS numbering its bill MZ1; and MZ2 of each
    # hospital, one ALICE's and one BOB's
    run.feed(bill(ALICE, "MZ1", 12_000, insured=4_000), bill(ALICE, "MZ1", 3_000, hospital=OTHER))
    run.feed(bill(ALICE, "MZ2", 1_000), bill(BOB, "MZ2", 2_000, hospital=OTHER))
    run.feed(bill(ALICE, "MZ1", 12_000, insured=4_000, eid="his-retry"))  # HOSPITAL's MZ1 again
    assert run.lines(f"clinic:{HOSPITAL}/MZ1") == [
        (f"insurer:{INSURER}", 4_000),
        (f"patient:{ALICE}", 12_000),
        (f"hospital:{HOSPITAL}", -16_000),
    ]
    assert run.lines(f"clinic:{OTHER}/MZ1") == [(f"patient:{ALICE}", 3_000), (f"hospital:{OTHER}", -3_000)]
    assert run.lines(f"clinic:{OTHER}/MZ2") == [(f"patient:{BOB}", 2_000), (f"hospital:{OTHER}", -2_000)]
    p = run.patient(ALICE)
    assert (p["used_fen"], sorted(p["open_bills"])) == (16_000, [k("MZ1"), k("MZ2"), k("MZ1", OTHER)])
    assert (p["bills"][k("MZ1", OTHER)]["bill"], p["bills"][k("MZ1", OTHER)]["hospital"]) == ("MZ1", OTHER)
    refs = {
        bill_ref(HOSPITAL, "MZ1"),
        bill_ref(OTHER, "MZ1"),
        bill_ref(HOSPITAL, "MZ2"),
        bill_ref(OTHER, "MZ2"),
    }
    assert len(refs) == 4 and all(("paylater.clinic_bill", r) in run.states for r in refs)
    assert run.states["paylater.clinic_bill", bill_ref(OTHER, "MZ2")]["patient"] == BOB
    # the insurer settles HOSPITAL's MZ1, naming the hospital: OTHER's MZ1 is not touched
    run.feed(settled(ALICE, "MZ1", 4_000))
    p = run.patient(ALICE)
    assert (p["bills"][k("MZ1")]["insured_paid_fen"], p["bills"][k("MZ1", OTHER)]["insured_paid_fen"]) == (
        4_000,
        0,
    )
    # OTHER's MZ1 repaid (twice notified): HOSPITAL's MZ1 still owes all of it
    notice = repay(ALICE, "MZ1", 3_000, "wx-o1", hospital=OTHER)
    run.feed(notice, notice)
    p = run.patient(ALICE)
    assert (p["bills"][k("MZ1", OTHER)]["status"], p["bills"][k("MZ1")]["owed_fen"]) == ("paid", 12_000)
    run.feed(repay(ALICE, "MZ1", 12_000, "wx-h1"), repay(BOB, "MZ2", 2_000, "wx-o2", hospital=OTHER))
    run.feed(repay(ALICE, "MZ1", 12_000, "wx-h1", via="query"))  # found again by asking
    assert run.patient(ALICE)["bills"][k("MZ1")]["status"] == "paid"
    assert run.patient(BOB)["bills"][k("MZ2", OTHER)]["status"] == "paid"
    assert sorted(t for t in run.ledger if t.startswith("repay:")) == [
        "repay:wechat:wx-h1",
        "repay:wechat:wx-o1",
        "repay:wechat:wx-o2",
    ]
    assert run.balances() == {
        "channel:wechat": 17_000,
        "clearing:insurer": 4_000,
        f"patient:{ALICE}": 1_000,  # HOSPITAL's MZ2
        f"hospital:{HOSPITAL}": -17_000,
        f"hospital:{OTHER}": -5_000,
    }


def order_answer(
    patient: str, bid: str, order: str, status: Literal["requested", "accepted", "failed"], **more: Any
) -> OrderAnswer:
    """The cashier's record of an order, or what the provider answered to placing it."""
    fields: dict[str, Any] = {"channel": "wechat", "amount_fen": 12_000, "ts": T0 + DAY_MS, **more}
    return OrderAnswer(key=patient, id=f"{status}:{order}", order=order, movement="payment", status=status,
                       session=k(bid), **fields)  # fmt: skip


def test_the_cashiers_orders_are_followed_from_their_record_until_their_outcome() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000), bill(ALICE, "B2", 3_000))
    q1, q2, q3 = (clinic_order(HOSPITAL, "B1", f"q{i}") for i in (1, 2, 3))

    def pending() -> dict[str, dict[str, Any]]:
        return run.states["paylater.clinic_pending", "p0"]

    run.feed(order_answer(ALICE, "B1", q1, "requested"))
    assert pending() == {q1: {"patient": ALICE, "bill": k("B1"), "amount": 12_000, "channel": "wechat",
                              "status": "requested", "ts": T0 + DAY_MS, "kind": "payment",
                              "refund_of": ""}}  # fmt: skip
    run.feed(
        order_answer(ALICE, "B1", q1, "accepted"), order_answer(ALICE, "B1", q2, "requested", channel="etc")
    )
    assert {oid: o["status"] for oid, o in pending().items()} == {q1: "accepted", q2: "requested"}
    run.feed(order_answer(ALICE, "B1", q2, "failed", channel="etc"))  # the provider refused it
    assert list(pending()) == [q1]
    parking = OrderAnswer(key=ALICE, ts=T0, id="p", order="0123456789abcdef-1", movement="payment",
                          channel="wechat", status="requested", session="0123456789abcdef")  # fmt: skip
    assert run.feed(parking).states == []  # parking's: paylater.sessions follows it
    # a failed payment ends the order (the bill stays owed); the next one is paid
    run.feed(repay(ALICE, "B1", 12_000, "wx-f", status="failed", order=q1))
    assert pending() == {} and run.patient(ALICE)["bills"][k("B1")]["owed_fen"] == 12_000
    run.feed(order_answer(ALICE, "B1", q3, "requested"))
    run.feed(repay(ALICE, "B1", 12_000, "wx-3", order=q3))
    assert pending() == {} and run.patient(ALICE)["bills"][k("B1")]["status"] == "paid"
    # an order of a bill that owes nothing is not followed
    assert run.feed(order_answer(ALICE, "B1", clinic_order(HOSPITAL, "B1", "q4"), "requested")).states == []
    # a bill repaid by another order: its order not yet taken by a provider is withdrawn, one taken
    # is followed until its outcome (what it brings is held to refund)
    r1, r2, r3 = (clinic_order(HOSPITAL, "B2", f"r{i}") for i in (1, 2, 3))
    run.feed(order_answer(ALICE, "B2", r1, "requested", amount_fen=3_000),
             order_answer(ALICE, "B2", r2, "requested", amount_fen=3_000, channel="etc"),
             order_answer(ALICE, "B2", r2, "accepted", amount_fen=3_000, channel="etc"))  # fmt: skip
    run.feed(repay(ALICE, "B2", 3_000, "wx-r3", order=r3))
    assert {oid: o["status"] for oid, o in pending().items()} == {r2: "accepted"}
    assert run.proc.forget(ALICE) and run.proc.state.orders == {}  # erasure: the orders too
    run.feed(rating(BOB, 600))
    assert pending() == {}


def test_a_late_older_rating_does_not_replace_a_newer_one() -> None:
    run = Run()
    run.feed(rating(ALICE, 720, as_of=T0), rating(ALICE, 560, as_of=T0 - 30 * DAY_MS))
    assert (run.patient(ALICE)["score"], run.patient(ALICE)["line_fen"]) == (720, 300_000)
    run.feed(rating(ALICE, 610, as_of=T0 + DAY_MS))  # re-rated: the newest wins
    assert run.patient(ALICE)["line_fen"] == 100_000


def test_repaying_a_bill_frees_its_line() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", self_pay=12_000))
    run.feed(repay(ALICE, "B1", 5_000, "wx-1"))  # part of it
    p = run.patient(ALICE)
    assert (p["used_fen"], p["available_fen"], p["bills"][k("B1")]["status"]) == (7_000, 93_000, "open")
    assert run.lines("repay:wechat:wx-1") == [("channel:wechat", 5_000), (f"patient:{ALICE}", -5_000)]
    run.feed(repay(ALICE, "B1", 7_000, "etc-9", channel="etc"))  # the rest, by another channel
    p = run.patient(ALICE)
    assert (p["used_fen"], p["available_fen"], p["open_bills"]) == (0, 100_000, [])
    assert (p["bills"][k("B1")]["status"], p["bills"][k("B1")]["paid_fen"]) == ("paid", 12_000)
    assert run.balances() == {"channel:wechat": 5_000, "channel:etc": 7_000, f"hospital:{HOSPITAL}": -12_000}
    run.feed(bill(ALICE, "B2", self_pay=100_000, visit=T0 + 2 * DAY_MS))  # the whole line again
    assert run.patient(ALICE)["bills"][k("B2")]["status"] == "open"
    # the provider's ids are in the memo: what T+1 reconciliation matches the statement by
    assert run.ledger["repay:etc:etc-9"][0].memo == f"{clinic_order(HOSPITAL, 'B1', 'q1')}||etc-9"


def test_a_failed_repayment_changes_nothing() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000))
    run.feed(repay(ALICE, "B1", 12_000, "wx-1", status="failed"))
    assert run.patient(ALICE)["used_fen"] == 12_000 and list(run.ledger) == [f"clinic:{HOSPITAL}/B1"]


def test_a_repeated_notice_is_applied_once() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000), bill(ALICE, "B2", 3_000))
    notice = repay(ALICE, "B1", 4_000, "wx-1")
    run.feed(notice, notice)  # the provider repeats its notice within a batch
    run.feed(notice, repay(ALICE, "B1", 4_000, "wx-1", via="query"))  # later, and found by a query
    assert run.patient(ALICE)["bills"][k("B1")]["paid_fen"] == 4_000
    assert [t for t in run.ledger if t.startswith("repay:")] == ["repay:wechat:wx-1"]
    assert run.balances()[f"patient:{ALICE}"] == 11_000


def test_a_bill_past_due_is_overdue_counts_a_default_and_is_reminded_every_three_days() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000))
    [op] = run.tick(DUE).alerts
    assert (op.op, op.alert.rule, op.alert.key) == (
        "open",
        "paylater.clinic_overdue",
        f"{ALICE}:{HOSPITAL}/B1",
    )
    assert {k: op.alert.data[k] for k in ("hospital", "amount_fen", "due_ts", "due", "reminders")} == {
        "hospital": HOSPITAL,
        "amount_fen": 12_000,
        "due_ts": DUE,
        "due": "2026-06-11 10:00",
        "reminders": 1,
    }
    p = run.patient(ALICE)
    assert (p["defaults"], p["overdue"], p["suspended"], p["bills"][k("B1")]["status"]) == (
        1,
        1,
        False,
        "overdue",
    )
    assert run.tick(DUE + 1_000).alerts == [] and run.tick(DUE + 3 * DAY_MS - 1).alerts == []
    [again] = run.tick(DUE + 3 * DAY_MS).alerts
    assert (again.op, again.alert.id, again.alert.data["reminders"]) == ("update", op.alert.id, 2)
    assert "reminder 2" in again.alert.message
    assert run.tick(DUE + 3 * DAY_MS + 1_000).alerts == []  # one reminder per period, whatever the ticks
    assert run.patient(ALICE)["defaults"] == 1  # reminding is not another default
    run.feed(repay(ALICE, "B1", 12_000, "wx-1", ts=DUE + 4 * DAY_MS))
    assert run.ops[-1].op == "resolve" and run.ops[-1].alert.id == op.alert.id
    assert run.tick(DUE + 6 * DAY_MS).alerts == []  # repaid: no more reminders
    assert run.patient(ALICE)["bills"][k("B1")]["status"] == "paid"


def test_a_repayment_made_in_time_whose_notice_came_late_is_not_a_default() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000), bill(ALICE, "B2", 1_000))
    run.tick(DUE + 3_600_000)  # both found overdue an hour after they were due
    assert run.patient(ALICE)["defaults"] == 2
    run.feed(repay(ALICE, "B1", 12_000, "wx-1", ts=DUE - 3_600_000))  # paid an hour before, notified late
    run.feed(repay(ALICE, "B2", 1_000, "wx-2", ts=DUE + 3_600_000))  # paid late
    p = run.patient(ALICE)
    assert (p["defaults"], p["bills"][k("B1")]["status"], p["bills"][k("B2")]["status"]) == (
        1,
        "paid",
        "paid",
    )
    assert run.open_alerts("paylater.clinic_overdue") == {}


def test_a_platform_down_for_weeks_reminds_once_when_it_is_back() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000))
    assert len(run.tick(DUE + 30 * DAY_MS).alerts) == 1
    assert run.patient(ALICE)["bills"][k("B1")]["reminders"] == 1
    assert run.tick(DUE + 32 * DAY_MS).alerts == [] and len(run.tick(DUE + 33 * DAY_MS).alerts) == 1


def test_three_defaults_suspend_credit_until_every_overdue_bill_is_repaid() -> None:
    run = Run()
    run.feed(rating(ALICE, 720))  # 3,000 yuan
    run.feed(*(bill(ALICE, f"B{i}", 10_000, visit=T0 + i * DAY_MS) for i in range(3)))
    run.tick(DUE + DAY_MS)  # B0 and B1 overdue
    assert (run.patient(ALICE)["defaults"], run.patient(ALICE)["suspended"]) == (2, False)
    run.feed(bill(ALICE, "B3", 10_000, visit=T0 + 11 * DAY_MS))  # two defaults: still on credit
    assert run.patient(ALICE)["bills"][k("B3")]["status"] == "open"
    run.tick(DUE + 2 * DAY_MS)  # B2: the third default
    p = run.patient(ALICE)
    assert (p["defaults"], p["overdue"], p["suspended"]) == (3, 3, True)
    assert list(run.open_alerts("paylater.clinic_suspended")) == [ALICE]
    run.feed(bill(ALICE, "B4", 1_000, visit=T0 + 13 * DAY_MS))  # 10 yuan, well within the line
    assert run.patient(ALICE)["bills"][k("B4")]["reason"] == "suspended"
    run.feed(
        repay(ALICE, "B0", 10_000, "wx-0", ts=T0 + 14 * DAY_MS),
        repay(ALICE, "B1", 10_000, "wx-1", ts=T0 + 14 * DAY_MS),
    )
    assert run.patient(ALICE)["suspended"] is True  # B2 still overdue
    # B2 repaid and a bill in the same batch: credit again at once, whatever the batch
    run.feed(
        repay(ALICE, "B2", 10_000, "wx-2", ts=T0 + 15 * DAY_MS),
        bill(ALICE, "B5", 2_000, visit=T0 + 15 * DAY_MS),
    )
    p = run.patient(ALICE)
    assert (p["suspended"], p["defaults"], p["bills"][k("B5")]["status"]) == (False, 3, "open")
    assert run.open_alerts("paylater.clinic_suspended") == {}
    run.tick(T0 + 22 * DAY_MS)  # B3 overdue too: the fourth default suspends again at once
    assert (run.patient(ALICE)["defaults"], run.patient(ALICE)["suspended"]) == (4, True)


def refund_notice(
    patient: str,
    order: str,
    refund: str,
    amount: int,
    *,
    channel: str = "wechat",
    status: Literal["success", "failed"] = "success",
    via: Literal["notify", "query", "statement"] = "notify",
) -> PaymentNotice:
    """The provider's notice of a refund (it names the order refunded and the refund)."""
    txn = f"{channel}-{refund}"
    return PaymentNotice(key=patient, ts=T0 + 2 * DAY_MS, id=f"{channel}:refund:{txn}:{status}:{via}",
                         channel=channel, movement="refund", order=order, refund=refund, channel_txn=txn,
                         amount_fen=amount, status=status, via=via, reason="" if status == "success"
                         else "REFUND.ABNORMAL")  # fmt: skip


def refund_answer(
    patient: str, refund: str, status: Literal["accepted", "failed"], channel: str = "wechat"
) -> OrderAnswer:
    """What the provider answered the dispatcher placing a refund."""
    reason = "" if status == "accepted" else "NOT_ENOUGH: nothing left to refund"
    return OrderAnswer(key=patient, ts=T0 + DAY_MS + 1, id=f"answer:{channel}:{refund}", order=refund,
                       movement="refund", channel=channel, status=status, reason=reason)  # fmt: skip


def test_an_overpayment_is_refunded_to_the_channel_that_paid_and_booked_once() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000))
    order, by_etc = clinic_order(HOSPITAL, "B1", "q1"), clinic_order(HOSPITAL, "B1", "etc")
    overpaid = repay(ALICE, "B1", 15_000, "wx-1")
    run.feed(overpaid)
    assert run.lines("repay:wechat:wx-1") == [
        ("channel:wechat", 15_000),
        (f"patient:{ALICE}", -12_000),
        ("clearing:refunds", -3_000),
    ]
    r1 = clinic_refund_id("wechat:wx-1")  # one per provider movement
    assert r1.startswith(CLINIC_ORDER) and PROVIDER_ID.fullmatch(r1)
    pending = run.states["paylater.clinic_pending", "p0"]
    assert pending == {r1: {"patient": ALICE, "bill": k("B1"), "amount": 3_000, "channel": "wechat",
                            "status": "requested", "ts": T0 + DAY_MS, "kind": "refund",
                            "refund_of": order}}  # fmt: skip
    [op] = run.open_alerts("paylater.clinic_overpaid").values()
    assert (op.alert.key, op.alert.severity) == (order, "info")
    assert (op.alert.data["excess_fen"], op.alert.data["bill"], op.alert.data["refund"]) == (3_000, "B1", r1)
    # the same bill paid again by ETC (QR at the desk and ETC both went through): all of it refunded
    run.feed(repay(ALICE, "B1", 12_000, "etc-1", channel="etc", order=by_etc))
    assert run.lines("repay:etc:etc-1") == [("channel:etc", 12_000), ("clearing:refunds", -12_000)]
    r2 = clinic_refund_id("etc:etc-1")
    pending = run.states["paylater.clinic_pending", "p0"]
    assert {oid: (o["amount"], o["channel"], o["refund_of"]) for oid, o in pending.items()} == {
        r1: (3_000, "wechat", order),
        r2: (12_000, "etc", by_etc),
    }
    # the overpayment's notice again (repeated, then found by a query): no second refund
    run.feed(overpaid, repay(ALICE, "B1", 15_000, "wx-1", via="query"))
    assert set(run.states["paylater.clinic_pending", "p0"]) == {r1, r2}
    assert run.balances()["clearing:refunds"] == -15_000
    # the dispatcher placed the refund (the provider took it); then its notice comes, and again
    run.feed(refund_answer(ALICE, r1, "accepted"))
    assert run.states["paylater.clinic_pending", "p0"][r1]["status"] == "accepted"
    done = refund_notice(ALICE, order, r1, 3_000)
    run.feed(done, done)
    run.feed(done, refund_notice(ALICE, order, r1, 3_000, via="query"))
    assert run.lines(f"refund:{r1}") == [("clearing:refunds", 3_000), ("channel:wechat", -3_000)]
    assert run.ledger[f"refund:{r1}"][0].memo == f"{order}|{r1}|wechat-{r1}"  # what T+1 matches by
    assert list(run.states["paylater.clinic_pending", "p0"]) == [r2]
    assert list(run.open_alerts("paylater.clinic_overpaid")) == [by_etc]  # the first one resolved
    run.feed(refund_notice(ALICE, by_etc, r2, 12_000, channel="etc"))  # its notice before the answer
    run.feed(refund_answer(ALICE, r2, "accepted", channel="etc"))  # late: changes nothing
    assert run.states["paylater.clinic_pending", "p0"] == {}
    assert run.open_alerts("paylater.clinic_overpaid") == {}
    assert [t for t in run.ledger if t.startswith("refund:")] == [f"refund:{r1}", f"refund:{r2}"]
    assert run.balances() == {"channel:wechat": 12_000, f"hospital:{HOSPITAL}": -12_000}


def test_a_refund_the_provider_refuses_is_alerted_and_its_money_stays_held() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000), bill(ALICE, "B2", 3_000))
    q1, q2 = clinic_order(HOSPITAL, "B1", "q1"), clinic_order(HOSPITAL, "B2", "q1")
    run.feed(repay(ALICE, "B1", 12_500, "wx-1"), repay(ALICE, "B2", 3_200, "wx-2", order=q2))
    r1, r2 = clinic_refund_id("wechat:wx-1"), clinic_refund_id("wechat:wx-2")
    # refused when placed (e.g. the order has nothing left to refund): no longer followed, alerted
    run.feed(refund_answer(ALICE, r1, "failed"))
    [failed] = run.open_alerts("paylater.refund_failed").values()
    assert (failed.alert.key, failed.alert.severity) == (r1, "major")
    assert failed.alert.data == {"patient": ALICE, "order": q1, "refund": r1, "amount_fen": 500}
    assert "NOT_ENOUGH" in failed.alert.message
    # taken, then failed in its notice (REFUND.ABNORMAL)
    run.feed(refund_answer(ALICE, r2, "accepted"))
    run.feed(refund_notice(ALICE, q2, r2, 200, status="failed"))
    assert set(run.open_alerts("paylater.refund_failed")) == {r1, r2}
    assert run.states["paylater.clinic_pending", "p0"] == {}
    # nothing was refunded: the money is still held, and each overpayment still alerted
    assert not [t for t in run.ledger if t.startswith("refund:")]
    assert run.balances()["clearing:refunds"] == -700
    assert set(run.open_alerts("paylater.clinic_overpaid")) == {q1, q2}
    # the parking processor leaves the clinic refund's answers and notices alone
    settings = PaylaterSettings()
    parking = Sessions(0, settings, build_world(settings, None))  # type: ignore[arg-type]
    out = Outputs()
    parking.process([(1, refund_answer(ALICE, r1, "failed")), (2, refund_notice(ALICE, q2, r2, 200)),
                     (3, refund_notice(ALICE, q2, r2, 200, status="failed"))],
                    Emitter(parking.name, 0, AlertBook(), out))  # fmt: skip
    assert (out.postings, out.states, out.alerts) == ([], [], [])


def test_money_for_a_bill_nobody_knows_is_refunded_and_shows_no_patient() -> None:
    run = Run()
    order = clinic_order(HOSPITAL, "NOPE", "q1")
    run.feed(repay("unknown", "NOPE", 800, "wx-7"))
    assert run.lines("repay:wechat:wx-7") == [("channel:wechat", 800), ("clearing:refunds", -800)]
    assert ("paylater.patient", "unknown") not in run.states
    assert list(run.open_alerts("paylater.clinic_overpaid")) == [order]
    refund = clinic_refund_id("wechat:wx-7")
    assert run.states["paylater.clinic_pending", "p0"] == {
        refund: {"patient": "unknown", "bill": "", "amount": 800, "channel": "wechat", "status": "requested",
                 "ts": T0 + DAY_MS, "kind": "refund", "refund_of": order}
    }  # fmt: skip
    run.feed(refund_notice("unknown", order, refund, 800))  # its notice goes where the payment's went
    assert run.balances() == {}
    assert run.open_alerts("paylater.clinic_overpaid") == {}
    assert ("paylater.patient", "unknown") not in run.states


def test_parking_notices_are_left_to_the_parking_processor() -> None:
    run = Run()
    parking = PaymentNotice(
        key="赣A12345",
        ts=T0,
        id="n1",
        channel="wechat",
        movement="payment",
        order="0123456789abcdef-1",
        amount_fen=600,
        status="success",
    )
    out = run.feed(parking)
    assert (out.postings, out.states, out.alerts) == ([], [], [])


def test_the_insurer_settles_its_part_once() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000, insured=18_000))
    run.feed(settled(ALICE, "B1", 18_000), settled(ALICE, "B1", 18_000, eid="again"))
    assert run.lines(f"insured:{HOSPITAL}/B1") == [
        ("clearing:insurer", 18_000),
        (f"insurer:{INSURER}", -18_000),
    ]
    assert run.patient(ALICE)["bills"][k("B1")]["insured_paid_fen"] == 18_000
    assert run.balances() == {
        "clearing:insurer": 18_000,
        f"patient:{ALICE}": 12_000,
        f"hospital:{HOSPITAL}": -30_000,
    }
    run.feed(settled(BOB, "B9", 2_000))  # before its bill: booked, and the bill takes it on arrival
    run.feed(rating(BOB, 620), bill(BOB, "B9", 1_000, insured=2_000))
    assert run.patient(BOB)["bills"][k("B9")]["insured_paid_fen"] == 2_000


def test_closed_bills_are_kept_up_to_bills_kept() -> None:
    run = Run(ClinicSettings(bills_kept=2))
    run.feed(rating(ALICE, 700), *(bill(ALICE, f"B{i}", 0, insured=100, visit=T0 + i) for i in range(5)))
    run.feed(bill(ALICE, "OPEN", 500, visit=T0 - DAY_MS))
    assert sorted(run.patient(ALICE)["bills"]) == [k("B3"), k("B4"), k("OPEN")]
    run.feed(bill(ALICE, "B0", 0, insured=100, eid="late-repeat"))  # pruned, still booked once
    assert len(run.ledger) == 6


def test_a_crash_replays_to_the_same_ledger_and_state() -> None:
    run = Run()
    run.feed(rating(ALICE, 620), bill(ALICE, "B1", 12_000))
    blob = snapshot(run.proc, run.book)
    again = Clinic(0, _Settings(ClinicSettings()), None)
    book = restore(again, blob)
    for proc, bk in ((run.proc, run.book), (again, book)):
        out = Outputs()
        proc.process([(3, repay(ALICE, "B1", 12_000, "wx-1"))], Emitter(proc.name, 0, bk, out))
        assert [(p.txn, p.account, p.amount) for p in out.postings] == [
            ("repay:wechat:wx-1", "channel:wechat", 12_000),
            ("repay:wechat:wx-1", f"patient:{ALICE}", -12_000),
        ]
    assert msgspec.msgpack.encode(run.proc.state) == msgspec.msgpack.encode(again.state)


# -- orders, settings, events ----------------------------------------------------------------------
PROVIDER_ID = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")  # the provider's rule for an order id (sandbox.py)


@given(st.from_regex(r"[0-9A-Za-z_.\-]{1,64}", fullmatch=True))
def test_every_bill_id_makes_an_order_id_the_provider_takes_and_finds_its_bill_again(bid: str) -> None:
    order = clinic_order(HOSPITAL, bid, f"q{T0:x}")
    assert PROVIDER_ID.fullmatch(order) and order.startswith(CLINIC_ORDER)
    assert ref_of_order(order) == bill_ref(HOSPITAL, bid) and len(bill_ref(HOSPITAL, bid)) == 16


def test_the_clinic_settings_default_until_the_scene_has_them_and_refuse_bad_bands() -> None:
    assert clinic_settings(PaylaterSettings()) == ClinicSettings()
    mine = ClinicSettings(settle_days=15)
    assert clinic_settings(_Settings(mine)).settle_days == 15
    for bad in (
        {"bands": [[600, 1], [550, 2]]},
        {"bands": [[600, -1]]},
        {"settle_days": 0},
        {"suspend_after": 0},
        {"surprise": 1},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, ClinicSettings)
    assert msgspec.convert({"bands": [[500, 50_000], [800, 300_000]]}, ClinicSettings).bands == [
        (500, 50_000),
        (800, 300_000),
    ]


def test_a_bill_event_whose_parts_do_not_add_up_is_refused_at_decoding() -> None:
    good = {
        "kind": "paylater.clinic_bill",
        "key": ALICE,
        "ts": T0,
        "hospital": HOSPITAL,
        "bill": "B1",
        "visit_ts": T0,
        "total_fen": 300,
        "insured_fen": 100,
        "self_pay_fen": 200,
        "insurer": INSURER,
    }
    assert msgspec.convert(good, ClinicBill).total_fen == 300
    for bad, says in (
        ({"total_fen": 301}, "total_fen 301"),
        ({"insurer": ""}, "insurer"),
        ({"bill": "B 1"}, "bill"),
        ({"self_pay_fen": -1, "total_fen": 99}, "self_pay_fen"),
    ):
        with pytest.raises(msgspec.ValidationError, match=says):
            msgspec.json.decode(msgspec.json.encode({**good, **bad}), type=ClinicBill)


# -- a property: random histories --------------------------------------------------------------------
PATIENTS = (ALICE, BOB)
HOSPITALS = (HOSPITAL, OTHER)  # both number their bills B0..B5
BILLS = tuple(f"B{i}" for i in range(6))  # bill i of hospital h is patient (i + h) % 2's


ANSWERS: tuple[Literal["requested", "accepted", "failed"], ...] = (
    "requested",
    "requested",
    "accepted",
    "failed",
)
OUTCOMES: tuple[Literal["success", "failed"], ...] = ("success", "success", "failed")


def owner(bid: str, hospital: str) -> str:
    """The same bill id of the two hospitals is two patients' bills."""
    return PATIENTS[(int(bid[1:]) + HOSPITALS.index(hospital)) % 2]


REFUND_STEPS = ("accepted", "refused", "success", "success", "failed", "again")


@dataclass(frozen=True)
class RefundStep:
    """The provider acting on one of the refunds the processor asked for (which one, and what it
    is, is known only once the history is played: ``refund_event`` makes the event then)."""

    pick: int
    what: str  # accepted / refused (its answer to placing it), success / failed (its notice), again
    ts: int


@dataclass
class History:
    # an int: a tick at that wall time
    items: list[ClinicEvent | int | RefundStep] = field(default_factory=list)


def refund_event(proc: Clinic, step: RefundStep, sent: list[ClinicEvent]) -> ClinicEvent | None:
    """The event of ``step`` from the refunds the processor follows now: the provider's answer to
    placing one, or its notice; ``again`` (or no refund followed) repeats one made before."""
    refunds = sorted(oid for oid in dict.keys(proc.state.orders) if proc.state.orders[oid].kind == "refund")
    if step.what == "again" or not refunds:
        return sent[step.pick % len(sent)] if sent else None
    rid = refunds[step.pick % len(refunds)]
    o = proc.state.orders[rid]
    ev: ClinicEvent
    if step.what in ("accepted", "refused"):
        ev = OrderAnswer(key=o.patient, ts=step.ts, id=f"answer:{o.channel}:{rid}", order=rid,
                         movement="refund", channel=o.channel,
                         status="accepted" if step.what == "accepted" else "failed", session=o.bill,
                         amount_fen=o.amount)  # fmt: skip
    else:
        status: Literal["success", "failed"] = "success" if step.what == "success" else "failed"
        ev = PaymentNotice(key=o.patient, ts=step.ts, id=f"{o.channel}:refund:rf-{rid}:{status}",
                           channel=o.channel, movement="refund", order=o.refund_of, refund=rid,
                           channel_txn=f"rf-{rid}", amount_fen=o.amount, status=status)  # fmt: skip
    sent.append(ev)
    return ev


@st.composite
def histories(draw: st.DrawFn) -> History:
    h, t = History(), T0
    notices: list[PaymentNotice] = []
    what_next = ["rating", "bill", "bill", "pay", "pay", "again", "insurer", "order", "tick", "refund"]
    for n in range(draw(st.integers(1, 40))):
        t += draw(st.integers(0, 4)) * DAY_MS // 2
        what = draw(st.sampled_from(what_next))
        bid, hospital = draw(st.sampled_from(BILLS)), draw(st.sampled_from(HOSPITALS))
        order = clinic_order(hospital, bid, f"q{draw(st.integers(0, 2))}")
        if what == "rating":
            h.items.append(rating(draw(st.sampled_from(PATIENTS)), draw(st.integers(500, 760)), as_of=t))
        elif what == "bill":
            h.items.append(
                bill(
                    owner(bid, hospital),
                    bid,
                    draw(st.integers(0, 120_000)),
                    draw(st.integers(0, 3)) * 5_000,
                    visit=t,
                    eid=f"b{n}",
                    hospital=hospital,
                )
            )
        elif what == "pay":
            mine = owner(bid, hospital)
            key = mine if draw(st.integers(0, 9)) else PATIENTS[1 - PATIENTS.index(mine)]
            ev = repay(
                key,
                bid,
                draw(st.integers(1, 130_000)),
                # a provider movement is one payment of one patient (the same id routed to two
                # patients is refused by the ledger's key: see Store.commit)
                f"p{PATIENTS.index(key)}-tx{draw(st.integers(0, 12))}",
                channel=draw(st.sampled_from(["wechat", "etc"])),
                ts=t,
                status=draw(st.sampled_from(OUTCOMES)),
                order=order,
            )
            notices.append(ev)
            h.items.append(ev)
        elif what == "again" and notices:
            h.items.append(draw(st.sampled_from(notices)))
        elif what == "insurer":
            h.items.append(
                settled(owner(bid, hospital), bid, draw(st.integers(1, 3)) * 5_000, f"s{n}", hospital)
            )
        elif what == "order":  # the cashier records an order, or the provider answers placing it
            status = draw(st.sampled_from(ANSWERS))
            amount = draw(st.integers(1, 130_000))
            h.items.append(OrderAnswer(key=owner(bid, hospital), ts=t, id=f"o{n}", order=order,
                                       movement="payment", channel="wechat", status=status,
                                       session=k(bid, hospital), amount_fen=amount))  # fmt: skip
        elif what == "refund":  # the dispatcher placed a refund: the provider's answer or notice
            h.items.append(RefundStep(draw(st.integers(0, 5)), draw(st.sampled_from(REFUND_STEPS)), t))
        else:
            h.items.append(t)
    return h


class Store:
    """The committed ledger and checkpoint; a crash throws away what was not committed."""

    def __init__(self) -> None:
        self.ledger: dict[str, list[Posting]] = {}
        self.pos = 0
        self.blob: bytes | None = None

    def commit(self, pos: int, proc: Clinic, book: AlertBook, out: Outputs) -> None:
        commit_once(self.ledger, out.postings)
        self.pos, self.blob = pos, snapshot(proc, book)


def play(items: list[ClinicEvent | int], batch: int, crashes: set[int]) -> tuple[Store, Clinic, AlertBook]:
    """Events in batches of ``batch``, ticks one by one; before committing a unit holding an index
    of ``crashes`` (once each) the process dies and resumes from its checkpoint."""
    store, proc, book = Store(), Clinic(0, _Settings(ClinicSettings()), None), AlertBook()
    crashed: set[int] = set()
    while store.pos < len(items):
        start = store.pos
        if isinstance(items[start], int):
            unit: list[int] = [start]
        else:
            unit = list(range(start, min(len(items), start + batch)))
            unit = unit[: next((i for i, j in enumerate(unit) if isinstance(items[j], int)), len(unit))]
        out = Outputs()
        em = Emitter(proc.name, 0, book, out)
        first = items[unit[0]]
        if isinstance(first, int):
            proc.tick(first, em)
        else:
            proc.process([(j + 1, ev) for j in unit if not isinstance(ev := items[j], int)], em)
        if any(j in crashes and j not in crashed for j in unit):
            crashed.update(unit)
            proc = Clinic(0, _Settings(ClinicSettings()), None)
            book = restore(proc, store.blob) if store.blob is not None else AlertBook()
            continue
        store.commit(unit[-1] + 1, proc, book, out)
    return store, proc, book


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.integers(1, 6), st.data())
def test_no_history_lends_beyond_the_line_repays_twice_or_unbalances_the_ledger(
    h: History, batch: int, data: st.DataObject
) -> None:
    # one event at a time first: each bill's decision checked against the line it saw; the
    # provider's refund steps become the events they are (the history then played again as fixed)
    proc, book = Clinic(0, _Settings(ClinicSettings()), None), AlertBook()
    items: list[ClinicEvent | int] = []
    sent: list[ClinicEvent] = []
    for step in h.items:
        item = refund_event(proc, step, sent) if isinstance(step, RefundStep) else step
        if item is None:
            continue
        items.append(item)
        em = Emitter(proc.name, 0, book, Outputs())
        if isinstance(item, int):
            proc.tick(item, em)
            continue
        p = proc.state.patients.get(item.key) or Patient()
        named = k(item.bill, item.hospital) if isinstance(item, ClinicBill | InsurerSettled) else ""
        line, used, suspended, new = p.line, p.used(), p.suspended, named not in p.bills
        proc.process([(len(items), item)], em)
        if isinstance(item, ClinicBill) and new:
            b = proc.state.patients[item.key].bills[named]
            if b.amount:  # lent: never beyond what was left of the line, never while suspended
                assert used + b.amount <= line and not suspended
            else:
                assert b.status in ("counter", "covered")
        for q in proc.state.patients.values():
            assert q.used() >= 0 and all(0 <= b.paid <= b.amount for b in q.bills.values())
        for oid, o in proc.state.orders.items():  # an order not yet placed is of a bill still owed
            if o.kind == "refund":  # of what a repayment paid over: to the order that paid it
                assert oid.startswith(CLINIC_ORDER + "R") and o.refund_of.startswith(CLINIC_ORDER)
                assert o.amount > 0
                continue
            owing = proc.state.patients[o.patient].bills.get(o.bill)
            assert o.status == "accepted" or (owing is not None and owing.owed > 0), oid
            assert owing is None or ref_of_order(oid) == owing.ref  # the order names its own bill
    crashes = set(data.draw(st.lists(st.integers(0, max(0, len(items) - 1)), max_size=4)))
    store, proc2, book2 = play(items, batch, crashes)
    clean, _, _ = play(items, 1, set())
    assert store.ledger == clean.ledger  # neither crashes nor batches change the money
    assert msgspec.msgpack.encode(proc2.state) == msgspec.msgpack.encode(proc.state)
    check_books(store.ledger, proc2, book2)


def check_books(ledger: dict[str, list[Posting]], proc: Clinic, book: AlertBook) -> None:
    postings = [p for ps in ledger.values() for p in ps]
    assert_balanced(ledger)
    assert sum(p.amount for p in postings) == 0
    owed: Counter[str] = Counter()
    applied: Counter[tuple[str, str]] = Counter()
    for p in postings:
        if p.account.startswith("patient:"):
            owed[p.account.removeprefix("patient:")] += p.amount
            if p.amount < 0:
                applied[p.account.removeprefix("patient:"), p.ref] -= p.amount
    cfg = ClinicSettings()
    for key, q in proc.state.patients.items():
        assert owed[key] == q.used()  # the ledger's receivable is what the state says is lent
        for bid, b in q.bills.items():
            assert applied[key, bid] == b.paid <= b.amount  # repaid at most once, never beyond
            assert (b.status == "paid") == (b.amount > 0 and b.paid == b.amount)
            overdue_alert = book.tracks.get(f"paylater.clinic_overdue:{key}:{bid}")
            assert (overdue_alert is not None) == (b.status == "overdue")
        overdue = any(b.status == "overdue" for b in q.bills.values())
        assert q.suspended == (q.defaults >= cfg.suspend_after and overdue)
        assert q.defaults == sum(b.overdue_ts > 0 for b in q.bills.values())
    channels = sum(p.amount for p in postings if p.account.startswith("channel:"))
    held = -sum(p.amount for p in postings if p.account == "clearing:refunds")
    assert channels == sum(applied.values()) + held  # every fen paid in is a repayment or held to refund
    # every excess has one refund: followed, confirmed (booked once, of the excess) or failed (held)
    excess = {p.txn.removeprefix("repay:"): -p.amount for p in postings
              if p.txn.startswith("repay:") and p.account == "clearing:refunds"}  # fmt: skip
    refunds = {clinic_refund_id(movement): fen for movement, fen in excess.items()}
    assert {t.removeprefix("refund:") for t in ledger if t.startswith("refund:")} <= set(refunds)
    failed = 0
    for rid, fen in refunds.items():
        followed = proc.state.orders.get(rid)
        booked = ledger.get(f"refund:{rid}")
        alerted = f"paylater.refund_failed:{rid}" in book.tracks
        assert (followed is not None) + (booked is not None) + alerted == 1, rid
        if followed is not None:
            assert (followed.kind, followed.amount) == ("refund", fen)
        if booked is not None:
            assert (booked[0].account, booked[0].amount) == ("clearing:refunds", fen)
        failed += fen if alerted else 0
    still = sum(o.amount for o in proc.state.orders.values() if o.kind == "refund")
    assert held == still + failed  # what is held is what is being refunded, or failed to be


# -- through the HTTP API ----------------------------------------------------------------------------
# The scene as shipped once the lead registers the clinic (events, processor, rules, the router at
# /clinic); until then the same parts composed into a scene of the same name.
CLINIC = BASE + "/clinic"
NO_NOTICES = {"sandbox_drop_rate": 1.0, "sandbox_delay_ms": 0}  # the test plays the notify route


def clinic_scene() -> sdk.Scene[PaylaterSettings]:
    if any(name == Clinic.name for name, _ in scene.custom):
        return scene
    router = APIRouter()
    router.include_router(api.router)
    router.include_router(clinic_api.router, prefix="/clinic")
    return sdk.Scene(
        "paylater",
        title=scene.title,
        description=scene.description,
        settings=PaylaterSettings,
        events=[*scene.events, CreditRating, ClinicBill, InsurerSettled],
        rules=[*scene.alert_rules, *RULES],
        processors=[*(cast(type[sdk.Processor[Any]], cls) for _, cls in scene.custom), Clinic],
        case_types=case_types,
        router=router,
        servers=gateway.servers,
        world=build_world,
    )


@contextmanager
def desk(tmp_path: Path) -> Iterator[Lot]:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var")})
    s.pipeline.tick_ms = 0  # every round ticks: overdue bills are found as soon as the pipeline runs
    s.scenes["paylater"] = {"dispatcher": False, "channels": {"wechat": NO_NOTICES, "etc": NO_NOTICES}}
    p = Platform(s, scenes={"paylater": clinic_scene()})
    with TestClient(create_app(p.settings, platform=p)) as client:
        yield Lot(client, p)


def post(lot: Lot, path: str, body: dict[str, Any], status: int = 200) -> Any:
    r = lot.c.post(CLINIC + path, json=body, headers=lot.h["ingest"])
    assert r.status_code == status, r.text
    return r.json()


def patient(lot: Lot, key: str) -> dict[str, Any]:
    r = lot.c.get(f"{CLINIC}/patients/{key}", headers=lot.h["read"])
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


def bill_body(key: str, bid: str, self_pay: int, insured: int = 0, visit: int = 0) -> dict[str, Any]:
    return {
        "patient": key,
        "hospital": HOSPITAL,
        "bill": bid,
        "visit_ts": visit or sdk.now_ms() - 60_000,
        "total_fen": self_pay + insured,
        "insured_fen": insured,
        "self_pay_fen": self_pay,
        "insurer": INSURER if insured else "",
    }


def rate(lot: Lot, key: str, score: int) -> dict[str, Any]:
    got: dict[str, Any] = post(
        lot, "/ratings", {"patient": key, "score": score, "source": "bailu", "as_of": sdk.now_ms() - DAY_MS}
    )
    lot.drain()
    return got


def paid_notice(lot: Lot, key: str, order: str, amount: int, txn: str) -> None:
    lot.p.publish(
        [
            PaymentNotice(
                key=key,
                ts=sdk.now_ms(),
                id=f"wechat:payment:{txn}:success",
                channel="wechat",
                movement="payment",
                order=order,
                channel_txn=txn,
                amount_fen=amount,
                status="success",
            )
        ]
    )
    lot.drain()


def test_the_his_posts_a_bill_and_is_told_it_is_on_credit_with_its_due_date(tmp_path: Path) -> None:
    with desk(tmp_path) as lot:
        assert rate(lot, ALICE, 660)["line_fen"] == 200_000
        body = bill_body(ALICE, "MZ1", self_pay=12_000, insured=18_000)
        told = post(lot, "/bills", body)
        due = body["visit_ts"] + 10 * DAY_MS
        assert (
            told["on_credit"],
            told["status"],
            told["credit_fen"],
            told["due_ts"],
            told["available_fen"],
        ) == (True, "open", 12_000, due, 188_000)
        lot.drain()
        again = post(lot, "/bills", body)  # the HIS retries: the same answer, booked once
        assert (again["on_credit"], again["due_ts"], again["available_fen"]) == (True, due, 188_000)
        lot.drain()
        got = patient(lot, ALICE)
        assert (got["state"]["used_fen"], got["owed_fen"], got["state"]["bills"][k("MZ1")]["due_ts"]) == (
            12_000,
            12_000,
            due,
        )
        assert [e["kind"] for e in got["evidence"]] == ["paylater.credit_rating", "paylater.clinic_bill"]
        assert lot.balances() == {
            f"insurer:{INSURER}": 18_000,
            f"patient:{ALICE}": 12_000,
            f"hospital:{HOSPITAL}": -30_000,
        }
        assert lot.get("/ledger/trial-balance")["balanced"] is True
        assert patient_of_order(lot.p.store, clinic_order(HOSPITAL, "MZ1", "q1")) == ALICE


def test_an_unrated_patient_is_told_to_pay_at_the_counter(tmp_path: Path) -> None:
    with desk(tmp_path) as lot:
        told = post(lot, "/bills", bill_body(BOB, "MZ2", self_pay=5_000))
        assert (told["on_credit"], told["reason"], told["due_ts"]) == (False, "no_line", None)
        assert "窗口" in told["display"]
        lot.drain()
        assert lot.balances() == {} and patient(lot, BOB)["state"]["bills"][k("MZ2")]["status"] == "counter"


def test_a_bill_that_does_not_add_up_is_refused_naming_the_field(tmp_path: Path) -> None:
    with desk(tmp_path) as lot:
        wrong = {**bill_body(ALICE, "MZ3", self_pay=100, insured=200), "total_fen": 250}
        assert post(lot, "/bills", wrong, 422)["errors"][0]["field"] == "total_fen"
        nobody = {**bill_body(ALICE, "MZ3", self_pay=100, insured=200), "insurer": ""}
        assert post(lot, "/bills", nobody, 422)["errors"][0]["field"] == "insurer"
        negative = {**bill_body(ALICE, "MZ3", self_pay=100), "insured_fen": -1}
        assert post(lot, "/bills", negative, 422)["detail"][0]["loc"][-1] == "insured_fen"
        future = bill_body(ALICE, "MZ3", self_pay=100, visit=sdk.now_ms() + DAY_MS)
        assert post(lot, "/bills", future, 422)["errors"][0]["field"] == "visit_ts"
        post(lot, "/bills", bill_body(ALICE, "MZ3", self_pay=100))
        lot.drain()
        post(lot, "/bills", bill_body(BOB, "MZ3", self_pay=100), 409)  # one bill id, one patient
        assert lot.c.get(f"{CLINIC}/patients/nobody", headers=lot.h["read"]).status_code == 404


def test_overdue_bills_are_reminded_and_the_third_suspends_credit_until_repaid(tmp_path: Path) -> None:
    with desk(tmp_path) as lot:
        rate(lot, ALICE, 720)
        eleven_days_ago = sdk.now_ms() - 11 * DAY_MS
        for i in range(3):
            post(lot, "/bills", bill_body(ALICE, f"OLD{i}", self_pay=10_000, visit=eleven_days_ago + i))
        lot.drain()
        lot.p.pipeline.run_once()  # a tick: ten days have passed for all three
        state = patient(lot, ALICE)["state"]
        assert (state["defaults"], state["overdue"], state["suspended"]) == (3, 3, True)
        alerts = lot.p.store.alerts(AlertQuery(scene="paylater", limit=100))
        overdue = sorted(a.key for a in alerts if a.rule == "paylater.clinic_overdue" and a.status == "open")
        assert overdue == [f"{ALICE}:{HOSPITAL}/OLD{i}" for i in range(3)]
        told = post(lot, "/bills", bill_body(ALICE, "NEW", self_pay=1_000))
        assert (told["on_credit"], told["reason"]) == (False, "suspended")
        lot.drain()
        for i in range(3):
            paid_notice(lot, ALICE, clinic_order(HOSPITAL, f"OLD{i}", "q1"), 10_000, f"wx-{i}")
        state = patient(lot, ALICE)["state"]
        assert (state["suspended"], state["defaults"], state["used_fen"]) == (False, 3, 0)
        alerts = lot.p.store.alerts(AlertQuery(scene="paylater", limit=100))
        assert not [a for a in alerts if a.rule.startswith("paylater.clinic") and a.status != "resolved"]
        assert post(lot, "/bills", bill_body(ALICE, "NEWER", self_pay=1_000))["on_credit"] is True


def pay_path(bid: str, hospital: str = HOSPITAL) -> str:
    return f"/hospitals/{hospital}/bills/{bid}/pay"


@contextmanager
def providers(lot: Lot) -> Iterator[dict[str, Any]]:
    """The sandbox providers of the desk's channels (its dispatcher is off: the test follows the
    orders), by channel."""
    rt = lot.p.runtime("paylater")
    rt.world.providers.start(rt.settings.channels, 16)
    try:
        yield rt.world.providers.channels
    finally:
        rt.world.providers.close()


def found_by_asking(lot: Lot, channel: Any, order: str) -> None:
    """The provider asked after ``order`` until it is paid, and its answer published as the
    dispatcher publishes it."""
    found = until_paid(channel, order)
    lot.p.publish([notice_event(found, patient_of_order(lot.p.store, order), "query")])
    lot.drain()


def test_the_cashier_repays_a_bill_by_any_channel_and_refuses_one_that_owes_nothing(tmp_path: Path) -> None:
    with desk(tmp_path) as lot:
        rate(lot, ALICE, 620)
        post(lot, "/bills", bill_body(ALICE, "MZ5", self_pay=12_000))
        lot.drain()
        assert post(lot, pay_path("MZ5"), {"channel": "etc"}, 404)["message"].startswith(
            "channel 'etc' is not"
        )
        with providers(lot) as channels:
            got = post(lot, pay_path("MZ5"), {"channel": "etc"})
            assert (got["status"], got["amount_fen"], got["channel"]) == ("accepted", 12_000, "etc")
            assert got["order"].startswith(f"CB-{bill_ref(HOSPITAL, 'MZ5')}-q")
            assert PROVIDER_ID.fullmatch(got["order"])
            found_by_asking(lot, channels["etc"], got["order"])
        bill_now = patient(lot, ALICE)["state"]["bills"][k("MZ5")]
        assert (bill_now["status"], bill_now["paid_fen"]) == ("paid", 12_000)
        assert lot.balances() == {"channel:etc": 12_000, f"hospital:{HOSPITAL}": -12_000}
        said = post(lot, pay_path("MZ5"), {}, 409)["message"]
        assert said == f"bill MZ5 of {HOSPITAL} owes nothing: it is paid"
        assert post(lot, pay_path("NOPE"), {}, 404)["message"] == f"no bill 'NOPE' of '{HOSPITAL}'"
        assert post(lot, pay_path("MZ5", OTHER), {}, 404)["message"] == f"no bill 'MZ5' of '{OTHER}'"


def test_two_hospitals_send_the_same_bill_id_and_each_is_booked_and_repaid_once(tmp_path: Path) -> None:
    with desk(tmp_path) as lot:
        rate(lot, ALICE, 620)  # 1,000 yuan
        rate(lot, BOB, 620)
        mine = post(lot, "/bills", bill_body(ALICE, "MZ1", self_pay=12_000))
        theirs = post(lot, "/bills", {**bill_body(BOB, "MZ1", self_pay=3_000), "hospital": OTHER})
        assert (mine["on_credit"], mine["key"], theirs["on_credit"], theirs["key"]) == (
            True, k("MZ1"), True, k("MZ1", OTHER),
        )  # fmt: skip
        lot.drain()
        again = post(lot, "/bills", bill_body(ALICE, "MZ1", self_pay=12_000))  # HOSPITAL's HIS retries
        assert (again["on_credit"], again["available_fen"]) == (True, 88_000)
        post(lot, "/bills", bill_body(BOB, "MZ1", self_pay=12_000), 409)  # HOSPITAL's MZ1 is ALICE's
        slash = {**bill_body(BOB, "MZ9", self_pay=1), "hospital": "jx/provincial"}
        assert post(lot, "/bills", slash, 422)["detail"][0]["loc"][-1] == "hospital"
        lot.drain()
        assert sorted(patient(lot, ALICE)["state"]["bills"]) == [k("MZ1")]
        assert sorted(patient(lot, BOB)["state"]["bills"]) == [k("MZ1", OTHER)]
        assert lot.balances() == {
            f"patient:{ALICE}": 12_000,
            f"patient:{BOB}": 3_000,
            f"hospital:{HOSPITAL}": -12_000,
            f"hospital:{OTHER}": -3_000,
        }
        with providers(lot) as channels:
            paid = [post(lot, pay_path("MZ1", h), {}) for h in (HOSPITAL, OTHER)]
            assert [p["amount_fen"] for p in paid] == [12_000, 3_000]
            assert paid[0]["order"] != paid[1]["order"]
            assert [patient_of_order(lot.p.store, p["order"]) for p in paid] == [ALICE, BOB]
            for got in paid:
                found_by_asking(lot, channels["wechat"], got["order"])
                found_by_asking(lot, channels["wechat"], got["order"])  # asked again: applied once
        for key, bk in ((ALICE, k("MZ1")), (BOB, k("MZ1", OTHER))):
            assert patient(lot, key)["state"]["bills"][bk]["status"] == "paid"
        assert lot.balances() == {
            "channel:wechat": 15_000,
            f"hospital:{HOSPITAL}": -12_000,
            f"hospital:{OTHER}": -3_000,
        }
        for h in (HOSPITAL, OTHER):
            post(lot, pay_path("MZ1", h), {}, 409)


def test_the_cashier_asked_again_reuses_the_open_order(tmp_path: Path) -> None:
    """A desk whose request timed out pays again: the order recorded and open at that channel is
    placed again (the provider takes its id once), not a second debit."""
    with desk(tmp_path) as lot:
        rate(lot, ALICE, 620)
        post(lot, "/bills", bill_body(ALICE, "MZ6", self_pay=12_000))
        lot.drain()
        with providers(lot) as channels:
            first = post(lot, pay_path("MZ6"), {})
            lot.drain()
            time.sleep(0.005)  # another millisecond: a new order would have another id
            again = post(lot, pay_path("MZ6"), {"channel": "wechat"})
            lot.drain()
            assert again == first
            requested = [e for e in lot.p.store.find_events(["paylater.answer"], keys=[ALICE])
                         if getattr(e, "status", "") == "requested"]  # fmt: skip
            assert [getattr(e, "order", "") for e in requested] == [first["order"]]
            [row] = lot.p.store.states("paylater.clinic_pending")
            assert list(row["data"]) == [first["order"]]
            assert row["data"][first["order"]]["status"] == "accepted"
            found_by_asking(lot, channels["wechat"], first["order"])
        [row] = lot.p.store.states("paylater.clinic_pending")
        assert row["data"] == {}  # its outcome is known: no longer open
        assert patient(lot, ALICE)["state"]["bills"][k("MZ6")]["status"] == "paid"
        assert lot.balances() == {"channel:wechat": 12_000, f"hospital:{HOSPITAL}": -12_000}


def until_paid(channel: Any, order: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while (found := channel.query_payment(order)) is None or found.status != "success":
        assert time.monotonic() < deadline, f"{order} not paid at the provider"
        time.sleep(0.02)
    return found


def test_the_refund_of_an_overpayment_is_followed_by_the_dispatcher_and_never_reused_as_a_repayment(
    tmp_path: Path,
) -> None:
    """The processor publishes the refund with the cashier's orders: the dispatcher places it as a
    refund of the order that paid, and the cashier never takes it for an open repayment of the bill
    (its published bill may still owe while the refund is recorded)."""
    with desk(tmp_path) as lot:
        rate(lot, ALICE, 620)
        post(lot, "/bills", bill_body(ALICE, "MZ7", self_pay=12_000))
        lot.drain()
        order = clinic_order(HOSPITAL, "MZ7", "q1")
        paid_notice(lot, ALICE, order, 12_600, "wx-over")
        refund = clinic_refund_id("wechat:wx-over")
        [row] = lot.p.store.states("paylater.clinic_pending")
        ts = row["data"][refund]["ts"]
        assert gateway.followed(lot.p.store) == {
            refund: gateway.Followed(ALICE, "refund", "wechat", 600, ALICE, k("MZ7"), gateway.CLINIC_REFUND,
                                     "requested", ts, refund_of=order)
        }  # fmt: skip
        assert clinic_api.open_order(lot.p.store, k("MZ7"), "wechat") is None

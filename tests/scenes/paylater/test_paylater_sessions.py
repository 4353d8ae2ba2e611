"""Sessions end to end through the gate API and the pipeline: leave first and pay later, pay at
the gate, and the reported failures reproduced (a missed exit billed for weeks, a stale entry
billed on the next visit, a QR payment plus an ETC debit for one exit), each with the outcome a
driver should get. Fees are the 2026 city-core tariff, computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

from citybrain.core.store.base import AlertQuery
from citybrain.scenes.paylater.events import LotActivity
from tests.scenes.paylater.paylater_testkit import DAY, HOUR, LOT, MIN, T0, running

PLATE = "赣A12345"


def test_a_bound_car_leaves_first_and_is_charged_once(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        entry = lot.gate(PLATE, "entry", T0)
        assert (entry["decision"], entry["reason"], entry["plate"]) == ("open", "entered", PLATE)
        out = lot.gate(PLATE, "exit", T0 + 2 * HOUR)
        # 10:00-12:00 by day: the first hour 600 fen, then two half hours of 150
        assert (out["decision"], out["reason"], out["fee_fen"], out["session"]) == (
            "open", "pay_later", 900, entry["session"])  # fmt: skip
        sid = out["session"]
        [order] = lot.pending().values()
        assert (order["id"], order["kind"], order["amount"], order["channel"], order["payer"]) == (
            f"{sid}-1", "payment", 900, "wechat", "wx-openid-1")  # fmt: skip
        lot.notice(PLATE, f"{sid}-1", 900)
        lot.notice(PLATE, f"{sid}-1", 900)  # the provider repeats its notice
        s = lot.session(sid)
        assert (s["session"]["status"], s["session"]["fee"], s["session"]["settled_channel"]) == (
            "settled", 900, "wechat")  # fmt: skip
        assert [p["txn"] for p in s["postings"]] == [f"accrue:{sid}"] * 2 + [f"settle:{sid}"] * 2
        assert lot.balances() == {"lot:bayi-square": -900, "channel:wechat": 900}
        assert lot.pending() == {}
        assert lot.get("/ledger/trial-balance")["balanced"] is True


def test_an_unbound_car_pays_at_the_gate_and_is_let_out_when_read_again(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.gate(PLATE, "entry", T0)
        out = lot.gate(PLATE, "exit", T0 + 30 * MIN)
        assert (out["decision"], out["reason"], out["fee_fen"]) == ("pay", "pay_at_gate", 600)
        again = lot.gate(PLATE, "exit", T0 + 31 * MIN)  # still unpaid: the same session, the same fee
        assert (again["decision"], again["session"], again["fee_fen"]) == ("pay", out["session"], 600)
        lot.notice(PLATE, f"{out['session']}-1", 600)
        paid = lot.gate(PLATE, "exit", T0 + 32 * MIN)
        assert (paid["decision"], paid["reason"], paid["session"]) == ("open", "paid", out["session"])
        assert lot.balances() == {"lot:bayi-square": -600, "channel:wechat": 600}


def test_a_short_stay_is_free_and_books_nothing(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.gate(PLATE, "entry", T0)
        out = lot.gate(PLATE, "exit", T0 + 15 * MIN)
        assert (out["decision"], out["reason"], out["fee_fen"]) == ("open", "free", 0)
        assert lot.balances() == {} and lot.session(out["session"])["session"]["status"] == "free"


def test_qr_at_the_gate_and_etc_at_the_exit_charge_once_and_refund_the_second(tmp_path: Path) -> None:
    """上海: 5 yuan paid by QR code, then ETC debited another 5 yuan for the same exit."""
    with running(tmp_path) as lot:
        lot.gate(PLATE, "entry", T0)
        sid = lot.gate(PLATE, "exit", T0 + 30 * MIN)["session"]
        lot.notice(PLATE, f"{sid}-1", 600, channel="wechat", txn="wx-1")
        lot.notice(PLATE, f"{sid}-etc", 600, channel="etc", txn="etc-77")
        [refund] = lot.pending().values()
        assert (refund["kind"], refund["amount"], refund["channel"], refund["refund_of"]) == (
            "refund", 600, "etc", f"{sid}-etc")  # fmt: skip
        assert lot.session(sid)["session"]["settled_by"] == "wechat:wx-1"
        assert lot.balances() == {"lot:bayi-square": -600, "channel:wechat": 600, "channel:etc": 600,
                                  "clearing:refunds": -600}  # fmt: skip
        lot.notice(PLATE, f"{sid}-etc", 600, channel="etc", txn="etc-r-1", movement="refund",
                   refund=refund["id"])  # fmt: skip
        assert lot.balances() == {"lot:bayi-square": -600, "channel:wechat": 600}
        assert lot.pending() == {}
        [alert] = [a for a in lot.p.store.alerts(lot_alerts()) if a.rule == "paylater.duplicate_payment"]
        assert alert.data["refund"] == refund["id"] and alert.data["amount_fen"] == 600


def test_a_missed_exit_is_never_billed_for_weeks(tmp_path: Path) -> None:
    """武汉 2024: a 5-minute transit billed as 38 days (1,170 yuan) from an entry whose exit was
    missed. The exit weeks later is held; the old session is in review at a capped fee, unbilled."""
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        sid = lot.gate(PLATE, "entry", T0)["session"]
        out = lot.gate(PLATE, "exit", T0 + 38 * DAY + 13 * HOUR + 41 * MIN)
        assert (out["decision"], out["reason"], out["fee_fen"]) == ("hold", "in_review", 0)
        s = lot.session(sid)
        # priced to the 24-hour horizon at most: the 2026 daily cap of 4,000 fen, below the 5,000 cap
        assert (s["session"]["status"], s["session"]["reason"], s["session"]["fee"]) == (
            "review", "orphaned", 4_000)  # fmt: skip
        assert s["postings"] == [] and lot.balances() == {} and lot.pending() == {}
        [alert] = [a for a in lot.p.store.alerts(lot_alerts()) if a.rule == "paylater.review"]
        assert alert.key == sid and alert.status == "open"


def test_a_stale_entry_does_not_bill_the_next_visit(tmp_path: Path) -> None:
    """海口 2019: a 30-minute stay billed 307 yuan from an entry two weeks earlier whose exit was
    not recorded. The new entry closes the old session for review; the visit pays 30 minutes."""
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        old = lot.gate(PLATE, "entry", T0)["session"]
        new = lot.gate(PLATE, "entry", T0 + 14 * DAY)["session"]
        out = lot.gate(PLATE, "exit", T0 + 14 * DAY + 30 * MIN)
        assert (out["decision"], out["reason"], out["fee_fen"], out["session"]) == (
            "open",
            "pay_later",
            600,
            new,
        )
        assert lot.session(old)["session"]["status"] == "review"
        assert [p.ref for p in lot.p.store.ledger_postings(prefix="lot:")] == [new]
        assert lot.balances() == {"payer:wx-openid-1": 600, "lot:bayi-square": -600}


def test_a_session_in_review_is_billed_only_when_an_operator_says_so(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        sid = lot.gate(PLATE, "entry", T0)["session"]
        lot.gate(PLATE, "entry", T0 + 3 * HOUR, lot="honggutan-wanda")  # the exit at bayi-square was missed
        assert lot.session(sid)["session"]["reason"] == "missed_exit"
        # 10:00-13:00: 600 + 4 x 150 = 1,200, under the 5,000 cap
        assert lot.session(sid)["session"]["fee"] == 1_200
        got = lot.post("/review", {"session": sid, "action": "bill", "fee_fen": 1_200}, "operate")
        lot.drain()
        assert lot.session(sid)["session"]["status"] == "due"
        case = lot.p.store.case(got["case"])
        assert (case.type, case.state, case.fields["plate"], case.department) == (
            "paylater.review", "billed", PLATE, "nc-data")  # fmt: skip
        [order] = lot.pending().values()
        assert (order["session"], order["amount"]) == (sid, 1_200)
        lot.post("/review", {"session": sid, "action": "waive"}, "operate", status=404)


def test_a_doubtful_read_binds_nothing_until_an_operator_confirms_it(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        lot.gate(PLATE, "entry", T0)
        held = lot.gate("赣A12846", "exit", T0 + HOUR, confidence=0.6, read_id="x1")
        assert (held["decision"], held["reason"], held["fee_fen"]) == ("hold", "low_confidence", 0)
        junk = lot.gate("赣I2345", "exit", T0 + HOUR, read_id="x2")
        assert (junk["decision"], junk["reason"], junk["plate"]) == ("hold", "bad_plate", "")
        assert lot.balances() == {} and lot.pending() == {}
        assert {a.key for a in lot.p.store.alerts(lot_alerts()) if a.status == "open"} == {
            f"{LOT}:x1", f"{LOT}:x2"}  # fmt: skip
        bad = lot.post("/confirm", {"gate_event": f"{LOT}:x1", "plate": "赣A1234"}, "operate", status=422)
        assert "赣A1234" in bad["message"]
        got = lot.post("/confirm", {"gate_event": f"{LOT}:x1", "plate": PLATE}, "operate")
        lot.drain()
        case = lot.p.store.case(got["case"])
        assert (case.type, case.state, case.fields["plate_read"], case.fields["photos"]) == (
            "paylater.held", "confirmed", "赣A12846", [])  # fmt: skip
        assert lot.balances() == {"payer:wx-openid-1": 600, "lot:bayi-square": -600}
        assert {a.key for a in lot.p.store.alerts(lot_alerts()) if a.status == "open"} == {f"{LOT}:x2"}


def test_a_plate_over_its_arrears_cap_pays_before_leaving_at_every_lot(tmp_path: Path) -> None:
    with running(tmp_path, max_arrears_count=2) as lot:
        lot.bind(PLATE)
        for day in range(2):
            t = T0 + day * DAY
            lot.gate(PLATE, "entry", t)
            sid = lot.gate(PLATE, "exit", t + 30 * MIN)["session"]
            lot.notice(PLATE, f"{sid}-1", 600, status="failed")  # declined: owed
        assert lot.get(f"/plates/{PLATE}")["state"]["arrears_count"] == 2
        lot.gate(PLATE, "entry", T0 + 2 * DAY, lot="honggutan-wanda")
        out = lot.gate(PLATE, "exit", T0 + 2 * DAY + 30 * MIN, lot="honggutan-wanda")
        assert (out["decision"], out["reason"]) == ("pay", "arrears_cap")


def test_one_payer_per_plate(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE, payer="alice")
        body = {"plate": PLATE, "action": "bind", "payer": "bob", "consent": "c-bob"}
        assert "bound to another payer" in lot.post("/bindings", body, status=409)["message"]
        lot.post("/bindings", {"plate": PLATE, "action": "unbind", "payer": "alice"})
        lot.drain()
        lot.post("/bindings", body)
        lot.drain()
        assert lot.get(f"/plates/{PLATE}")["state"]["payer"] == "bob"
        history = [e["action"] + ":" + e["payer"] for e in lot.get(f"/plates/{PLATE}")["evidence"]
                   if e["kind"] == "paylater.binding"]  # fmt: skip
        assert history == ["bind:alice", "unbind:alice", "bind:bob"]


def lot_alerts() -> AlertQuery:
    return AlertQuery(scene="paylater", limit=100)


def test_a_disputed_charge_is_answered_with_evidence_and_refunded_by_its_case(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        lot.gate(PLATE, "entry", T0)
        sid = lot.gate(PLATE, "exit", T0 + 2 * HOUR)["session"]
        lot.notice(PLATE, f"{sid}-1", 900)
        body = {"plate": PLATE, "session": sid, "reason": "我只停了一小时", "contact": "138****0000"}
        case_id = lot.post("/disputes", body)["case"]
        assert lot.post("/disputes", body)["case"] == case_id  # once per session
        case = lot.p.store.case(case_id)
        assert (case.type, case.state, case.fields["fee_fen"], len(case.fields["reads"])) == (
            "paylater.dispute", "received", 900, 2)  # the entry and the exit read  # fmt: skip
        evidence = lot.session(sid)
        # the receipt: 10:00-12:00 by day, three units (the first hour and two half hours), 900 fen
        assert [(x["period"], x["units"], x["amount_fen"]) for x in evidence["fee_lines"]] == [
            ("白天 day", 3, 900)
        ]
        assert [r["direction"] for r in evidence["reads"]] == ["entry", "exit"]
        r = lot.c.post(f"/api/v1/cases/{case_id}/actions/refund", headers=lot.h["admin"],
                       json={"command_id": "refund-1", "version": case.version,
                             "fields": {"amount_fen": 300, "reply": "按一小时收费, 退还3元"}})  # fmt: skip
        assert r.status_code == 200, r.text
        lot.drain()
        [refund] = lot.pending().values()
        assert (refund["kind"], refund["amount"], refund["refund_of"]) == ("refund", 300, f"{sid}-1")
        lot.notice(PLATE, f"{sid}-1", 300, movement="refund", refund=refund["id"], txn="wx-r-1")
        assert lot.balances() == {"lot:bayi-square": -600, "channel:wechat": 600}
        assert lot.session(sid)["session"]["refunded"] == 300


def test_the_overview_counts_exits_and_those_let_out_at_once(tmp_path: Path) -> None:
    from citybrain.scenes.paylater.api import overview

    with running(tmp_path) as lot:
        lot.bind(PLATE)
        for plate in (PLATE, "赣A54321", "赣AD12346"):
            lot.gate(plate, "entry", T0)
        t = T0 + HOUR + 30_000
        assert lot.gate(PLATE, "exit", t)["decision"] == "open"  # bound: pay later
        assert lot.gate("赣A54321", "exit", t + 1_000)["decision"] == "pay"  # unbound, pays at the gate
        assert lot.gate("赣AD12346", "exit", t + 2_000, confidence=0.5)["decision"] == "hold"
        o = overview(lot.p.store, lot.p.runtime("paylater").world, now=t + 60_000)
        assert (o.exits_per_min, o.left_first_share) == (3, round(1 / 3, 4))
        assert o.decision_ms_p50 is not None and o.decision_ms_p99 is not None  # this node answered them
        # two stays of 1 h 0 min 30 s by day: the first hour 600 and a started half hour 150, each
        assert (o.accrued_fen, o.outstanding_fen, o.held_reads, o.balanced) == (1_500, 1_500, 1, True)
        assert lot.get("/overview")["exits_per_min"] == 0  # wall-clock now: no exit this minute


def test_a_busy_lot_falling_silent_and_a_long_queue_raise_alerts_that_resolve(tmp_path: Path) -> None:
    from citybrain.scenes.paylater.gateway import watch_events

    with running(tmp_path, review_backlog=1) as lot:
        rt = lot.p.runtime("paylater")
        for i, plate in enumerate(
            ("赣A11111", "赣A22222", "赣A33333")
        ):  # three reads in partitions of their own
            lot.gate(plate, "entry", T0 + i * MIN)
        lot.gate("赣A11111", "exit", T0 + 5 * MIN, confidence=0.4)  # held: a case waits
        lot.gate("赣A22222", "exit", T0 + 6 * MIN, confidence=0.4)  # and another
        quiet = T0 + 2 * HOUR  # 30 minutes after the last read is long past
        made = {e.key: e for e in watch_events(rt, quiet)}
        activity = made[LOT]
        assert isinstance(activity, LotActivity)
        assert (activity.reads, activity.active_before) == (0, True)  # every partition's reads summed
        assert "honggutan-wanda" not in made  # never read: nothing to say
        assert made["paylater.held"].open == 2  # type: ignore[attr-defined]
        lot.p.publish(list(made.values()))
        lot.drain()
        open_ = {(a.rule, a.key) for a in lot.p.store.alerts(lot_alerts()) if a.status == "open"}
        assert {("paylater.gate_silent", LOT), ("paylater.review_backlog", "paylater.held")} <= open_
        days_later = {e.key: e for e in watch_events(rt, quiet + DAY + HOUR)}[LOT]
        assert isinstance(days_later, LotActivity) and days_later.active_before  # silent still, not forgotten
        lot.gate("赣A33333", "exit", quiet + MIN)  # the lot reads again
        again = {e.key: e for e in watch_events(rt, quiet + 2 * MIN)}
        assert again[LOT].reads == 1  # type: ignore[attr-defined]
        lot.p.publish(list(again.values()))
        lot.drain()
        resolved = {a.rule for a in lot.p.store.alerts(lot_alerts()) if a.status == "resolved"}
        assert "paylater.gate_silent" in resolved


def test_the_report_sums_the_period_s_money_from_the_ledger(tmp_path: Path) -> None:
    from citybrain.scenes.paylater import scene

    with running(tmp_path) as lot:
        lot.bind(PLATE)
        lot.gate(PLATE, "entry", T0)
        sid = lot.gate(PLATE, "exit", T0 + 2 * HOUR)["session"]  # 900 fen, charged after it left
        lot.notice(PLATE, f"{sid}-1", 900)
        lot.notice(PLATE, f"{sid}-etc", 900, channel="etc", txn="etc-1")  # paid twice: refunded
        [refund] = lot.pending().values()
        lot.notice(
            PLATE, f"{sid}-etc", 900, channel="etc", txn="etc-r", movement="refund", refund=refund["id"]
        )
        lot.gate("赣B54321", "entry", T0)
        lot.gate("赣B54321", "exit", T0 + 30 * MIN)  # 600 fen, to pay at the gate: charged, not paid
        section = scene.section(lot.p, T0 - HOUR, T0 + DAY)
        assert section is not None
        assert section["money"] == {"fees_fen": 1_500, "paid_fen": 900, "duplicates_fen": 900,
                                    "refunded_fen": 900, "disputes_fen": 0, "clinic_lent_fen": 0,
                                    "clinic_repaid_fen": 0}  # fmt: skip
        assert (section["exits"], section["left_first_share"]) == (2, 0.5)
        assert section["now"]["outstanding_fen"] == 600 and section["now"]["balanced"] is True
        assert scene.section(lot.p, T0 + DAY, T0 + 2 * DAY)["money"]["fees_fen"] == 0  # type: ignore[index]


def test_events_the_scene_makes_itself_cannot_be_sent_by_anyone(tmp_path: Path) -> None:
    """A forged provider notice (or order, review, case change) through the generic ingest would
    settle a session without money, or charge a payer: every one is refused, naming its kind."""
    with running(tmp_path) as lot:
        lot.gate(PLATE, "entry", T0)
        sid = lot.gate(PLATE, "exit", T0 + 30 * MIN)["session"]
        forged = [
            {"kind": "paylater.notice", "key": PLATE, "ts": T0 + HOUR, "channel": "wechat",
             "movement": "payment", "order": f"{sid}-1", "amount_fen": 600, "status": "success"},
            {"kind": "paylater.answer", "key": PLATE, "ts": T0 + HOUR, "order": "x-1", "movement": "payment",
             "channel": "wechat", "status": "requested", "session": sid, "amount_fen": 99, "payer": "victim"},
            {"kind": "cases.changed", "key": "c1", "ts": T0 + HOUR, "type": "paylater.dispute",
             "action": "refund", "from_state": "received", "to_state": "refunded", "version": 2},
        ]  # fmt: skip
        r = lot.c.post("/api/v1/events", json=forged, headers=lot.h["ingest"])
        assert r.status_code == 422, r.text
        problems = r.json()["errors"]
        assert [(p["line"], p["field"]) for p in problems] == [(1, "kind"), (2, "kind"), (3, "kind")]
        assert "'paylater.notice' is made by the platform itself" in problems[0]["reason"]
        lot.drain()
        assert lot.session(sid)["session"]["status"] == "awaiting" and lot.pending() == {}


def test_reads_sent_again_get_the_same_answer_and_open_no_case(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        lot.gate(PLATE, "entry", T0)
        first = lot.gate(PLATE, "exit", T0 + 2 * HOUR, read_id="x1")
        again = lot.gate(PLATE, "exit", T0 + 2 * HOUR, read_id="x1")  # the lot system retries
        assert again == first and first["decision"] == "open"
        second_camera = lot.gate(PLATE, "exit", T0 + 2 * HOUR + 2_000)  # another read, 2 s later
        assert (second_camera["decision"], second_camera["session"]) == ("open", first["session"])
        lot.gate("赣B54321", "entry", T0)
        owed = lot.gate("赣B54321", "exit", T0 + HOUR)
        assert lot.gate("赣B54321", "exit", T0 + HOUR + 30_000)["decision"] == "pay"  # still unpaid
        lot.notice("赣B54321", f"{owed['session']}-q1", owed["fee_fen"])
        assert lot.gate("赣B54321", "exit", T0 + HOUR + 60_000)["reason"] == "paid"
        held = [a for a in lot.p.store.alerts(lot_alerts()) if a.rule == "paylater.held_read"]
        assert held == []  # none of these needed an operator


def test_an_exit_read_before_its_entry_was_processed_waits_for_the_booth(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        read = {"lot": LOT, "gate": "g", "plate": PLATE, "confidence": 0.98}
        lot.p.pipeline.stop()  # the entry is durable but not processed yet (drain() processes)
        lot.post("/gate", {**read, "id": "in", "direction": "entry", "ts": T0})
        out = lot.post("/gate", {**read, "id": "out", "direction": "exit", "ts": T0 + HOUR})
        assert (out["decision"], out["reason"]) == ("hold", "no_entry")
        lot.drain()
        [alert] = [a for a in lot.p.store.alerts(lot_alerts()) if a.rule == "paylater.held_read"]
        assert alert.data["session"] and alert.status == "open"  # the booth sees the session it found
        assert lot.balances() == {}  # nothing charged while the car waits
        lot.post("/confirm", {"gate_event": f"{LOT}:out", "plate": PLATE}, "operate")
        lot.drain()
        assert lot.session(alert.data["session"])["session"]["status"] == "awaiting"  # unbound: pays


def test_paying_another_way_withdraws_the_charge_not_yet_placed(tmp_path: Path) -> None:
    with running(tmp_path) as lot:
        lot.bind(PLATE)
        lot.gate(PLATE, "entry", T0)
        sid = lot.gate(PLATE, "exit", T0 + HOUR)["session"]
        assert list(lot.pending()) == [f"{sid}-1"]  # the pay-later charge, not placed yet
        lot.notice(PLATE, f"{sid}-etc", 600, channel="etc", txn="etc-9")  # the ETC system was faster
        assert lot.pending() == {} and lot.session(sid)["session"]["settled_channel"] == "etc"


def test_a_read_the_platform_would_not_keep_is_refused_not_answered(tmp_path: Path) -> None:
    """A camera whose clock runs ten minutes fast: its read would be quarantined, not stored, so
    the gate gets a 422 naming the time instead of an answer nothing backs."""
    import time

    with running(tmp_path) as lot:
        ahead = time.time_ns() // 1_000_000 + 10 * MIN
        body = {"id": "fast", "lot": LOT, "gate": "g", "direction": "entry", "plate": PLATE,
                "confidence": 0.99, "ts": ahead}  # fmt: skip
        got = lot.post("/gate", body, status=422)
        assert got["errors"][0]["field"] == "ts" and "ingest.max_future_s" in got["message"]
        assert lot.p.store.find_events(["paylater.gate"]) == []


def test_an_erased_plate_leaves_nothing_in_the_processor_s_committed_state(tmp_path: Path) -> None:
    """A driver's erasure (PIPL art. 47): the plate, its pending order and its open session are
    gone from every committed entry of the processor, and the other plate's are not touched."""
    from citybrain.core.erasure import request_erasure

    with running(tmp_path) as lot:
        lot.bind(PLATE)
        lot.gate(PLATE, "entry", T0)
        lot.gate(PLATE, "exit", T0 + HOUR)  # a pay-later order pending
        lot.gate(PLATE, "entry", T0 + 2 * HOUR)  # and an open session
        lot.gate("赣B54321", "entry", T0 + 2 * HOUR)

        def entries() -> bytes:
            rows = [lot.p.store.load_entries("paylater.sessions", part) for part in range(4)]
            return b"".join(data for row in rows for keyed in row.values() for data in keyed.values())

        assert PLATE.encode() in entries()
        request_erasure(lot.p.store, lot.p.scenes, "paylater", PLATE, "driver's request", "admin", T0)
        [done] = lot.p.pipeline.erase_pending()
        assert done.done_ts is not None
        assert PLATE.encode() not in entries() and "赣B54321".encode() in entries()
        lot.gate("赣B54321", "exit", T0 + 3 * HOUR)
        lot.gate("赣A00004", "entry", T0 + 3 * HOUR)  # in the erased plate's partition
        pending = json.dumps([r["data"] for r in lot.p.store.states("paylater.pending")], ensure_ascii=False)
        assert PLATE not in pending  # its order is gone from the published shards as well

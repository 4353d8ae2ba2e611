"""The store contract. Parametrised by backend so every store runs the same suite."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from citybrain.core.bus import partition_for
from citybrain.core.errors import ConflictError, NotFoundError, StoreError
from citybrain.core.events import stamp
from citybrain.core.outputs import Alert, AlertOp, LateEvent, MetricPoint, Outputs, Quarantined, StateUpdate
from citybrain.core.scenes import discover
from citybrain.core.store.base import AlertQuery, AuditSearch, ReadModel, Store, Token
from citybrain.core.store.duck import DuckStore
from citybrain.core.store.postgres import PostgresStore
from citybrain.core.store.sql import SqlStore
from citybrain.scenes.pulse.events import PulseReport

discover()
TS = 1_763_900_000_000
BACKENDS = ["duckdb", "postgres"]
# The loopback server of this machine kind (trust auth); CITYBRAIN_TEST_PG_DSN points elsewhere.
PG_DSN = os.environ.get("CITYBRAIN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_up() -> None:
    """Start the machine's PostgreSQL when it is down; fail loudly (never skip) when it can't be."""
    import psycopg

    for attempt in range(2):
        try:
            psycopg.connect(PG_DSN, connect_timeout=3).close()
            return
        except psycopg.OperationalError as err:
            if attempt:
                pytest.fail(f"PostgreSQL at {PG_DSN} is down and could not be started: {err}")
        versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
        for v in versions:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "start"], timeout=60, check=False
            )
        subprocess.run(["pg_isready", "-h", "127.0.0.1", "-t", "30"], timeout=40, check=False)


def open_backend(name: str, tmp: Path) -> Store:
    if name == "duckdb":
        return DuckStore(tmp / "t.duckdb")
    assert name == "postgres"
    _postgres_up()
    return PostgresStore(PG_DSN, f"t_{uuid.uuid4().hex[:12]}")  # a fresh schema per test


def close_backend(s: Store) -> None:
    s.close()
    if isinstance(s, PostgresStore):
        import psycopg

        with psycopg.connect(s.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{s.schema}" CASCADE')


def evs(n: int, start: int = 0) -> list[PulseReport]:
    out = [
        PulseReport(key=f"d{i % 3}", ts=TS + i, category="x", id=f"id{i}") for i in range(start, start + n)
    ]
    stamp(out, TS)
    return out


def part(key: str) -> int:
    return partition_for(key, 4)


def test_append_assigns_contiguous_offsets_and_skips_duplicates(store: Store) -> None:
    r1 = store.append_events(evs(10), part)
    assert len(r1.accepted) == 10 and r1.duplicates == 0
    r2 = store.append_events(evs(5, start=8) + evs(1, start=8), part)  # 2 stored before, 1 repeated inside
    assert len(r2.accepted) == 3 and r2.duplicates == 3
    assert store.count_events() == 13
    for p in range(4):
        offs = [o for o, _ in store.read_events(p, 0, 100)]
        assert offs == list(range(1, len(offs) + 1))
    heads = store.heads()
    assert sum(heads.values()) == 13


def test_read_events_round_trips_the_event(store: Store) -> None:
    original = evs(1)[0]
    store.append_events([original], part)
    [(off, back)] = store.read_events(part(original.key), 0, 10)
    assert off == 1 and back == original


def test_commit_upserts_outputs_with_checkpoint_atomically(store: Store) -> None:
    out = Outputs(
        metrics=[
            MetricPoint("m", "k", 0, 1.0),
            MetricPoint("m", "k", 0, 2.0),
            MetricPoint("m", "k", 60_000, 5.0),
        ],
        states=[StateUpdate("s", "k", 1, {"a": 1}), StateUpdate("s", "k", 2, {"a": 2})],
    )
    store.commit("proc", 0, 7, b"state", out)
    assert store.load_checkpoint("proc", 0) == (7, b"state")
    assert store.metric_series("m", "k", 0, 120_000, 60_000, "sum") == [(0, 2.0), (60_000, 5.0)]
    store.commit("proc", 0, 9, b"s2", Outputs(metrics=[MetricPoint("m", "k", 0, 3.0)]))
    assert store.metric_series("m", "k", 0, 120_000, 120_000, "sum") == [(0, 8.0)]
    assert store.states("s") == [{"key": "k", "ts": 2, "data": {"a": 2}}]
    assert store.metric_keys("m") == ["k"]


def _alert(aid: str = "a1") -> Alert:
    return Alert(id=aid, rule="r", scene="s", key="k", dedupe_key="r:k", severity="warning", title="t",
                 message="m", opened_ts=1, last_ts=1)  # fmt: skip


def test_alert_lifecycle(store: Store) -> None:
    changed = store.commit("p", 0, 1, b"", Outputs(alerts=[AlertOp("open", _alert())]))
    assert [a.status for a in changed] == ["open"]
    upd = _alert()
    upd.severity, upd.last_ts, upd.count = "critical", 5, 3
    store.commit("p", 0, 2, b"", Outputs(alerts=[AlertOp("update", upd)]))
    a = store.alert("a1")
    assert (a.severity, a.last_ts, a.count) == ("critical", 5, 3)
    acked = store.transition_alert("a1", "ack", "ops (x)", "on it")
    assert (acked.status, acked.acked_by, acked.ack_note) == ("acknowledged", "ops (x)", "on it")
    with pytest.raises(ConflictError):
        store.transition_alert("a1", "ack", "ops", "")
    done = store.transition_alert("a1", "resolve", "ops", "fixed")
    assert done.status == "resolved" and done.resolve_note == "fixed" and done.resolved_ts is not None
    with pytest.raises(ConflictError):
        store.transition_alert("a1", "resolve", "ops", "")
    with pytest.raises(NotFoundError):
        store.alert("nope")
    assert [x.id for x in store.alerts(AlertQuery(status="resolved"))] == ["a1"]
    assert store.alerts(AlertQuery(status="open")) == []


def test_retention_keeps_unprocessed_events(store: Store) -> None:
    store.append_events(evs(6), part)
    p0 = part("d0")
    in_p0 = [e.id for _, e in store.read_events(p0, 0, 100)]
    store.commit("proc", p0, 1, b"", Outputs())  # processed only the first event of that partition
    for p in range(4):
        if p != p0:
            store.commit("proc", p, 10**6, b"", Outputs())
    deleted = store.apply_retention({"events": TS + 10**6})
    remaining = [e.id for p in range(4) for _, e in store.read_events(p, 0, 100)]
    assert remaining == in_p0[1:]  # only what partition p0 has not processed yet
    assert deleted["events"] == 6 - len(remaining)
    assert store.heads()[p0] == len(in_p0)  # offsets never go backwards after a purge


def test_export_parquet_and_csv(store: Store, tmp_path: Path) -> None:
    store.append_events(evs(20), part)
    assert store.export("events", "parquet", str(tmp_path / "e.parquet"), TS + 5, None) == 15
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 15
    assert store.export("events", "csv", str(tmp_path / "e.csv"), None, TS + 5) == 5
    assert pacsv.read_csv(tmp_path / "e.csv").column("id").to_pylist() == [f"id{i}" for i in range(5)]
    with pytest.raises(NotFoundError):
        store.export("tokens", "csv", str(tmp_path / "t.csv"), None, None)


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    first = DuckStore(tmp_path / "x.duckdb")
    try:
        import subprocess
        import sys

        code = (
            "from citybrain.core.store.duck import DuckStore\n"
            "from citybrain.core.errors import StoreError\n"
            f"try:\n    DuckStore({str(tmp_path / 'x.duckdb')!r})\n"
            "except StoreError as e:\n    print('STORE-ERROR', e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
        assert "STORE-ERROR" in out and "already running" in out
    finally:
        first.close()
    assert issubclass(StoreError, Exception)


def test_find_events_by_kind_key_time_and_text(store: Store) -> None:
    store.append_events(evs(12), part)
    found = store.find_events(["pulse.report"], keys=["d1"], start=TS + 2, end=TS + 10)
    assert [e.id for e in found] == ["id4", "id7"]  # d1 = i % 3 == 1, oldest first
    assert found[0].ingest_ts == TS
    assert [e.id for e in store.find_events(["pulse.report"], contains='"id11"')] == ["id11"]
    assert store.find_events(["pulse.report"], keys=[]) == []
    assert store.find_events(["other.kind"]) == []
    assert len(store.find_events(["pulse.report"], limit=5)) == 5


def test_metric_series_aggregates_and_states_filter(store: Store) -> None:
    points = [MetricPoint("m", "k", t, v) for t, v in ((0, 4.0), (10, 1.0), (20, 7.0), (60_000, 2.0))]
    store.commit("p", 0, 1, b"", Outputs(metrics=[*points, MetricPoint("m", "j", 0, 9.0)]))
    series = {agg: store.metric_series("m", "k", 0, 120_000, 60_000, agg)
              for agg in ("avg", "min", "max", "sum", "count", "last")}  # fmt: skip
    assert series == {
        "avg": [(0, 4.0), (60_000, 2.0)], "min": [(0, 1.0), (60_000, 2.0)], "max": [(0, 7.0), (60_000, 2.0)],
        "sum": [(0, 12.0), (60_000, 2.0)], "count": [(0, 3.0), (60_000, 1.0)],
        "last": [(0, 7.0), (60_000, 2.0)],
    }  # fmt: skip
    assert store.metric_series("m", "k", 10, 20, 60_000, "sum") == [(0, 1.0)]  # [start, end)
    assert store.metric_keys("m") == ["j", "k"] and store.metric_keys("none") == []
    states = [StateUpdate("s", k, 1, {"k": k}) for k in ("b", "a", "c")] + [StateUpdate("t", "a", 1, {})]
    store.commit("p", 0, 2, b"", Outputs(states=states))
    assert [s["key"] for s in store.states("s")] == ["a", "b", "c"]
    assert store.states("s", key="b") == [{"key": "b", "ts": 1, "data": {"k": "b"}}]
    assert [s["key"] for s in store.states("s", limit=2)] == ["a", "b"]


def test_checkpoint_absent_until_committed(store: Store) -> None:
    assert store.load_checkpoint("p", 3) is None
    assert store.count_events() == 0
    store.commit("p", 3, 5, b"\x00\xff", Outputs())
    assert store.load_checkpoint("p", 3) == (5, b"\x00\xff")
    assert store.load_checkpoint("p", 2) is None


def test_keyed_entries_are_written_with_the_checkpoint_and_deleted_by_none(store: Store) -> None:
    assert store.load_entries("p", 0) == {}
    store.commit("p", 0, 1, b"s1", Outputs(), {"plates": {"a": b"\x01", "b": b"\x00\xff"}, "x": {"k": b"1"}})
    store.commit("p", 1, 1, b"s1", Outputs(), {"plates": {"a": b"other partition"}})
    store.commit("p", 0, 2, b"s2", Outputs(), {"plates": {"a": b"\x02", "b": None, "c": b"3"}})
    assert store.load_entries("p", 0) == {"plates": {"a": b"\x02", "c": b"3"}, "x": {"k": b"1"}}
    assert store.load_entries("p", 1) == {"plates": {"a": b"other partition"}}
    assert store.load_checkpoint("p", 0) == (2, b"s2")
    # one transaction: a commit that fails (a duplicate posting) writes none of its entries
    from citybrain.core.ledger import transaction

    twice = transaction("t1", TS, "k", "r", "p", [("a", 1), ("b", -1)])
    store.commit("p", 0, 3, b"s3", Outputs(postings=list(twice)))
    with pytest.raises(StoreError):
        store.commit("p", 0, 4, b"s4", Outputs(postings=list(twice)), {"plates": {"z": b"lost"}})
    assert store.load_entries("p", 0)["plates"] == {"a": b"\x02", "c": b"3"}
    assert store.load_checkpoint("p", 0) == (3, b"s3")


def _late(i: int) -> LateEvent:
    return LateEvent("p", 0, i, f"late{i}", TS + i, TS + 100)


def _quarantined(i: int) -> Quarantined:
    return Quarantined("ingest", "", -1, 0, f"q{i}", "pulse.report", "d0", "s", TS + i, "too old", "{}")


def test_late_and_quarantined_events(store: Store) -> None:
    store.commit("p", 0, 2, b"", Outputs(late=[_late(1), _late(2)], quarantined=[_quarantined(1)]))
    assert store.late_count() == 2
    store.quarantine([_quarantined(2), _quarantined(3)])
    store.quarantine([])
    assert store.quarantine_count() == 3
    listed = store.quarantined(limit=10)
    assert sorted(q["id"] for q in listed) == ["q1", "q2", "q3"]
    assert {k: v for k, v in listed[0].items() if k not in ("id", "ts", "recorded_ts")} == {
        "stage": "ingest", "processor": "", "partition": -1, "poff": 0, "kind": "pulse.report", "key": "d0",
        "source": "s", "reason": "too old", "payload": "{}",
    }  # fmt: skip
    assert len(store.quarantined(limit=2)) == 2


def test_undecodable_log_row_is_skipped_and_quarantined_once(store: Store) -> None:
    assert isinstance(store, SqlStore)
    store.append_events(evs(3), part)
    with store._transaction("corrupting a row") as tx:
        tx.execute("UPDATE events SET payload = ? WHERE id = ?", ['{"kind":"gone.kind"}', "id1"])
    p = part("d1")
    assert "id1" not in [e.id for _, e in store.read_events(p, 0, 100)]
    store.read_events(p, 0, 100)  # read again: quarantined once only
    [q] = store.quarantined()
    assert (q["stage"], q["id"], q["partition"]) == ("read", "id1", p)
    assert [e.id for e in store.find_events(["pulse.report"])] == ["id0", "id2"]  # left out, no error


def test_record_alerts_outside_a_batch(store: Store) -> None:
    changed = store.record_alerts([AlertOp("open", _alert("g1")), AlertOp("open", _alert("g2"))])
    assert sorted(a.id for a in changed) == ["g1", "g2"]
    again = store.record_alerts([AlertOp("open", _alert("g1"))])  # an open alert is not reopened
    assert [a.count for a in again] == [1]
    gone = _alert("g1")
    gone.resolved_ts, gone.last_ts = 9, 9
    [resolved] = store.record_alerts([AlertOp("resolve", gone)])
    assert (resolved.status, resolved.resolved_by, resolved.resolved_ts) == ("resolved", "system", 9)
    assert store.record_alerts([]) == []
    with pytest.raises(NotFoundError):
        store.transition_alert("nope", "ack", "ops", "")


def test_alert_listing_filters(store: Store) -> None:
    a, b = _alert("a"), _alert("b")
    b.severity, b.scene, b.key, b.opened_ts, b.last_ts = "critical", "t", "k2", 5, 50
    store.record_alerts([AlertOp("open", a), AlertOp("open", b)])
    assert [x.id for x in store.alerts(AlertQuery())] == ["b", "a"]  # newest first
    assert [x.id for x in store.alerts(AlertQuery(severity="critical"))] == ["b"]
    assert [x.id for x in store.alerts(AlertQuery(scene="s", key="k"))] == ["a"]
    assert [x.id for x in store.alerts(AlertQuery(since=10))] == ["b"]
    assert [x.id for x in store.alerts(AlertQuery(limit=1))] == ["b"]


def test_concurrent_acks_of_one_alert_one_wins(store: Store) -> None:
    store.record_alerts([AlertOp("open", _alert())])
    outcomes: list[str] = []

    def ack(who: str) -> None:
        try:
            outcomes.append(store.transition_alert("a1", "ack", who, "").acked_by or "")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=ack, args=(f"ops{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[:3] == ["conflict"] * 3 and outcomes.count("conflict") == 3
    assert store.alert("a1").acked_by in outcomes


def test_tokens_and_audit(store: Store) -> None:
    store.add_token("t1", "ops", ["read", "write"], "h1", 10)
    store.add_token("t2", "viewer", [], "h2", 20)
    assert store.token_by_hash("h1") == Token("t1", "ops", ("read", "write"), 10, None)
    assert store.token_by_hash("nope") is None
    store.revoke_token("t1", 30)
    assert store.tokens() == [
        Token("t1", "ops", ("read", "write"), 10, 30),
        Token("t2", "viewer", (), 20, None),
    ]
    with pytest.raises(NotFoundError):
        store.revoke_token("t9", 40)
    with pytest.raises(StoreError):
        store.add_token("t1", "again", [], "h3", 50)  # ids are unique
    assert [t.id for t in store.tokens()] == ["t1", "t2"]
    store.audit(1, "ops", "token.revoke", "t1", {"why": "left"})
    store.audit(2, "ops", "alert.ack", "a1", {})
    assert store.audit_log() == [
        {"ts": 2, "actor": "ops", "action": "alert.ack", "target": "a1", "detail": {}},
        {"ts": 1, "actor": "ops", "action": "token.revoke", "target": "t1", "detail": {"why": "left"}},
    ]
    assert len(store.audit_log(limit=1)) == 1


def test_audit_search_filters_in_the_store(store: Store) -> None:
    records = [
        (10, "赵运营 (u1)", "read", "/api/v1/scenes/nev/vehicles", {"fields": ["plate"], "purpose": "工单"}),
        (20, "Admin (u0)", "user.create", "u1", {}),
        (30, "admin (u0)", "user.password", "u2", {}),
        (40, "web-ops", "token.create", "t_1", {}),
        (50, "web-ops", "users", "100%_off", {}),  # "users" is not under the prefix "user."
    ]
    for record in records:
        store.audit(*record)

    def ts(limit: int = 200, **q: Any) -> list[int]:
        return [r["ts"] for r in store.audit_log(limit, AuditSearch(**q))]

    assert ts() == [50, 40, 30, 20, 10]
    assert ts(actor="ADMIN") == [30, 20]  # a substring, whatever the case
    assert ts(actor="运营") == [10]
    assert ts(action="read") == [10] and ts(action="rea") == []  # exact
    assert ts(action="user.") == [30, 20]  # a prefix ending in "."
    assert ts(target="/nev/") == [10]
    # LIKE's wildcards and the escape character are matched literally
    assert ts(target="%") == [50] and ts(target="_") == [50, 40] and ts(target="\\") == []
    assert ts(target="0%_o") == [50] and ts(actor="%") == [] and ts(action="%.") == []
    assert ts(since=20, until=40) == [30, 20]  # until is exclusive
    assert ts(actor="admin", action="user.", since=25) == [30]
    assert ts(limit=2) == [50, 40]
    # values are bound, never formatted into the SQL
    assert ts(actor="' OR '1'='1") == [] and ts(action="x' OR 1=1 --") == []
    assert store.audit_log(1, AuditSearch(action="read"))[0]["detail"] == {
        "fields": ["plate"],
        "purpose": "工单",
    }


def test_a_store_is_a_read_model(store: Store) -> None:
    assert isinstance(store, ReadModel)

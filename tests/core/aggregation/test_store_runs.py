"""The aggregation tables on both stores: a run's report, refused rows and a pull's watermark are
saved together, read back as they were, replaced by a later save of the same run; each dataset's
current rows typed as declared."""

from __future__ import annotations

import pyarrow as pa
import pytest

from citybrain.core.aggregation.facts import Fact, Reject, RunReport
from citybrain.core.errors import NotFoundError, StoreError
from citybrain.core.store.base import CurrentView, Store


def test_runs_rejects_and_marks(store: Store) -> None:
    run = RunReport(
        id="civil.dibao:abc",
        dataset="civil.dibao",
        origin="file",
        where="a.csv",
        as_of="2026-11-30",
        started_ts=1_780_000_000_000,
    )
    store.save_run(run)
    assert store.run(run.id) == run and store.rejects(run.id) == [] and store.mark("civil.dibao") is None
    bad = [
        Reject(
            run_id=run.id,
            row=n,
            problems=[{"field": "家庭人口", "reason": "is empty"}],
            raw={"户编号": f"H{n}"},
        )
        for n in (7, 3)
    ]
    run.status, run.rows_read, run.rows_bad, run.finished_ts = "done", 10, 2, 1_780_000_001_000
    store.save_run(run, bad, mark='{"value": 5, "key": ["H9"]}')
    assert store.run(run.id) == run and store.run("nope") is None
    assert [r.row for r in store.rejects(run.id)] == [3, 7] and store.rejects(run.id, limit=1)[0].row == 3
    assert store.mark("civil.dibao") == '{"value": 5, "key": ["H9"]}'
    store.save_run(run, [Reject(run_id=run.id, row=3, problems=[], raw={})])  # a row saved again: replaced
    assert store.rejects(run.id)[0].problems == [] and len(store.rejects(run.id)) == 2
    other = RunReport(
        id="medical.bills:pull:1",
        dataset="medical.bills",
        origin="pull",
        where="x",
        as_of="2026-12-01",
        started_ts=1_780_000_002_000,
    )
    store.save_run(other)
    assert [r.id for r in store.runs()] == [other.id, run.id]
    assert [r.id for r in store.runs("civil.dibao")] == [run.id] and len(store.runs(limit=1)) == 1


def fact(key: str, as_of: str, batch: str, **data: object) -> Fact:
    return Fact(key=key, ts=1_780_000_000_000, id=f"{key}:{batch}", dataset="civil.dibao", batch=batch,
                as_of=as_of, row=2, data=dict(data))  # fmt: skip


def test_the_current_rows_of_a_dataset(store: Store) -> None:
    store.declare_dataset("civil.dibao", {"income": "int"})
    october = RunReport(id="civil.dibao:oct", dataset="civil.dibao", origin="file", where="a.csv",
                        as_of="2026-10-31", started_ts=1)  # fmt: skip
    store.save_run(october, current=[fact("H1", "2026-10-31", "civil.dibao:oct", income=500),
                                     fact("H2", "2026-10-31", "civil.dibao:oct", income=600),
                                     fact("H1", "2026-10-31", "civil.dibao:oct", income=510)])  # fmt: skip
    rows = store.current_rows("civil.dibao")
    assert [(r.key, r.data["income"]) for r in rows] == [("H1", 510), ("H2", 600)]  # the later row of a key
    november = RunReport(id="civil.dibao:nov", dataset="civil.dibao", origin="file", where="b.csv",
                         as_of="2026-11-30", started_ts=2)  # fmt: skip
    store.save_run(november, current=[fact("H1", "2026-11-30", "civil.dibao:nov", income=520)])
    store.save_run(october, current=[fact("H1", "2026-10-31", "civil.dibao:oct", income=1)])  # late: older
    assert [r.data["income"] for r in store.current_rows("civil.dibao", ["H1"])] == [520]
    assert store.current_rows("civil.dibao", []) == []
    with pytest.raises(NotFoundError, match=r"other\.set"):
        store.current_rows("other.set")
    store.save_run(november, replaces=True)  # November's roster no longer holds H2
    assert [(r.key, r.as_of, r.batch) for r in store.current_rows("civil.dibao")] == [
        ("H1", "2026-11-30", "civil.dibao:nov")
    ]
    with pytest.raises(ValueError, match="another dataset"):
        store.save_run(november, current=[_bill("B1", "P1", "2026-11-01", "b1")])


def _bill(key: str, person: str | None, as_of: str, batch: str) -> Fact:
    return Fact(key=key, ts=1, id=f"{batch}:{key}", dataset="medical.bills", batch=batch, as_of=as_of, row=2,
                data={"bill": key, "person": person, "amount": 1.0})  # fmt: skip


BILLS = {"bill": "text", "person": "id_number", "amount": "float"}


def test_rows_read_by_a_column_as_they_stand(store: Store) -> None:
    store.declare_dataset("medical.bills", BILLS, indexed=["person"])

    def run(batch: str, as_of: str) -> RunReport:
        return RunReport(id=batch, dataset="medical.bills", origin="push", where="push", as_of=as_of,
                         started_ts=1)  # fmt: skip

    first = [_bill("B1", "P1", "2026-11-01", "b1"), _bill("B2", "P2", "2026-11-01", "b1")]
    store.save_run(run("b1", "2026-11-01"), current=first)
    # B1 moves to P3; a late delivery (an older day) saying B2 is P1's changes nothing; B3 has no one
    second = [_bill("B1", "P3", "2026-11-02", "b2"), _bill("B3", None, "2026-11-02", "b2")]
    store.save_run(run("b2", "2026-11-02"), current=second)
    store.save_run(run("b0", "2026-10-01"), current=[_bill("B2", "P1", "2026-10-01", "b0")])

    def keys(*people: str) -> list[str]:
        t = store.current_table("medical.bills", ["person"], ("person", list(people)))
        return list(t.column("key").to_pylist())

    assert (
        keys("P3") == ["B1"] and keys("P1") == [] and keys("P1", "P2", "P3") == ["B1", "B2"] and keys() == []
    )
    t = store.current_table("medical.bills", ["amount", "person"])
    assert t.schema.types == [pa.string(), pa.string(), pa.float64(), pa.string()]
    assert t.to_pylist() == [
        {"key": "B1", "as_of": "2026-11-02", "amount": 1.0, "person": "P3"},
        {"key": "B2", "as_of": "2026-11-01", "amount": 1.0, "person": "P2"},
        {"key": "B3", "as_of": "2026-11-02", "amount": 1.0, "person": None},
    ]
    # a whole table delivered with B2 alone: B1's and B3's rows are gone
    whole = run("b3", "2026-11-03")
    store.save_run(whole, current=[_bill("B2", "P2", "2026-11-03", "b3")])
    store.save_run(whole, replaces=True)
    assert keys("P2", "P3") == ["B2"]
    with pytest.raises(ValueError, match="no column 'nope'"):
        store.current_table("medical.bills", ["nope"])


def test_a_query_over_current_rows(store: Store) -> None:
    store.declare_dataset("medical.bills", BILLS)
    bills = [_bill("B1", "P1", "2026-11-01", "b1"), _bill("B2", "P1", "2026-11-01", "b1"),
             _bill("B3", "P2", "2026-11-02", "b1")]  # fmt: skip
    store.save_run(RunReport(id="b1", dataset="medical.bills", origin="push", where="push",
                             as_of="2026-11-02", started_ts=1), current=bills)  # fmt: skip
    views = {"mine": CurrentView("medical.bills", ("person", "amount"), ("person", ["P1"])),
             "every": CurrentView("medical.bills", ("person",))}  # fmt: skip
    mine, every = store.current_query(
        views, "SELECT person, sum(amount) AS s FROM mine GROUP BY person", "SELECT count(*) AS n FROM every"
    )
    assert mine.to_pylist() == [{"person": "P1", "s": 2.0}] and every.to_pylist() == [{"n": 3}]


def test_a_declaration_that_changes(store: Store) -> None:
    store.declare_dataset("civil.dibao", {"income": "int"})
    run = RunReport(id="civil.dibao:a", dataset="civil.dibao", origin="file", where="a.csv",
                    as_of="2026-10-31", started_ts=1)  # fmt: skip
    store.save_run(run, current=[fact("H1", "2026-10-31", run.id, income=500)])
    # a column added to the declaration: added to the table, the rows that stand keep theirs
    store.declare_dataset("civil.dibao", {"income": "int", "members": "int", "paid": "bool"})
    assert store.current_rows("civil.dibao")[0].data == {"income": 500, "members": None, "paid": None}
    store.save_run(run, current=[fact("H2", "2026-10-31", run.id, income=1, members=3, paid=True)])
    assert store.current_rows("civil.dibao", ["H2"])[0].data == {"income": 1, "members": 3, "paid": True}
    with pytest.raises(StoreError, match="'income' is stored as bigint but declared text"):
        store.declare_dataset("civil.dibao", {"income": "text"})
    with pytest.raises(ValueError, match="cannot be stored"):
        store.declare_dataset("Bad Name", {"x": "text"})

"""The aggregation tables on both stores: a run's report, refused rows and a pull's watermark are
saved together, read back as they were, replaced by a later save of the same run."""

from __future__ import annotations

from citybrain.core.aggregation.facts import Fact, Reject, RunReport
from citybrain.core.store.base import Store


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
    assert store.current_rows("civil.dibao", []) == [] and store.current_rows("other.set") == []
    store.save_run(november, replaces=True)  # November's roster no longer holds H2
    assert [(r.key, r.as_of, r.batch) for r in store.current_rows("civil.dibao")] == [
        ("H1", "2026-11-30", "civil.dibao:nov")
    ]


def _bill(key: str, person: str | None, as_of: str, batch: str) -> Fact:
    return Fact(key=key, ts=1, id=f"{batch}:{key}", dataset="medical.bills", batch=batch, as_of=as_of, row=2,
                data={"bill": key, "person": person, "amount": 1.0})  # fmt: skip


def test_an_indexed_column_finds_one_subjects_rows_as_they_stand(store: Store) -> None:
    def run(batch: str, as_of: str) -> RunReport:
        return RunReport(id=batch, dataset="medical.bills", origin="push", where="push", as_of=as_of,
                         started_ts=1)  # fmt: skip

    first = [_bill("B1", "P1", "2026-11-01", "b1"), _bill("B2", "P2", "2026-11-01", "b1")]
    store.save_run(run("b1", "2026-11-01"), current=first, refs=["person"])
    # B1 moves to P3; a late delivery (an older day) saying B2 is P1's changes nothing; B3 has no one
    second = [_bill("B1", "P3", "2026-11-02", "b2"), _bill("B3", None, "2026-11-02", "b2")]
    store.save_run(run("b2", "2026-11-02"), current=second, refs=["person"])
    store.save_run(run("b0", "2026-10-01"), current=[_bill("B2", "P1", "2026-10-01", "b0")], refs=["person"])

    def keys(*people: str, indexed: bool) -> list[str]:
        t = store.current_table("medical.bills", {"person": "text"}, ("person", list(people)), indexed)
        return list(t.column("key").to_pylist())

    for people in (["P1"], ["P2"], ["P3"], ["P1", "P2", "P3"], []):
        assert keys(*people, indexed=True) == keys(*people, indexed=False)  # the index agrees with the rows
    assert keys("P3", indexed=True) == ["B1"] and keys("P1", indexed=True) == []
    # a whole table delivered with B2 alone: B1's and B3's rows and references are gone
    whole = run("b3", "2026-11-03")
    store.save_run(whole, current=[_bill("B2", "P2", "2026-11-03", "b3")], refs=["person"])
    store.save_run(whole, replaces=True, refs=["person"])
    assert keys("P2", "P3", indexed=True) == keys("P2", "P3", indexed=False) == ["B2"]
    # a column declared indexed later is indexed from the rows as they stand, once
    assert store.index_refs("medical.bills", "bill") == 1 and store.index_refs("medical.bills", "bill") == 0
    t = store.current_table("medical.bills", {"bill": "text"}, ("bill", ["B2", "B3"]), indexed=True)
    assert t.column("key").to_pylist() == ["B2"]

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

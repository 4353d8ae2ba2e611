"""Features of a whole population built from the datasets' current rows (issue 15 items 1-3), on
both stores: per-capita income, a 12-month medical burden, a count of vehicles, hand-computed;
then the 低保 rules decide the households from them, with the sources named."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
import pytest

from citybrain.core.aggregation.datasets import Column, ColumnType, Dataset
from citybrain.core.aggregation.facts import Fact, RunReport
from citybrain.core.aggregation.runner import declare
from citybrain.core.errors import ConfigError
from citybrain.core.rules.evaluate import explain, screen
from citybrain.core.rules.features import FeatureSpec, SubjectSpec, build
from citybrain.core.rules.rulesets import ClauseSpec, RuleBook, RuleSet, RuleSetSpec
from citybrain.core.store.base import Store


def _ds(name: str, key: str, *cols: tuple[str, ColumnType]) -> Dataset:
    return Dataset(
        name=name,
        title=name,
        owner="x",
        key=[key],
        origin="push",
        columns=[Column(key, required=True), *(Column(n, type=t) for n, t in cols)],
    )


DATASETS = {d.name: d for d in [
    _ds("civil.households", "household", ("village", "area"), ("members", "int")),
    _ds("hrss.wages", "person", ("household", "text"), ("wage", "float")),
    _ds("medical.bills", "bill", ("household", "text"), ("amount", "float"), ("settled", "date")),
    _ds("police.vehicles", "plate", ("household", "text")),
    _ds("civil.authorisations", "paper", ("household", "text"), ("expires", "date")),
]}  # fmt: skip
ROWS: dict[str, list[dict[str, Any]]] = {
    "civil.households": [
        {"household": "H1", "village": "360121100202", "members": 3},
        {"household": "H2", "village": "360121100202", "members": 2},
        {"household": "H3", "village": "360102002001", "members": 0},  # no members: per capita unknown
    ],
    "hrss.wages": [
        {"person": "P1", "household": "H1", "wage": 1200.0},
        {"person": "P2", "household": "H1", "wage": 900.0},
        {"person": "P3", "household": "H2", "wage": 3000.0},
    ],
    "medical.bills": [
        {"bill": "B1", "household": "H1", "amount": 8000.0, "settled": "2026-03-01"},
        {"bill": "B2", "household": "H1", "amount": 500.0, "settled": "2025-06-30"},  # older than 12 months
        {"bill": "B3", "household": "H2", "amount": 100.0, "settled": "2026-11-02"},
    ],
    "police.vehicles": [{"plate": "赣A12345", "household": "H2"}],
    "civil.authorisations": [  # 授权书: H1's in force, H2's expired, H3 has none
        {"paper": "A1", "household": "H1", "expires": "2027-06-30"},
        {"paper": "A2", "household": "H2", "expires": "2026-10-31"},
    ],
}  # fmt: skip
FEATURES = [
    FeatureSpec("members", "civil.households", by="household", agg="latest", value="members"),
    FeatureSpec("income_pc_month", "hrss.wages", by="household", agg="sum", value="wage", per="members"),
    FeatureSpec("medical_12m", "medical.bills", by="household", agg="sum", value="amount",
                where="settled >= '2025-12-01'"),
    FeatureSpec("vehicles", "police.vehicles", by="household", agg="count"),
    FeatureSpec("authorised", "civil.authorisations", by="household", agg="any",
                where="expires >= '2026-12-01'"),
]  # fmt: skip
SUBJECTS = SubjectSpec("civil.households", key="household", area="village")


def load(store: Store) -> None:
    declare(store, DATASETS.values())
    for name, rows in ROWS.items():
        ds = DATASETS[name]
        run = RunReport(
            id=f"{name}:b", dataset=name, origin="push", where="push", as_of="2026-11-30", started_ts=1
        )
        facts = [Fact(key=str(r[ds.key[0]]), ts=1_780_000_000_000, id=f"{name}:{i}", dataset=name,
                      batch=run.id, as_of="2026-11-30", row=i + 2, data=r)
                 for i, r in enumerate(rows)]  # fmt: skip
        store.save_run(run, current=facts)


def test_features_from_current_rows_and_the_decisions_they_make(store: Store) -> None:
    load(store)
    pop = build(store, SUBJECTS, FEATURES, DATASETS)
    got = {r["key"]: r for r in pop.table.to_pylist()}
    assert got["H1"] == {"key": "H1", "area": "360121100202", "members": 3, "income_pc_month": 700.0,
                         "medical_12m": 8000.0, "vehicles": 0, "authorised": True}  # fmt: skip
    assert (got["H2"]["authorised"], got["H3"]["authorised"]) == (False, False)  # expired; none
    assert (
        got["H2"]["income_pc_month"] == 1500.0
        and got["H2"]["vehicles"] == 1
        and got["H2"]["medical_12m"] == 100.0
    )
    assert got["H3"]["income_pc_month"] is None and got["H3"]["medical_12m"] == 0.0  # 0 members: unknown
    assert pop.sources["medical_12m"] == {"dataset": "medical.bills", "as_of": "2026-11-30"}

    spec = RuleSetSpec(
        name="dibao", title="低保", region="3601", valid_from="2026-01-01", version="t",
        features=["income_pc_month", "vehicles"], params={"standard_month": 900},
        clauses=[ClauseSpec("income", "收入", "income_pc_month < standard_month"),
                 ClauseSpec("vehicles", "无车", "vehicles == 0")])  # fmt: skip
    rs = RuleSet.of(spec)
    out = {
        r["key"]: r["outcome"]
        for r in screen(RuleBook([rs]), "dibao", date(2026, 12, 1), pop.table).to_pylist()
    }
    assert out == {"H1": "eligible", "H2": "ineligible", "H3": "needs_review"}
    d = explain(rs, "H1", got["H1"], pop.sources)
    assert d.outcome == "eligible" and d.sources["vehicles"] == {
        "dataset": "police.vehicles",
        "as_of": "2026-11-30",
    }

    # the same rules requiring a 授权书 in force: H2's and H3's data is not compared at all
    gated = RuleSet.of(
        msgspec.structs.replace(spec, requires="authorised", features=[*spec.features, "authorised"])
    )
    decided = screen(RuleBook([gated]), "dibao", date(2026, 12, 1), pop.table).to_pylist()
    outcomes = {r["key"]: (r["outcome"], r["failed"], r["unknown"]) for r in decided}
    assert outcomes == {"H1": ("eligible", [], []), "H2": ("not_authorised", [], []),
                        "H3": ("not_authorised", [], [])}  # fmt: skip
    refused = explain(gated, "H2", got["H2"], pop.sources)
    assert (refused.outcome, refused.clauses) == ("not_authorised", [])


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        (FeatureSpec("x", "no.such", by="household", agg="count"), "dataset 'no.such' is not declared"),
        (FeatureSpec("x", "hrss.wages", by="family", agg="count"), "has no column 'family'"),
        (FeatureSpec("x", "hrss.wages", by="household", agg="sum"), "sum needs the column"),
        (
            FeatureSpec("x", "hrss.wages", by="household", agg="sum", value="wage", where="bonus > 1"),
            "has no column 'bonus'",
        ),
        (FeatureSpec("key", "hrss.wages", by="household", agg="count"), "not key, area"),
        (
            FeatureSpec("x", "hrss.wages", by="household", agg="count", per="nope"),
            "per 'nope' is not a feature",
        ),
    ],
)
def test_features_that_cannot_be_built_are_refused(store: Store, feature: FeatureSpec, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(store, SUBJECTS, [feature], DATASETS)


def test_one_household_again_reads_only_its_rows(store: Store) -> None:
    load(store)
    everyone = {r["key"]: r for r in build(store, SUBJECTS, FEATURES, DATASETS).table.to_pylist()}
    for key in ("H1", "H2", "H3"):
        (one,) = build(store, SUBJECTS, FEATURES, DATASETS, keys=[key]).table.to_pylist()
        assert one == everyone[key]
    assert build(store, SUBJECTS, FEATURES, DATASETS, keys=[]).table.num_rows == 0
    wages = store.current_table("hrss.wages", ["wage"], ("household", ["H1"]))
    assert wages.column("key").to_pylist() == ["P1", "P2"]


def test_missing_values_stay_unknown_and_latest_is_the_newest_row(store: Store) -> None:
    rows = {
        "civil.households": [{"household": "H9", "village": "360121100202", "members": None}],
        "hrss.wages": [{"person": "Q1", "household": "H9", "wage": None}],  # a wage not reported
    }
    declare(store, DATASETS.values())
    for name, items in rows.items():
        run = RunReport(
            id=f"{name}:n", dataset=name, origin="push", where="push", as_of="2026-11-30", started_ts=1
        )
        key = DATASETS[name].key[0]
        facts = [Fact(key=str(r[key]), ts=1, id=f"{name}:{i}", dataset=name, batch=run.id, as_of="2026-11-30",
                      row=2, data=r) for i, r in enumerate(items)]  # fmt: skip
        store.save_run(run, current=facts)
    wage = [
        FeatureSpec("income", "hrss.wages", by="household", agg="sum", value="wage"),
        FeatureSpec("members", "civil.households", by="household", agg="latest", value="members"),
    ]
    (h9,) = build(store, SUBJECTS, wage, DATASETS).table.to_pylist()
    assert h9["income"] is None  # not 0: a household with an unreported wage is not a household with none
    assert h9["members"] is None  # the newest row's value, even missing (not an older one's)


LINKED = {d.name: d for d in [
    DATASETS["civil.households"],
    _ds("civil.members", "id_number", ("household", "text")),
    _ds("medical.claims", "claim", ("id_number", "text"), ("self_pay", "float"), ("settled", "date")),
]}  # fmt: skip
LINKED_ROWS: dict[str, list[dict[str, Any]]] = {
    "civil.households": ROWS["civil.households"],
    "civil.members": [
        {"id_number": "A", "household": "H1"},
        {"id_number": "B", "household": "H1"},
        {"id_number": "C", "household": "H2"},
    ],
    "medical.claims": [  # keyed by the person, as a medical-insurance bureau keeps them
        {"claim": "M1", "id_number": "A", "self_pay": 3000.0, "settled": "2026-11-01"},
        {"claim": "M2", "id_number": "B", "self_pay": 2500.0, "settled": "2026-06-01"},
        {"claim": "M3", "id_number": "B", "self_pay": 900.0, "settled": "2025-01-01"},  # before since
        {"claim": "M4", "id_number": "Z", "self_pay": 7000.0, "settled": "2026-11-01"},  # of no member
        {"claim": "M5", "id_number": "C", "self_pay": 10.0, "settled": "2026-11-20"},
    ],
}
BY_PERSON = [
    FeatureSpec("medical_12m", "medical.claims", by="id_number", via="civil.members", agg="sum",
                value="self_pay", where="settled >= since"),
    FeatureSpec("last_claim", "medical.claims", by="id_number", via="civil.members", agg="latest",
                value="self_pay"),
    FeatureSpec("people", "civil.members", by="household", agg="count"),
]  # fmt: skip


def test_rows_of_people_reach_their_household_through_the_member_register(store: Store) -> None:
    declare(store, LINKED.values())
    for name, rows in LINKED_ROWS.items():
        ds = LINKED[name]
        run = RunReport(id=f"{name}:l", dataset=name, origin="push", where="push", as_of="2026-11-30",
                        started_ts=1)  # fmt: skip
        store.save_run(run, current=[Fact(key=str(r[ds.key[0]]), ts=1, id=f"{name}:{i}", dataset=name,
                                          batch=run.id, as_of="2026-11-30", row=i + 2, data=r)
                                     for i, r in enumerate(rows)])  # fmt: skip
    params = {"since": "2025-12-01"}
    got = {r["key"]: r for r in build(store, SUBJECTS, BY_PERSON, LINKED, params=params).table.to_pylist()}
    assert {k: (r["medical_12m"], r["people"]) for k, r in got.items()} == {
        "H1": (5500.0, 2), "H2": (10.0, 1), "H3": (0, 0)}  # fmt: skip
    assert got["H1"]["last_claim"] == 900.0  # the newest delivery, then the greatest key (M3)
    for key in ("H1", "H2", "H3"):  # one household again reads the same, through the link too
        (one,) = build(store, SUBJECTS, BY_PERSON, LINKED, keys=[key], params=params).table.to_pylist()
        assert one == got[key]
    with pytest.raises(ConfigError, match="has no column 'since'"):
        build(store, SUBJECTS, BY_PERSON, LINKED)  # the screening day not given
    wrong = FeatureSpec("x", "medical.claims", by="id_number", via="medical.claims", agg="count")
    with pytest.raises(ConfigError, match=r"via 'medical\.claims' needs"):
        build(store, SUBJECTS, [wrong], LINKED)


def test_a_feature_may_not_compute_on_an_encrypted_column(store: Store) -> None:
    bills = Dataset(name="medical.notes", title="t", owner="x", key=["bill"], origin="push",
                    columns=[Column("bill", required=True), Column("household"),
                             Column("diagnosis", sensitive=True)])  # fmt: skip
    spec = FeatureSpec("cancer", "medical.notes", by="household", agg="any", where="diagnosis == '肺癌'")
    with pytest.raises(ConfigError, match=r"'diagnosis' of 'medical\.notes' is sensitive"):
        build(store, SUBJECTS, [spec], {**DATASETS, bills.name: bills})


def test_only_text_and_id_numbers_may_be_sensitive() -> None:
    cases = [
        (Column("income", type="float", sensitive=True), "only text and ID numbers"),
        (Column("updated", sensitive=True), "watermark 'updated' is sensitive"),
    ]
    for col, message in cases:
        cols = [Column("k"), Column("updated"), col]
        ds = Dataset(name="a.b", title="t", owner="x", key=["k"], origin="pull", dsn="mysql://u@h/d",
                     table="t", watermark="updated", columns=cols)  # fmt: skip
        if col.name == "updated":
            ds.columns = [Column("k"), col]
        with pytest.raises(ConfigError, match=message):
            ds.check()

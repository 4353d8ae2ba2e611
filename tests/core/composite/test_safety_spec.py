"""The six-dimension 平安指数 of Nanchang (data/composite/safety.toml): the spec loads with the six
dimensions, 2-4 indicators each, a source for every indicator and a consistent AHP matrix; and
``gather`` + ``compute`` score the 9 districts end to end from a real store filled with synthetic
data (datasets imported, cases opened, metrics and alerts committed): scores within 0-100, the
bands of the band table, ranks following the data, an imputed value flagged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from citybrain import data as shipped
from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.cases.engine import CaseEngine
from citybrain.core.cases.workcal import WorkCalendar
from citybrain.core.composite import DataError, IndexSpec, ahp, compute, load_spec
from citybrain.core.composite.engine import band_of
from citybrain.core.composite.model import indicators
from citybrain.core.composite.sources import gather, gather_denominators
from citybrain.core.divisions import nanchang
from citybrain.core.outputs import Alert, AlertOp, MetricPoint, Outputs
from citybrain.core.store.duck import DuckStore
from tests.core.cases.casekit import COMPLAINT, DISPATCHER, Clock, bjt
from tests.core.composite.test_sources import DAY, END, START, import_rows

SIX = ["政治安全", "经济安全", "公共安全", "社会治安", "社会矛盾", "网络安全"]
UNITS = [d.code for d in nanchang().children("3601")]
BADNESS = [3, 0, 5, 8, 1, 6, 2, 7, 4]  # per district: 0 the safest on every indicator, 8 the least safe
MISSING = ("fire_alarms", UNITS[BADNESS.index(4)])  # the middle district's fire statistics did not come


@pytest.fixture(scope="module")
def spec() -> IndexSpec:
    return load_spec(shipped.path("composite/safety.toml"))


def test_the_spec_has_six_dimensions_sources_and_a_consistent_ahp_matrix(spec: IndexSpec) -> None:
    assert [d.name for d in spec.dimensions] == SIX
    assert all(2 <= len(d.indicators) <= 4 for d in spec.dimensions)
    assert all(i.source is not None for _, i in indicators(spec))
    # counts are rates per 10,000 residents; an index and a share are not
    assert {i.id for _, i in indicators(spec) if not i.per} == {"traffic_delay", "mediation_success"}
    assert {i.per for _, i in indicators(spec)} == {"", "residents_10k"}
    [den] = spec.denominators
    assert den.id == "residents_10k" and den.unit == 10_000 and den.source is not None
    assert (den.source.kind, den.source.dataset, den.source.column) == (
        "dataset",
        "stats.population",
        "residents",
    )
    assert ahp(spec.weighting.ahp["index"]).cr < 0.1
    assert [(b.label, b.colour) for b in spec.bands] == [
        ("优秀", "green"), ("良好", "blue"), ("提醒", "orange"), ("预警", "red")]  # fmt: skip
    assert spec.scale == 100 and len(UNITS) == 9


def test_every_indicator_is_documented() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "scenes" / "safety-index.md").read_text(encoding="utf-8")
    spec = load_spec(shipped.path("composite/safety.toml"))
    missing = [i.id for _, i in indicators(spec) if f"`{i.id}`" not in doc]
    assert not missing, f"docs/scenes/safety-index.md does not describe {missing}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckStore]:
    s = DuckStore(tmp_path / "t.duckdb")
    yield s
    s.close()


POPULATION = Dataset(name="stats.population", title="p", owner="nc-stats", key=["district", "month"],
                     origin="push", columns=[Column("district", "area", required=True),
                                             Column("month", "date", required=True),
                                             Column("residents", "int", required=True)])  # fmt: skip


def _residents(store: DuckStore, by_unit: dict[str, int]) -> None:
    """Each unit's residents as of January (standing through November), and a later figure of
    December that a November index must not read."""
    rows: list[dict[str, object]] = [{"district": u, "month": "2026-01-01", "residents": n}
                                     for u, n in by_unit.items()]  # fmt: skip
    rows.append({"district": UNITS[0], "month": "2026-12-01", "residents": 1})
    import_rows(store, rows, POPULATION)


def _fill(store: DuckStore, spec: IndexSpec) -> None:
    columns: dict[str, list[str]] = {}
    for _, ind in indicators(spec):
        if ind.source is not None and ind.source.kind == "dataset":
            columns.setdefault(ind.source.dataset, []).append(ind.source.column)
    for name, cols in columns.items():
        ds = Dataset(name=name, title=name, owner="nc", key=["district", "month"], origin="push",
                     columns=[Column("district", "area", required=True),
                              Column("month", "date", required=True),
                              *(Column(c, "float") for c in cols)])  # fmt: skip
        rows = []
        for unit, k in zip(UNITS, BADNESS, strict=True):
            row: dict[str, object] = {"district": unit, "month": "2026-11-01"}
            for c in cols:
                if (c, unit) != MISSING:
                    row[c] = 95.0 - 3 * k if c == "mediation_success" else 10.0 * (1 + k)
            rows.append(row)
        import_rows(store, rows, ds)
    clock = Clock(START + DAY)
    types = {t: replace(COMPLAINT, name=t) for t in ("civic.hotline", "civic.enterprise")}
    cases = CaseEngine(store, types, WorkCalendar.shipped(), None, clock=clock)
    points, alerts = [], []
    for unit, k in zip(UNITS, BADNESS, strict=True):
        for n in range(k + 1):
            cases.open("civic.hotline", DISPATCHER, f"h{unit}{n}", area=unit, category="投诉")
            cases.open("civic.enterprise", DISPATCHER, f"e{unit}{n}", area=unit)
        cases.open("civic.hotline", DISPATCHER, f"q{unit}", area=unit, category="咨询")  # not a complaint
        key = f"district:{unit}"
        points.append(MetricPoint("traffic.district.index_5m", key, START + DAY, 1.2 + 0.1 * k))
        points.append(MetricPoint("traffic.district.index_5m", key, START + 2 * DAY, 1.4 + 0.1 * k))
        alerts += [Alert(id=f"s{unit}{n}", rule="pulse.surge", scene="pulse", key=unit, dedupe_key=f"s{n}",
                         severity="warning", title="t", message="m", opened_ts=START + n * DAY,
                         last_ts=START + n * DAY) for n in range(k)]  # fmt: skip
    store.commit("sim", 0, 1, b"", Outputs(metrics=points, alerts=[AlertOp("open", a) for a in alerts]))


def test_gather_and_compute_score_the_nine_districts(store: DuckStore, spec: IndexSpec) -> None:
    _fill(store, spec)
    _residents(store, dict.fromkeys(UNITS, 500_000))
    data = gather(spec, store, UNITS, START, END)
    per = gather_denominators(spec, store, UNITS, START, END)
    assert per == {u: {"residents_10k": 50.0} for u in UNITS}  # January's figure; December's not yet
    worst = UNITS[BADNESS.index(8)]
    assert data[worst]["hotline_complaints"] == 9.0 and data[worst]["enterprise_appeals"] == 9.0
    assert data[worst]["surges"] == 8.0 and data[worst]["traffic_delay"] == pytest.approx(2.1)
    assert data[MISSING[1]][MISSING[0]] is None
    result = compute(spec, data, per)
    assert result.units[worst].indicators["hotline_complaints"].value == pytest.approx(9 / 50)
    for unit, k in zip(UNITS, BADNESS, strict=True):
        u = result.units[unit]
        assert 0 <= u.score <= 100 and u.rank == k + 1
        assert u.band == band_of(spec.bands, u.score)
    assert result.units[UNITS[BADNESS.index(0)]].band.label == "优秀"  # type: ignore[union-attr]
    assert result.units[worst].score < 70  # the efficacy floor 60 everywhere but the fixed-goalpost rate
    assert result.units[worst].band.label == "预警"  # type: ignore[union-attr]
    assert result.units[MISSING[1]].indicators[MISSING[0]].imputed
    assert sum(result.dimension_weights.values()) == pytest.approx(1.0)


def test_a_populous_district_is_judged_on_its_rates_not_its_totals(store: DuckStore, spec: IndexSpec) -> None:
    """Residents in proportion to each district's counts: every count-based rate is the same, so
    no district is worse than another on any of them; and a district without a population figure
    cannot be scored (a rate is not made up)."""
    _fill(store, spec)
    _residents(store, {u: 100_000 * (1 + k) for u, k in zip(UNITS, BADNESS, strict=True)})
    data = gather(spec, store, UNITS, START, END)
    result = compute(spec, data, gather_denominators(spec, store, UNITS, START, END))
    rates = {
        ind: {round(result.units[u].indicators[ind].value, 9) for u in UNITS}
        for ind in ("criminal_cases", "hotline_complaints", "enterprise_appeals", "illegal_gatherings")
    }
    assert rates == {"criminal_cases": {1.0}, "hotline_complaints": {0.1}, "enterprise_appeals": {0.1},
                     "illegal_gatherings": {1.0}}  # fmt: skip
    with pytest.raises(DataError, match=f"of {UNITS[0]}: no value > 0 dated before"):  # none before 2026
        gather_denominators(spec, store, UNITS, bjt(2025, 1, 1), bjt(2025, 2, 1))

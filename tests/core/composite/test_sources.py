"""Indicator sources against a real DuckDB store filled through the platform's own write paths:
a metric summed and averaged over a period for a unit's key; alerts counted per district from
their key or data (and alerts with no district refused); cases counted per district and category
through the case engine; imported monthly statistics read through the aggregation core; sources
validated when the spec loads, each problem naming its place; and ``gather`` on a small spec."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from citybrain.core.aggregation.datasets import Column, Dataset
from citybrain.core.aggregation.runner import Aggregator
from citybrain.core.composite import DataError, SpecError, parse_spec
from citybrain.core.composite.model import SOURCE_NEEDS, Source
from citybrain.core.composite.sources import (
    READERS,
    gather,
    read_alerts,
    read_cases,
    read_dataset,
    read_metric,
)
from citybrain.core.events import Event
from citybrain.core.outputs import Alert, AlertOp, MetricPoint, Outputs
from citybrain.core.store.duck import DuckStore
from tests.core.cases.casekit import COMPLAINT, DISPATCHER, Clock, bjt, engine

START, END = bjt(2026, 11, 1), bjt(2026, 12, 1)  # November 2026, Beijing time
DAY = 86_400_000
UNITS = ["360102", "360103", "360104"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckStore]:
    s = DuckStore(tmp_path / "t.duckdb")
    yield s
    s.close()


def _alert(aid: str, rule: str, key: str, opened: int, data: dict[str, Any] | None = None) -> Alert:
    scene = rule.split(".")[0]
    return Alert(id=aid, rule=rule, scene=scene, key=key, dedupe_key=f"{rule}:{key}", severity="warning",
                 title="t", message="m", data=data or {}, opened_ts=opened, last_ts=opened)  # fmt: skip


def test_every_declared_kind_has_a_reader() -> None:
    assert set(READERS) == set(SOURCE_NEEDS)


def test_metric_aggregated_over_the_period_for_the_units_key(store: DuckStore) -> None:
    points = [
        MetricPoint("pulse.reports_per_min", "360102", START, 3.0),
        MetricPoint("pulse.reports_per_min", "360102", START + 10 * DAY, 5.0),
        MetricPoint("pulse.reports_per_min", "360102", END, 100.0),  # December: outside
        MetricPoint("pulse.reports_per_min", "360102", START - 1, 100.0),  # October: outside
        MetricPoint("pulse.reports_per_min", "360103", START + DAY, 2.0),
    ]
    store.commit("pulse", 0, 1, b"", Outputs(metrics=points))
    src = Source(kind="metric", name="pulse.reports_per_min", key="{unit}")
    assert read_metric(store, src, UNITS, START, END) == {"360102": 8.0, "360103": 2.0, "360104": None}
    avg = Source(kind="metric", name="pulse.reports_per_min", key="{unit}", agg="avg")
    assert read_metric(store, avg, UNITS, START, END)["360102"] == 4.0


def test_alerts_counted_by_the_district_of_their_key_or_data(store: DuckStore) -> None:
    alerts = [
        _alert("a1", "pulse.surge", "360102", START + DAY),
        _alert("a2", "pulse.surge", "360102", START + 2 * DAY),
        _alert("a3", "pulse.surge", "360103", START - DAY),  # opened in October: not counted
        _alert("a4", "pulse.other", "360103", START + DAY),  # another rule
        _alert("a5", "civic.camera", "cam-7", START + DAY, {"area": "360104100201001"}),  # a grid code
        _alert("a6", "civic.camera", "cam-8", START + DAY, {"district": "360103"}),
    ]
    store.commit("x", 0, 1, b"", Outputs(alerts=[AlertOp("open", a) for a in alerts]))
    surge = Source(kind="alerts", rule="pulse.surge")
    assert read_alerts(store, surge, UNITS, START, END) == {"360102": 2.0, "360103": 0.0, "360104": 0.0}
    camera = Source(kind="alerts", rule="civic.camera")
    assert read_alerts(store, camera, UNITS, START, END) == {"360102": 0.0, "360103": 1.0, "360104": 1.0}


def test_alerts_without_a_district_are_refused_not_dropped(store: DuckStore) -> None:
    vin = _alert("n1", "nev.vehicle_alarm", "LNBSCU3H5JR123456", START + DAY, {"lon": 115.9, "lat": 28.7})
    store.commit("nev", 0, 1, b"", Outputs(alerts=[AlertOp("open", vin)]))
    with pytest.raises(DataError, match=r"alerts of nev.vehicle_alarm: 1 opened in the period carry no"):
        read_alerts(store, Source(kind="alerts", rule="nev.vehicle_alarm"), UNITS, START, END)


def test_cases_counted_per_district_and_category(store: DuckStore) -> None:
    clock = Clock(START - DAY)
    eng = engine(store, clock)
    eng.open(COMPLAINT.name, DISPATCHER, "c0", area="360102", category="投诉")  # October: not counted
    clock.ms = START + DAY
    opened = [("360102", "投诉"), ("360102100201", "投诉"), ("360102", "咨询"), ("360103", "投诉")]
    for n, (area, category) in enumerate(opened):
        eng.open(COMPLAINT.name, DISPATCHER, f"c{n + 1}", area=area, category=category)
    clock.ms = END
    eng.open(COMPLAINT.name, DISPATCHER, "c9", area="360103", category="投诉")  # December
    every = Source(kind="cases", type=COMPLAINT.name)
    assert read_cases(store, every, UNITS, START, END) == {"360102": 3.0, "360103": 1.0, "360104": 0.0}
    complaints = Source(kind="cases", type=COMPLAINT.name, category="投诉")
    assert read_cases(store, complaints, UNITS, START, END) == {"360102": 2.0, "360103": 1.0, "360104": 0.0}
    other = Source(kind="cases", type="civic.other")
    assert read_cases(store, other, UNITS, START, END) == dict.fromkeys(UNITS, 0.0)


POLICE = Dataset(
    name="police.district_monthly", title="分区县月度警情统计", owner="nc-police",
    key=["district", "month"], origin="push",
    columns=[Column("district", "area", required=True), Column("month", "date", required=True),
             Column("criminal_cases", "int", min=0), Column("mediation_success", "float")],
)  # fmt: skip


def import_rows(store: DuckStore, rows: list[dict[str, Any]], ds: Dataset = POLICE) -> None:
    def publish(events: list[Event]) -> int:
        return len(events)

    agg = Aggregator(store, {ds.name: ds}, publish, clock=lambda: END + DAY)
    report = agg.push(ds.name, b"\n".join(msgspec.json.encode(r) for r in rows), as_of="2026-12-01")
    assert report.status == "done" and report.rows_bad == 0, report


def test_dataset_rows_of_the_period_through_the_aggregation_core(store: DuckStore) -> None:
    import_rows(store, [
        {"district": "360102", "month": "2026-10-01", "criminal_cases": 50, "mediation_success": 80.0},
        {"district": "360102", "month": "2026-11-01", "criminal_cases": 12, "mediation_success": 90.0},
        {"district": "360102", "month": "2026-12-01", "criminal_cases": 7, "mediation_success": 70.0},
        {"district": "360103", "month": "2026-11-01", "criminal_cases": 4},
        {"district": "360111", "month": "2026-11-01", "criminal_cases": 99},  # not a unit asked for
    ])  # fmt: skip
    src = Source(kind="dataset", dataset=POLICE.name, column="criminal_cases")
    assert read_dataset(store, src, UNITS, START, END) == {"360102": 12.0, "360103": 4.0, "360104": None}
    quarter = read_dataset(store, src, UNITS, bjt(2026, 10, 1), bjt(2027, 1, 1))
    assert quarter == {"360102": 69.0, "360103": 4.0, "360104": None}  # sum over three months
    rate = Source(kind="dataset", dataset=POLICE.name, column="mediation_success", agg="avg")
    assert read_dataset(store, rate, UNITS, bjt(2026, 10, 1), END) == {"360102": 85.0, "360103": None,
                                                                       "360104": None}  # fmt: skip


SMALL: dict[str, Any] = {
    "name": "小指数",
    "scale": 100,
    "imputation": "mean",
    "dimensions": [
        {"id": "order", "name": "社会治安", "indicators": [
            {"id": "crime", "name": "刑事案件立案数", "direction": "down",
             "source": {"kind": "dataset", "dataset": POLICE.name, "column": "criminal_cases"}},
            {"id": "reports", "name": "事件上报", "direction": "down",
             "source": {"kind": "metric", "name": "pulse.reports_per_min", "key": "{unit}"}},
            {"id": "given", "name": "无来源指标"},
        ]},
    ],
}  # fmt: skip


def test_gather_reads_every_source_and_leaves_sourceless_indicators_missing(store: DuckStore) -> None:
    import_rows(store, [{"district": u, "month": "2026-11-01", "criminal_cases": n}
                        for u, n in zip(UNITS, (10, 20, 30), strict=True)])  # fmt: skip
    point = MetricPoint("pulse.reports_per_min", "360102", START, 6)
    store.commit("pulse", 0, 1, b"", Outputs(metrics=[point]))
    data = gather(parse_spec(SMALL), store, UNITS, START, END)
    assert data == {
        "360102": {"crime": 10.0, "reports": 6.0, "given": None},
        "360103": {"crime": 20.0, "reports": None, "given": None},
        "360104": {"crime": 30.0, "reports": None, "given": None},
    }
    with pytest.raises(DataError, match="empty"):
        gather(parse_spec(SMALL), store, UNITS, END, START)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "weather"}, "indicator crime: source: kind 'weather' is unknown (known: alerts, cases"),
        ({"kind": "metric", "name": "m"}, "indicator crime: source: kind metric needs 'key'"),
        ({"kind": "metric", "name": "m", "key": "city"}, "key 'city' must contain {unit}"),
        ({"kind": "metric", "name": "m", "key": "{unit}", "agg": "median"}, "agg 'median' must be one of"),
        ({"kind": "cases", "type": "t", "rule": "x.y"}, "'rule' is not read by kind cases"),
        ({"kind": "cases", "type": "t", "area": "3601"}, "area '3601' must contain {unit}"),
        ({"kind": "alerts", "rule": "surge"}, "rule 'surge' must be '<scene>.<rule>'"),
        ({"kind": "dataset", "dataset": "police.x"}, "kind dataset needs 'column'"),
    ],
)
def test_invalid_sources_are_refused_naming_the_place(source: dict[str, Any], message: str) -> None:
    raw = copy.deepcopy(SMALL)
    raw["dimensions"][0]["indicators"][0]["source"] = source
    with pytest.raises(SpecError) as err:
        parse_spec(raw)
    assert "dimension 社会治安, indicator crime: source: " in str(err.value)
    assert message in str(err.value)


def test_an_unknown_source_field_is_refused() -> None:
    raw = copy.deepcopy(SMALL)
    raw["dimensions"][0]["indicators"][0]["source"]["table"] = "x"
    with pytest.raises(SpecError, match="table"):
        parse_spec(raw)

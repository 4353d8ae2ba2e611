"""Erasure of a data subject on request (issue 13 item 7): the store deletes exactly the subject's
rows on both backends, never an event a processor has not passed; the pipeline makes the scene's
processors forget the subject first, so nothing comes back; the API and the CLI ask for it; the
request and its audit records stay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.core.bus.base import partition_for
from citybrain.core.erasure import request_erasure
from citybrain.core.errors import NotFoundError, ValidationError
from citybrain.core.outputs import Alert, AlertOp, MetricPoint, Outputs, Quarantined, StateUpdate
from citybrain.core.platform import Platform
from citybrain.core.processor import AlertBook, restore
from citybrain.core.store.base import AlertQuery, AuditSearch, Store
from citybrain.core.store.duck import DuckStore
from citybrain.scenes.pulse.events import PulseReport
from citybrain.scenes.pulse.processors import METRIC, PulseRates
from tests.core.test_pipeline import MIN, T0, make, reports
from tests.core.test_store import TS, evs, part
from tests.support.api import Api


def _alert(aid: str, key: str) -> Alert:
    return Alert(id=aid, rule="pulse.surge", scene="pulse", key=key, dedupe_key=f"pulse.surge:{key}",
                 severity="warning", title="t", message="m", opened_ts=TS, last_ts=TS)  # fmt: skip


def _outputs(key: str) -> Outputs:
    return Outputs(
        metrics=[MetricPoint(METRIC, key, TS, 3.0), MetricPoint("traffic.speed", key, TS, 9.0)],
        states=[StateUpdate("pulse", key, TS, {"n": 1}), StateUpdate("traffic", key, TS, {"n": 2})],
        alerts=[AlertOp("open", _alert(f"a-{key}", key))],
    )


def test_the_store_erases_only_the_subject_and_only_processed_events(store: Store) -> None:
    store.append_events(evs(9), part)  # keys d0, d1, d2: three events each
    for key in ("d0", "d1"):
        store.commit("pulse.rates", part(key), 0, b"", _outputs(key))
    store.quarantine([Quarantined.of("ingest", PulseReport(key="d0", ts=TS, category="x", id="q0"), "bad")])
    asked = request_erasure(store, {"pulse", "traffic"}, "pulse", "d0", "PIPL request 118", "cli", TS + 5)
    assert store.erasures(pending=True) == [asked]

    # no processor has passed any event yet: every other record goes, the events stay, not done
    first = store.erase_subject(asked, TS + 6)
    assert first.done_ts is None
    assert first.deleted == {"events": 0, "states": 1, "metrics": 1, "alerts": 1, "quarantine": 1}
    assert len(store.find_events(["pulse.report"], keys=["d0"])) == 3

    # once the partition's processor has passed them they go too, and the erasure is done
    store.commit("pulse.rates", part("d0"), 10**6, b"", Outputs())
    done = store.erase_subject(first, TS + 7)
    assert done.done_ts == TS + 7 and done.deleted["events"] == 3
    assert store.find_events(["pulse.report"], keys=["d0"]) == []
    assert store.erasures(pending=True) == [] and store.erasures() == [done]

    # what belongs to another subject, or to the same key in another scene, is untouched
    assert len(store.find_events(["pulse.report"], keys=["d1"])) == 3
    assert [s["key"] for s in store.states("pulse")] == ["d1"]
    assert store.states("traffic", "d0") and store.metric_keys("traffic.speed") == ["d0", "d1"]
    assert store.metric_keys(METRIC) == ["d1"]
    assert [a.key for a in store.alerts(AlertQuery())] == ["d1"]
    # the request and its audit record stay
    audit = store.audit_log(search=AuditSearch(action="subject."))
    assert [(r["action"], r["target"]) for r in audit] == [("subject.erase", "pulse:d0")]


def test_an_erasure_names_what_is_wrong(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'health' is not installed"):
        request_erasure(store, {"pulse"}, "health", "p1", "why", "cli", TS)
    with pytest.raises(ValidationError, match="key"):
        request_erasure(store, {"pulse"}, "pulse", " ", "why", "cli", TS)
    with pytest.raises(ValidationError, match="reason"):
        request_erasure(store, {"pulse"}, "pulse", "d0", "", "cli", TS)
    assert store.erasures() == []


def test_the_pipeline_forgets_the_subject_and_nothing_comes_back(tmp_path: Path) -> None:
    p = make(tmp_path, allowed_lateness_ms=0, surge_per_min=5)
    p.publish(reports([("360102", 0, 8), ("360102", 1, 1), ("360113", 0, 4), ("360113", 1, 1)]))
    p.pipeline.drain()
    assert [a.key for a in p.store.alerts(AlertQuery(status="open"))] == ["360102"]  # 8 > 5
    request_erasure(p.store, p.scenes, "pulse", "360102", "citizen request", "admin (u1)", T0)

    done = p.pipeline.erase_pending()
    assert [e.key for e in done] == ["360102"] and done[0].deleted["events"] == 9
    assert p.store.find_events(["pulse.report"], keys=["360102"]) == []
    assert p.store.states("pulse", "360102") == [] and p.store.alerts(AlertQuery(key="360102")) == []
    assert p.store.metric_keys(METRIC) == ["360113"]
    # the checkpointed processor state no longer holds it: no window, no tally, no alert track
    proc, book = _checkpointed(p, "360102")
    assert "360102" not in proc.state.keys and "360102" not in proc.state.open
    assert not any(dk.endswith(":360102") for dk in book.tracks)
    assert "360113" in _checkpointed(p, "360113")[0].state.keys  # the other district is kept

    # new reports start from nothing: the old tally does not come back
    p.publish([PulseReport(key="360102", ts=T0 + 3 * MIN, category="fire", id="after-1")])
    p.pipeline.drain()
    assert p.store.states("pulse", "360102")[0]["data"]["by_category"] == {"fire": 1}
    actions = [r["action"] for r in p.store.audit_log(search=AuditSearch(action="subject."))]
    assert actions == ["subject.erased", "subject.erase"]
    assert p.pipeline.erase_pending() == []  # done once
    p.stop()


def _checkpointed(p: Platform, key: str) -> tuple[Any, AlertBook]:
    """The pulse processor as checkpointed for the partition of ``key``, and its alert book."""
    partition = partition_for(key, p.bus.partitions)
    saved = p.store.load_checkpoint("pulse.rates", partition)
    assert saved is not None
    proc = PulseRates(partition, p.scenes["pulse"].load_settings({}))
    return proc, restore(proc, saved[1])


def test_an_erasure_waits_for_events_not_processed_yet(tmp_path: Path) -> None:
    p = make(tmp_path, allowed_lateness_ms=0)
    p.publish(reports([("360102", 0, 3)]))
    asked = request_erasure(p.store, p.scenes, "pulse", "360102", "request", "cli", 2**50)
    assert p.pipeline.erase_pending() == []  # its events are not processed: nothing deleted under them
    assert len(p.store.find_events(["pulse.report"], keys=["360102"])) == 3
    p.pipeline.drain()  # its rounds carry out pending erasures once a second, as when running
    [now] = p.store.erasures()
    assert now.id == asked.id and now.done_ts is not None and now.deleted["events"] == 3
    assert p.store.find_events(["pulse.report"], keys=["360102"]) == []
    assert p.store.states("pulse", "360102") == []
    p.stop()


def test_the_api_asks_for_erasures_as_admin_only(api: Api) -> None:
    c, store = api.client, api.platform.store
    body = {"scene": "pulse", "key": "360102", "reason": "citizen request 12345-0042"}
    assert c.post("/api/v1/erasures", json=body, headers=api.h("operate")).status_code == 403
    assert c.get("/api/v1/erasures", headers=api.h("read")).status_code == 403
    r = c.post("/api/v1/erasures", json={**body, "scene": "health"}, headers=api.h("admin"))
    assert r.status_code == 404 and "'health' is not installed" in r.json()["message"]
    blank = c.post("/api/v1/erasures", json={**body, "reason": "  "}, headers=api.h("admin"))
    assert blank.status_code == 422
    r = c.post("/api/v1/erasures", json=body, headers=api.h("admin"))
    assert r.status_code == 202 and r.json()["status"] == "pending"
    api.platform.pipeline.erase_pending()
    listed = c.get("/api/v1/erasures", headers=api.h("admin")).json()
    assert [(e["id"], e["status"]) for e in listed] == [(r.json()["id"], "done")]
    assert c.get("/api/v1/erasures?pending=true", headers=api.h("admin")).json() == []
    audit = store.audit_log(search=AuditSearch(action="subject.erase"))
    assert audit[0]["actor"].startswith("admin") and audit[0]["detail"]["reason"] == body["reason"]


def test_the_cli_asks_for_an_erasure_on_a_stopped_platform(tmp_path: Path) -> None:
    env = {"CITYBRAIN_DATA_DIR": str(tmp_path)}
    vin = "LTEST000000000001"
    r = CliRunner().invoke(app, ["erase", "--scene", "nev", "--key", vin, "--reason", "owner"], env=env)
    assert r.exit_code == 0, r.output
    assert "pending" in r.output
    store = DuckStore(tmp_path / "citybrain.duckdb")
    try:
        [e] = store.erasures(pending=True)
        assert (e.scene, e.key, e.requested_by) == ("nev", vin, "cli")
    finally:
        store.close()
    r = CliRunner().invoke(app, ["erase", "--scene", "nope", "--key", "k", "--reason", "r"], env=env)
    assert isinstance(r.exception, NotFoundError) and "'nope' is not installed" in str(r.exception)

"""The HTTP API through FastAPI's TestClient: ingest answers, queries, alert lifecycle with audit,
the WebSocket live feed, OpenAPI, health and Prometheus metrics, tokens and export."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow.parquet as pq

from citybrain.core.events import encode_ndjson
from citybrain.core.store.base import AlertQuery
from citybrain.scenes.pulse.events import PulseReport
from tests.support.api import Api

MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN


def reports(n: int, key: str = "360102", minute: int = 0, prefix: str = "r") -> bytes:
    return encode_ndjson(
        PulseReport(key=key, ts=T0 + minute * MIN + i, category="hotline", id=f"{prefix}{minute}-{i}")
        for i in range(n)
    )


def test_ingest_reports_per_line_errors_and_ignores_resent_ids(api: Api) -> None:
    body = reports(3) + b'{"kind":"pulse.report","key":"360102","ts":"x","category":"c"}\n'
    r = api.client.post("/api/v1/events", content=body, headers=api.h("ingest"))
    assert r.status_code == 200
    assert r.json()["accepted"] == 3 and r.json()["rejected"] == 1
    assert r.json()["errors"] == [{"line": 4, "field": "ts", "reason": "Expected `int`, got `str`"}]
    again = api.client.post("/api/v1/events", content=reports(3), headers=api.h("ingest"))
    assert again.json() == {
        "accepted": 0,
        "duplicates": 3,
        "rejected": 0,
        "errors": [],
        "errors_truncated": 0,
    }
    assert api.platform.store.count_events() == 3


def test_ingest_json_array_and_gzip(api: Api) -> None:
    items = [json.loads(line) for line in reports(4).splitlines()]
    r = api.client.post("/api/v1/events", json=items, headers=api.h("ingest"))
    assert r.status_code == 200 and r.json()["accepted"] == 4
    gz = gzip.compress(reports(5, minute=1))
    r = api.client.post("/api/v1/events", content=gz, headers={**api.h("ingest"), "Content-Encoding": "gzip"})
    assert r.json()["accepted"] == 5


def test_ingest_error_codes(api: Api) -> None:
    post = api.client.post
    assert post("/api/v1/events", content=reports(1)).status_code == 401
    assert (
        post("/api/v1/events", content=reports(1), headers={"Authorization": "Bearer cb_nope"}).status_code
        == 401
    )
    forbidden = post("/api/v1/events", content=reports(1), headers=api.h("read"))
    assert forbidden.status_code == 403 and "lacks the 'ingest' scope" in forbidden.json()["message"]
    all_bad = post("/api/v1/events", content=b'{"kind":"nope","key":"a","ts":1}\n', headers=api.h("ingest"))
    assert all_bad.status_code == 422 and all_bad.json()["errors"][0]["line"] == 1
    api.platform.settings.ingest.max_body_bytes = 100
    big = post("/api/v1/events", content=reports(10), headers=api.h("ingest"))
    assert big.status_code == 413 and "max_body_bytes" in big.json()["message"]
    api.platform.settings.ingest.max_body_bytes = 1 << 20
    api.platform.settings.ingest.max_events = 5
    many = post("/api/v1/events", content=reports(6), headers=api.h("ingest"))
    assert many.status_code == 413 and "max_events" in many.json()["message"]


def test_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    from citybrain.api.ratelimit import RateLimiter

    api.client.app.state.ratelimit = RateLimiter(rate=5, burst=5)  # type: ignore[attr-defined]
    first = api.client.post("/api/v1/events", content=reports(5), headers=api.h("ingest"))
    assert first.status_code == 200
    second = api.client.post("/api/v1/events", content=reports(5, minute=2), headers=api.h("ingest"))
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert "rate limit" in second.json()["message"]
    assert api.platform.counters.throttled == 5


def test_backpressure_answers_429(api: Api) -> None:
    api.platform.pipeline.stop()  # processing halted: lag grows
    api.platform.bus.max_lag = 5  # type: ignore[attr-defined]
    assert api.client.post("/api/v1/events", content=reports(8), headers=api.h("ingest")).status_code == 200
    r = api.client.post("/api/v1/events", content=reports(3, minute=1), headers=api.h("ingest"))
    assert r.status_code == 429 and "lags" in r.json()["message"]


def test_queries_states_metrics_and_downsampling(api: Api) -> None:
    api.client.post("/api/v1/events", content=reports(7) + reports(2, minute=1), headers=api.h("ingest"))
    api.platform.pipeline.drain()
    h = api.h("read")
    states = api.client.get("/api/v1/entities/pulse", headers=h).json()
    assert [s["key"] for s in states] == ["360102"]
    assert api.client.get("/api/v1/entities/pulse/360102", headers=h).json()["data"]["by_category"] == {
        "hotline": 9
    }
    assert api.client.get("/api/v1/entities/pulse/999", headers=h).status_code == 404
    assert api.client.get("/api/v1/entities/nope", headers=h).status_code == 404
    m = api.client.get(
        "/api/v1/metrics/pulse.reports_per_min",
        params={"key": "360102", "start": T0, "end": T0 + 2 * MIN, "agg": "sum", "bucket_ms": MIN},
        headers=h,
    ).json()
    assert m["points"] == [[T0, 7.0], [T0 + MIN, 2.0]]
    coarse = api.client.get(
        "/api/v1/metrics/pulse.reports_per_min",
        params={"key": "360102", "start": T0, "end": T0 + 2 * MIN, "agg": "sum", "max_points": 1},
        headers=h,
    ).json()
    assert coarse["bucket_ms"] >= 2 * MIN and sum(v for _, v in coarse["points"]) == 9.0
    assert api.client.get("/api/v1/metrics/pulse.reports_per_min/keys", headers=h).json() == ["360102"]
    bad = api.client.get("/api/v1/metrics/x", params={"key": "k", "start": 5, "end": 1}, headers=h)
    assert bad.status_code == 422
    scenes = api.client.get("/api/v1/scenes", headers=h).json()
    assert any(s["name"] == "pulse" and s["panel"]["widgets"] for s in scenes)
    assert api.client.get("/api/v1/scenes/pulse/summary", headers=h).json()["current_minute_total"] >= 0


def _make_alert(api: Api) -> str:
    api.platform.settings.scenes["pulse"] = {"surge_per_min": 5}
    for task in api.platform.pipeline._tasks:
        if task.spec.name == "pulse.rates":
            task.proc.config.surge_per_min = 5
    body = reports(20, key="360113") + reports(1, key="360113", minute=5)
    api.client.post("/api/v1/events", content=body, headers=api.h("ingest"))
    api.platform.pipeline.drain()
    [alert] = api.platform.store.alerts(AlertQuery(scene="pulse"))
    return alert.id


def test_alert_acknowledge_resolve_and_audit(api: Api) -> None:
    aid = _make_alert(api)
    a = api.client.get(f"/api/v1/alerts/{aid}", headers=api.h("read")).json()
    assert a["status"] == "open" and a["severity"] == "critical" and a["key"] == "360113"
    listed = api.client.get(
        "/api/v1/alerts", params={"status": "open", "scene": "pulse"}, headers=api.h("read")
    )
    assert [x["id"] for x in listed.json()] == [aid]
    assert (
        api.client.post(f"/api/v1/alerts/{aid}/ack", json={"note": "x"}, headers=api.h("read")).status_code
        == 403
    )
    acked = api.client.post(
        f"/api/v1/alerts/{aid}/ack", json={"note": "看到了"}, headers=api.h("operate")
    ).json()
    assert (
        acked["status"] == "acknowledged"
        and acked["ack_note"] == "看到了"
        and acked["acked_by"].startswith("operate")
    )
    assert api.client.post(f"/api/v1/alerts/{aid}/ack", json={}, headers=api.h("operate")).status_code == 409
    done = api.client.post(
        f"/api/v1/alerts/{aid}/resolve", json={"note": "ok"}, headers=api.h("operate")
    ).json()
    assert done["status"] == "resolved"
    assert (
        api.client.post("/api/v1/alerts/nope/resolve", json={}, headers=api.h("operate")).status_code == 404
    )
    log = api.client.get("/api/v1/audit", headers=api.h("admin")).json()
    assert [(e["action"], e["target"]) for e in log][:2] == [("alert.resolve", aid), ("alert.ack", aid)]
    assert api.client.get("/api/v1/audit", headers=api.h("operate")).status_code == 403


def test_live_feed_pushes_states_and_alerts_to_subscribers(api: Api) -> None:
    with api.client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"op": "auth", "token": api.tokens["read"]})
        assert ws.receive_json()["op"] == "ready"
        ws.send_json({"op": "subscribe", "topics": ["state.pulse", "alert.*"]})
        assert ws.receive_json() == {"op": "subscribed", "topics": ["alert.*", "state.pulse"]}
        _make_alert(api)
        topics: set[str] = set()
        while not {"state.pulse", "alert.pulse"} <= topics:
            msg = ws.receive_json()
            topics.add(msg["topic"])
            if msg["topic"] == "alert.pulse":
                assert msg["data"]["rule"] == "pulse.surge"
        assert "metric.pulse.reports_per_min" not in topics


def test_live_feed_refuses_bad_tokens(api: Api) -> None:
    with api.client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"op": "auth", "token": "cb_wrong"})
        assert ws.receive_json()["error"] == "auth"


def test_health_readiness_metrics_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    api.client.post("/api/v1/events", content=reports(3), headers=api.h("ingest"))
    text = api.client.get("/metrics", headers=api.h("read")).text
    assert 'citybrain_ingest_events_total{result="accepted"} 3.0' in text
    for name in (
        "citybrain_bus_lag_events",
        "citybrain_bus_queue_depth_events",
        "citybrain_late_events_total",
        "citybrain_ingest_events_per_second",
    ):
        assert name in text
    spec = api.client.get("/openapi.json").json()
    assert "/api/v1/events" in spec["paths"] and "/api/v1/scenes/pulse/summary" in spec["paths"]
    assert api.client.get("/docs").status_code == 200


def test_tokens_are_managed_by_admins_and_revocation_takes_effect(api: Api) -> None:
    made = api.client.post(
        "/api/v1/tokens", json={"name": "bureau", "scopes": ["read"]}, headers=api.h("admin")
    ).json()
    assert made["token"].startswith("cb_")
    h = {"Authorization": f"Bearer {made['token']}"}
    assert api.client.get("/api/v1/scenes", headers=h).status_code == 200
    listed = api.client.get("/api/v1/tokens", headers=api.h("admin")).json()
    assert all("token" not in t and "hash" not in t for t in listed)
    api.client.delete(f"/api/v1/tokens/{made['id']}", headers=api.h("admin"))
    assert api.client.get("/api/v1/scenes", headers=h).status_code == 401
    bad = api.client.post("/api/v1/tokens", json={"name": "x", "scopes": ["god"]}, headers=api.h("admin"))
    assert bad.status_code == 422


def test_export_endpoint(api: Api) -> None:
    api.client.post("/api/v1/events", content=reports(4), headers=api.h("ingest"))
    r = api.client.get("/api/v1/export/events", params={"format": "parquet"}, headers=api.h("read"))
    assert r.status_code == 200 and pq.read_table(io.BytesIO(r.content)).num_rows == 4
    csv_ = api.client.get("/api/v1/export/events", params={"format": "csv"}, headers=api.h("read"))
    assert csv_.text.count("\n") == 5
    assert api.client.get("/api/v1/export/audit", headers=api.h("read")).status_code == 403


def test_report_assembles_scene_sections(api: Api) -> None:
    api.client.post("/api/v1/events", content=reports(6) + reports(4, minute=1), headers=api.h("ingest"))
    api.platform.pipeline.drain()
    r = api.client.get(
        "/api/v1/report", params={"start": T0, "end": T0 + 10 * MIN}, headers=api.h("read")
    ).json()
    pulse = r["sections"]["pulse"]
    assert pulse["figures"]["reports"] == 10
    row = next(x for x in pulse["rows"] if x["district"] == "360102")
    assert row["reports"] == 10 and row["peak_per_min"] == 6
    bad = api.client.get("/api/v1/report", params={"start": 10, "end": 5}, headers=api.h("read"))
    assert bad.status_code == 422

"""Open311 GeoReport v2 over the case engine, as a civic-reporting client sees it: services listed
and defined (JSON and XML), a request filed form-encoded that becomes a case, the case moved through
the engine (dispatch, sign, reply, callback) and its status, notes and deadline followed through
Open311; a retried POST answered once; the spec's error list for a bad service_code, a missing
location, a wrong api_key; and a form parser that never answers a server error."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.api.app import create_app
from citybrain.api.routes_open311 import FormError, Submission, parse_form
from citybrain.core.cases.engine import Actor
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.core.tokens import create_token
from citybrain.scenes import civic
from citybrain.scenes.civic.settings import CivicSettings
from citybrain.testing import server_ports_env

V2 = "/open311/v2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class City:
    client: TestClient
    platform: Platform
    keys: dict[str, str]  # token name -> secret

    def post(self, data: dict[str, Any] | list[tuple[str, str]], fmt: str = "json", **headers: str) -> Any:
        return self.client.post(f"{V2}/requests.{fmt}", content=urlencode(data), headers={**FORM, **headers})

    def get(self, path: str, key: str = "read", **params: Any) -> Any:
        return self.client.get(f"{V2}{path}", params={"api_key": self.keys[key], **params})


@pytest.fixture
def city(tmp_path: Path) -> Iterator[City]:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env()})
    app = create_app(s, platform=Platform(s, scenes={**discover(), "civic": civic.scene}))
    with TestClient(app) as client:
        store = app.state.platform.store
        keys = {name: create_token(store, name, [name])[1] for name in ("ingest", "read", "operate", "admin")}
        yield City(client, app.state.platform, keys)


REPORT = {
    "service_code": "hotline-complaint", "lat": "28.6829", "long": "115.8582",
    "address_string": "南昌市东湖区八一大道 1 号", "description": "楼道积水三天无人处理\n请尽快疏通",
    "first_name": "三", "last_name": "张", "phone": "13800001234", "email": "zhang@example.cn",
    "media_url": "https://example.cn/p/1.jpg", "attribute[area]": "360102001001001",
    "attribute[reply_wanted]": "yes",
}  # fmt: skip


def test_services_list_the_public_kinds_in_json_and_xml(city: City) -> None:
    r = city.client.get(f"{V2}/services.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    services = {s["service_code"]: s for s in r.json()}
    hotline = {c for c in services if c.startswith("hotline-")}
    assert hotline == {f"hotline-{k}" for k in ("inquiry", "help", "complaint", "report", "suggestion")}
    grid = [s for s in services.values() if s["service_code"].startswith("grid-")]
    assert len(grid) == len(CivicSettings().grid_limits)  # one per 小类 with a limit in the settings
    complaint = services["hotline-complaint"]
    assert complaint["service_name"] == "投诉 / Complaint" and complaint["group"].startswith("12345 诉求")
    assert complaint["type"] == "realtime" and complaint["metadata"] is True
    assert "15 工作日内办结" in complaint["description"]
    assert services["grid-missing-manhole-cover"]["service_name"].startswith("井盖缺失")
    assert all(c.isascii() and " " not in c and "/" not in c for c in services)  # URL-safe codes

    x = city.client.get(f"{V2}/services.xml")
    assert x.headers["content-type"] == "text/xml; charset=utf-8" and x.content.startswith(b"<?xml")
    root = ET.fromstring(x.content)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    first = root.find("service")
    assert first is not None and first.findtext("metadata") == "true" and first.findtext("type") == "realtime"


def test_a_service_definition_lists_its_attributes(city: City) -> None:
    d = city.client.get(f"{V2}/services/hotline-complaint.json").json()
    attrs = {a["code"]: a for a in d["attributes"]}
    assert d["service_code"] == "hotline-complaint" and set(attrs) == {"area", "subject", "reply_wanted"}
    assert attrs["reply_wanted"]["datatype"] == "singlevaluelist"
    assert [v["key"] for v in attrs["reply_wanted"]["values"]] == ["yes", "no"]
    x = ET.fromstring(city.client.get(f"{V2}/services/hotline-complaint.xml").content)
    assert x.tag == "service_definition" and x.findtext("service_code") == "hotline-complaint"
    keys = [v.findtext("key") for v in x.findall("attributes/attribute/values/value")]
    assert keys == ["yes", "no"]
    missing = city.client.get(f"{V2}/services/pothole.xml")
    assert missing.status_code == 404
    err = ET.fromstring(missing.content).find("error")
    assert (
        err is not None and err.findtext("code") == "404" and "pothole" in (err.findtext("description") or "")
    )


def test_a_request_becomes_a_case_and_its_status_follows_the_engine(city: City) -> None:
    r = city.post({**REPORT, "api_key": city.keys["ingest"]})
    assert r.status_code == 200, r.text
    [made] = r.json()
    sid = made["service_request_id"]
    assert made["account_id"] is None and "15 工作日内办结" in made["service_notice"]

    # the case, as the platform's own API shows it: fields, category, area, the Open311 actor
    case = city.client.get(f"/api/v1/cases/{sid}", headers={"Authorization": f"Bearer {city.keys['admin']}"})
    c = case.json()
    assert c["type"] == "civic.hotline" and c["category"] == "投诉" and c["area"] == "360102001001001"
    assert c["fields"]["name"] == "张三" and c["fields"]["phone"] == "13800001234"
    assert c["fields"]["photos"] == ["https://example.cn/p/1.jpg"] and c["title"] == "楼道积水三天无人处理"
    assert c["timeline"][0]["actor"] == "open311:ingest"
    listed = city.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {city.keys['read']}"})
    assert [x["id"] for x in listed.json()] == [sid]

    def seen() -> dict[str, Any]:
        [one] = city.get(f"/requests/{sid}.json").json()
        return dict(one)

    first = seen()
    assert first["status"] == "open" and first["status_notes"] == "已受理 / registered"
    assert first["agency_responsible"] == "市12345政务服务便民热线中心"  # the hotline centre receives it
    assert first["lat"] == 28.6829 and first["long"] == 115.8582 and first["media_url"].endswith("1.jpg")
    assert first["address"] == REPORT["address_string"] and first["service_code"] == "hotline-complaint"
    assert datetime.fromisoformat(first["requested_datetime"]).utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert first["expected_datetime"] > first["requested_datetime"]
    flat = str(first)
    assert "13800001234" not in flat and "张三" not in flat and "zhang@" not in flat  # never private fields

    engine = city.platform.cases
    disp = Actor("disp", ("dispatcher",), "nc-12345")
    handler = Actor("li", ("handler",), "nc-housing")
    caller = Actor("wang", ("callback_agent",), "nc-12345")
    v = engine.store.case(sid).version
    v = engine.act(sid, "dispatch", disp, "t-dispatch", v, fields={"department": "nc-housing"}).case.version
    after = seen()
    assert (
        after["agency_responsible"] == "市住房和城乡建设局" and after["status_notes"] == "已派单 / dispatched"
    )
    v = engine.act(sid, "sign", handler, "t-sign", v).case.version
    v = engine.act(sid, "reply", handler, "t-reply", v, fields={"reply": "已疏通排水管"}).case.version
    assert seen()["status_notes"] == "已答复 / replied：已疏通排水管" and seen()["status"] == "open"
    engine.act(sid, "callback", caller, "t-callback", v, fields={"satisfaction": 5})
    done = seen()
    assert done["status"] == "closed" and done["status_notes"].startswith("已办结 / closed")
    assert done["updated_datetime"] >= first["updated_datetime"]

    x = ET.fromstring(city.get(f"/requests/{sid}.xml").content)
    assert x.tag == "service_requests" and x.findtext("request/status") == "closed"
    assert x.findtext("request/service_request_id") == sid

    closed = city.get("/requests.json", status="closed").json()
    assert [x["service_request_id"] for x in closed] == [sid]
    assert city.get("/requests.json", status="open").json() == []
    assert city.get("/requests.json", service_code="grid-dirty-road").json() == []
    assert len(city.get("/requests.json", service_request_id=f"{sid},nope").json()) == 1
    bearer = city.client.get(f"{V2}/requests.json", headers={"Authorization": f"Bearer {city.keys['read']}"})
    assert [x["service_request_id"] for x in bearer.json()] == [sid]


def test_a_retried_post_gives_the_same_request(city: City) -> None:
    body = {**REPORT, "api_key": city.keys["operate"]}
    ids = {city.post(body).json()[0]["service_request_id"] for _ in range(3)}
    assert len(ids) == 1
    other = city.post({**body, "description": "另一件事"}).json()[0]["service_request_id"]
    assert other not in ids
    neighbour = city.post({**body, "phone": "13900009999"}).json()[0]["service_request_id"]
    assert neighbour not in ids  # the same words at the same spot from another citizen: another request
    keyed = {city.post({**body, "description": f"d{i}"}, **{"Idempotency-Key": "k-1"}).json()[0]
             ["service_request_id"] for i in range(2)}  # fmt: skip
    fms = {city.post({**body, "attribute[fixmystreet_id]": "1001", "description": f"e{i}"}).json()[0]
           ["service_request_id"] for i in range(2)}  # fmt: skip
    assert len(keyed) == 1 and len(fms) == 1 and keyed != fms
    found = city.get("/requests.json").json()
    assert len(found) == 5
    xml = city.post(body, fmt="xml")
    assert ET.fromstring(xml.content).findtext("request/service_request_id") in ids


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"service_code": "pothole"}, 404, "service_code 'pothole' not found"),
        ({"lat": "", "long": "", "address_string": ""}, 400, "a location is required"),
        ({"lat": "91"}, 400, "within ±90"),
        ({"api_key": "cb_wrong"}, 403, "unknown token"),
        ({"attribute[area]": "36x"}, 400, "attribute[area]"),
        ({"attribute[reply_wanted]": "maybe"}, 400, "not one of"),
        ({"media_url": "javascript:alert(1)"}, 400, "http(s) URL"),
        ({"description": "a\x00b"}, 400, "control characters"),
    ],
)
def test_errors_are_the_spec_s_list(city: City, change: dict[str, str], status: int, says: str) -> None:
    r = city.post({**REPORT, "api_key": city.keys["ingest"], **change})
    assert r.status_code == status, r.text
    errors = r.json()
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in errors)
    assert any(says in e["description"] for e in errors), errors


def test_who_may_file_and_read(city: City) -> None:
    assert city.post({**REPORT, "api_key": city.keys["read"]}).status_code == 403  # read may not file
    no_key = city.post(REPORT, fmt="xml")
    assert no_key.status_code == 403 and ET.fromstring(no_key.content).findtext("error/code") == "403"
    assert city.client.get(f"{V2}/requests.json").status_code == 403
    assert city.get("/requests.json", key="ingest").status_code == 403  # ingest may file, not read
    assert city.get("/requests/nope.json").status_code == 404
    assert city.get("/requests.json", start_date="2026-01-01", end_date="2026-06-01").status_code == 400
    assert city.get("/requests.json", status="pending").status_code == 400
    twice = city.client.get(f"{V2}/requests.json?status=open&status=closed&api_key={city.keys['read']}")
    assert twice.status_code == 400 and "more than once" in twice.json()[0]["description"]  # api/queries.py
    assert city.client.get(f"{V2}/services.yaml").status_code == 400
    json_body = city.client.post(f"{V2}/requests.json", json={"service_code": "x"})
    assert json_body.status_code == 400 and "x-www-form-urlencoded" in json_body.json()[0]["description"]


_text = st.text(st.characters(codec="utf-8"), max_size=30)
_NAMES = ["api_key", "service_code", "lat", "long", "address_string", "description", "media_url",
          "attribute[area]", "attribute[x][]", "email", "jurisdiction_id"]  # fmt: skip
_names = st.sampled_from(_NAMES) | _text


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.lists(st.tuples(_names, _text), max_size=12).map(lambda p: urlencode(p).encode())
)
def test_the_form_parser_refuses_cleanly(body: bytes) -> None:
    try:
        Submission.of(parse_form(body))
    except FormError as err:
        assert err.problems


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(_names, _text | st.sampled_from(["hotline-help", "28.1", "nan", "inf", "1e999"])),
             max_size=10),
    st.binary(max_size=60),
    st.sampled_from(["json", "xml"]),
)  # fmt: skip
def test_no_post_ever_answers_a_server_error(
    city: City, pairs: list[tuple[str, str]], junk: bytes, fmt: str
) -> None:
    keyed = [("api_key", city.keys["ingest"]), *pairs]
    for body in (urlencode(keyed).encode(), urlencode(keyed).encode() + b"&" + junk):
        r = city.client.post(f"{V2}/requests.{fmt}", content=body, headers=FORM)
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert (
                r.json()[0]["code"]
                if fmt == "json"
                else int(ET.fromstring(r.content).findtext("error/code") or 0)
            ) == r.status_code

"""Cases through the API as the people who work them (issue 14): a 12345 appeal opened by a hotline
agent, dispatched, accepted only by the handling department, answered, called back and closed;
inboxes per role and department; personal fields hidden from read-only roles; a stale version
answered 409 and a retried command answered once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.api.auth import CSRF_HEADER
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.core.tokens import create_token
from citybrain.scenes import civic
from citybrain.testing import server_ports_env
from tests.identity.test_sign_in import PASSWORD

PEOPLE = {  # username: (role, department)
    "agent": ("hotline_agent", "nc-12345"),
    "disp": ("dispatcher", "nc-12345"),
    "housing": ("handler", "nc-housing"),
    "water": ("handler", "nc-water"),
    "caller": ("callback_agent", "nc-12345"),
    "kan": ("viewer", "nc-data"),
}


class Person:
    """One signed-in person: their own client (cookie) and CSRF token on the shared app."""

    def __init__(self, app: Any, username: str) -> None:
        self.client = TestClient(app)
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf"]

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> Any:
        r = self.client.post(path, json=body, headers={CSRF_HEADER: self.csrf})
        assert r.status_code == status, r.text
        return r.json()

    def act(self, case: dict[str, Any], action: str, status: int = 200, **fields: Any) -> Any:
        body = {"version": case["version"], "command_id": f"{action}-{case['version']}", "fields": fields}
        return self.post(f"/api/v1/cases/{case['id']}/actions/{action}", body, status)


@pytest.fixture
def people(tmp_path: Path) -> Iterator[dict[str, Person]]:
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env()})
    app = create_app(settings, platform=Platform(settings, scenes={**discover(), "civic": civic.scene}))
    with TestClient(app) as admin_client:
        admin = {"Authorization": f"Bearer {create_token(app.state.platform.store, 'admin', ['admin'])[1]}"}
        for username, (role, dept) in PEOPLE.items():
            body = {"username": username, "name": username, "department": dept, "roles": [role],
                    "password": PASSWORD, "areas": ["3601"]}  # fmt: skip
            assert admin_client.post("/api/v1/users", json=body, headers=admin).status_code == 200
        yield {u: Person(app, u) for u in PEOPLE}


CALLER = {"description": "楼道积水三天", "name": "张三", "phone": "13800001234"}
APPEAL = {
    "type": "civic.hotline", "command_id": "call-0001", "category": "投诉", "area": "360102001001001",
    "title": "小区楼道积水", "fields": CALLER,
}  # fmt: skip


def test_an_appeal_from_call_to_callback(people: dict[str, Person]) -> None:
    agent, disp, housing, water, caller = (people[u] for u in ("agent", "disp", "housing", "water", "caller"))
    case = agent.post("/api/v1/cases", APPEAL, 201)
    assert case["state"] == "registered" and case["status"] == "open" and case["due_ts"] > case["opened_ts"]
    assert agent.post("/api/v1/cases", APPEAL, 201)["replayed"] is True  # the same call, retried

    case = disp.act(case, "dispatch", department="nc-housing")
    assert case["state"] == "dispatched" and case["step_due_ts"] is not None
    assert [c["id"] for c in housing.get("/api/v1/cases", inbox="true")] == [case["id"]]
    assert water.get("/api/v1/cases", inbox="true") == []  # another department's case
    refused = water.act(case, "sign", 403)
    assert "nc-housing" in refused["message"]
    case = housing.act(case, "sign")
    stale = {"version": 2, "command_id": "late-sign", "fields": {}}
    conflict = housing.post(f"/api/v1/cases/{case['id']}/actions/sign", stale, 409)
    assert "version 3, not 2" in conflict["message"]
    again = housing.post(
        f"/api/v1/cases/{case['id']}/actions/sign", {**stale, "command_id": "sign-2", "version": 2}
    )
    assert again["replayed"] is True and again["version"] == 3  # the first sign, answered again

    case = housing.act(case, "reply", reply="已疏通排水管")
    bad = caller.act(case, "callback", 422, satisfaction=9)
    assert "not one of [1, 2, 3, 4, 5]" in bad["message"]
    case = caller.act(case, "callback", satisfaction=5)
    assert case["state"] == "closed" and case["status"] == "closed" and case["on_time"] is True

    seen = disp.get(f"/api/v1/cases/{case['id']}")
    assert [e["action"] for e in seen["timeline"]] == ["open", "dispatch", "sign", "reply", "callback"]
    assert seen["timeline"][-1]["fields"] == {"satisfaction": 5} and [a["name"] for a in seen["actions"]] == [
        "rework"
    ]


def test_read_only_roles_see_public_fields_only_and_cannot_act(people: dict[str, Person]) -> None:
    case = people["agent"].post("/api/v1/cases", APPEAL, 201)
    kan = people["kan"]
    seen = kan.get(f"/api/v1/cases/{case['id']}")
    assert seen["fields"] == {"description": "楼道积水三天"} and seen["actions"] == []
    assert [c["fields"] for c in kan.get("/api/v1/cases")] == [{"description": "楼道积水三天"}]
    assert kan.act(case, "dispatch", 403, department="nc-housing")["message"]
    people["disp"].act(case, "note", text="来电人情绪激动,注意沟通")
    timeline = kan.get(f"/api/v1/cases/{case['id']}")["timeline"]
    assert [e["note"] for e in timeline] == ["", ""]  # the workers' notes are not for every reader
    full = people["disp"].get(f"/api/v1/cases/{case['id']}")
    assert full["fields"]["phone"] == "13800001234"


def test_case_types_and_filters(people: dict[str, Person]) -> None:
    agent = people["agent"]
    types = {t["name"]: t for t in agent.get("/api/v1/case-types")}
    assert {n for n in types if n.startswith("civic.")} == {"civic.hotline", "civic.enterprise", "civic.grid"}
    assert types["civic.hotline"]["limits_by_category"]["咨询"]["text"] == "2 工作日"
    agent.post("/api/v1/cases", APPEAL, 201)
    agent.post("/api/v1/cases", {**APPEAL, "command_id": "call-0002", "area": "360111001001001"}, 201)
    assert len(agent.get("/api/v1/cases", area="360102")) == 1
    assert len(agent.get("/api/v1/cases", state="registered", type="civic.hotline")) == 2
    r = agent.client.get("/api/v1/cases/nope")
    assert r.status_code == 404 and "case 'nope'" in r.json()["message"]
    bad = agent.post("/api/v1/cases", {**APPEAL, "command_id": "c3", "type": "civic.nope"}, 404)
    assert "civic.nope" in bad["message"]


def test_duplicates_are_suggested_and_merged_by_the_dispatcher(people: dict[str, Person]) -> None:
    agent, disp = people["agent"], people["disp"]
    here = {**APPEAL, "lon": 115.8921, "lat": 28.6760}
    first = agent.post("/api/v1/cases", here, 201)
    near = agent.post("/api/v1/cases", {**here, "command_id": "call-0002", "lon": 115.8930}, 201)  # ~88 m
    agent.post("/api/v1/cases", {**here, "command_id": "call-0003", "lon": 115.9100}, 201)  # ~1.7 km
    agent.post("/api/v1/cases", {**here, "command_id": "call-0004", "category": "咨询"}, 201)  # other kind
    found = disp.get(f"/api/v1/cases/{near['id']}/duplicates")
    assert [(d["id"], round(d["distance_m"])) for d in found] == [(first["id"], 88)]
    merged = disp.act(near, "merge", master=first["id"])
    assert merged["state"] == "merged" and merged["status"] == "closed"
    assert disp.get(f"/api/v1/cases/{first['id']}/duplicates") == []  # the merged one is closed


def test_a_case_without_an_area_and_a_phone_search_stay_private(people: dict[str, Person]) -> None:
    agent, housing, kan = people["agent"], people["housing"], people["kan"]
    nowhere = agent.post("/api/v1/cases", {**APPEAL, "command_id": "call-9", "area": ""}, 201)
    # a department's handler does not register 12345 calls (the type says who opens one)
    refused = housing.post("/api/v1/cases", {**APPEAL, "command_id": "call-10"}, 403)
    assert "roles that may" in refused["message"]
    # a handler's grant is their own areas: a case without an area is not theirs to read or change
    r = housing.client.get(f"/api/v1/cases/{nowhere['id']}")
    assert r.status_code == 403 and "area -" in r.json()["message"]
    assert housing.act(nowhere, "note", 403, text="x")["message"]
    # a read-only viewer's text search looks at titles, never at the caller's phone
    agent.post("/api/v1/cases", APPEAL, 201)
    assert kan.get("/api/v1/cases", text="13800001234") == []
    assert len(kan.get("/api/v1/cases", text="楼道积水")) == 2
    assert len(agent.get("/api/v1/cases", text="13800001234")) == 2  # who may see phones, finds them


def test_a_batch_of_commands_is_answered_item_by_item(people: dict[str, Person]) -> None:
    agent, disp, housing = people["agent"], people["disp"], people["housing"]
    second = {**APPEAL, "command_id": "call-0002", "title": "路灯不亮", "op": "open"}
    jiujiang = {**APPEAL, "command_id": "call-0003", "area": "360402001001001", "op": "open"}
    out = agent.post("/api/v1/cases/commands", {"commands": [{**APPEAL, "op": "open"}, second, jiujiang]})
    assert [a["status"] for a in out["answers"]] == [201, 201, 201] and out["applied"] == 3
    one, two, far = (a["case"] for a in out["answers"])
    again = agent.post("/api/v1/cases/commands", {"commands": [{**APPEAL, "op": "open"}]})
    assert again["answers"][0]["status"] == 200 and again["answers"][0]["case"]["replayed"] is True

    def act(case: dict[str, Any], action: str, cmd: str, version: int, **fields: Any) -> dict[str, Any]:
        return {"op": "act", "case_id": case["id"], "action": action, "command_id": cmd, "version": version,
                "fields": fields}  # fmt: skip

    out = disp.post("/api/v1/cases/commands", {"commands": [
        act(one, "dispatch", "d1", 1, department="nc-housing"),
        act(two, "dispatch", "d2", 1),  # no department: what is missing is named
        act(one, "dispatch", "d3", 1, department="nc-water"),  # decided on version 1: now 2
        act(far, "dispatch", "d4", 1, department="nc-housing"),
    ]})  # fmt: skip
    assert [a["status"] for a in out["answers"]] == [200, 422, 409, 200] and out["applied"] == 2
    assert out["answers"][1]["errors"][0]["field"] == "department"
    assert out["answers"][0]["case"]["department"] == "nc-housing"
    assert disp.get(f"/api/v1/cases/{two['id']}")["state"] == "registered"
    # a handler's grant covers their own areas (3601, 南昌): a case in 九江 is refused, by itself
    out = housing.post(
        "/api/v1/cases/commands", {"commands": [act(far, "sign", "s1", 2), act(one, "sign", "s2", 2)]}
    )
    assert [a["status"] for a in out["answers"]] == [403, 200]
    assert (
        "360402001001001" in out["answers"][0]["message"] and out["answers"][0]["error"] == "ForbiddenError"
    )
    # the body itself is checked first: an unknown op refuses the whole batch, nothing applied
    unknown = {"commands": [{"op": "delete", "case_id": one["id"]}]}
    r = disp.client.post("/api/v1/cases/commands", json=unknown, headers={CSRF_HEADER: disp.csrf})
    assert r.status_code == 422
    assert disp.get(f"/api/v1/cases/{one['id']}")["version"] == 3


def test_an_open_grid_case_carries_where_the_routing_rules_send_it(people: dict[str, Person]) -> None:
    disp = people["disp"]
    report = {"type": "civic.grid", "command_id": "grid-1", "category": "井盖缺失", "area": "360103001001001",
              "title": "井盖缺失", "fields": {"description": "人行道井盖缺失"}}  # fmt: skip
    case = disp.post("/api/v1/cases", report, 201)
    assert case["suggested"] == {"department": "nc-water", "why": "部件 先属主后属地: 属主 nc-water"}
    litter = disp.post("/api/v1/cases", {**report, "command_id": "grid-2", "category": "暴露垃圾"}, 201)
    assert disp.get(f"/api/v1/cases/{litter['id']}")["suggested"]["department"] == "xihu-urban"
    hotline = disp.post("/api/v1/cases", APPEAL, 201)
    assert hotline["suggested"] is None  # 12345 appeals have no rules: the dispatcher decides

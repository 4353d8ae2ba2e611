"""Privacy of the welfare scene (issue 15 item 6): every route is walked for every role, so a new
route without masking fails here. Roles that mask personal fields never see one in clear; a
village cadre sees their village only, in clear, and every household page read is audited; the
公示 list names a household but never its ID, phone, bank account or health detail; the stored
facts hold no ID number in clear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.cases.engine import Act, Actor, Outcome
from citybrain.core.cases.records import CaseQuery
from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.core.tokens import create_token
from tests.identity.test_sign_in import PASSWORD
from tests.scenes.welfare.welfare_testkit import (
    HOUSEHOLDS,
    MEMBERS,
    PUSHES,
    RURAL,
    TOWN,
    deliver,
    screen_all,
    welfare_platform,
)

BASE = "/api/v1/scenes/welfare"
# every GET route of the scene, with what fills its path and query (a new route must be added here)
WALK = {
    "/overview": "/overview",
    "/risks": "/risks",
    "/households/{household}": "/households/H2",
    "/publicity": f"/publicity?village={TOWN}",
    "/publicity.csv": f"/publicity.csv?village={TOWN}",
    "/delivery/{policy}": "/delivery/disability_subsidy",
}
POSTS = {"/delivery/{policy}/grants", "/screenings", "/what-if"}
PEOPLE = {  # username -> roles, areas
    "kan": (["viewer"], []),
    "duty": (["operator"], []),
    "boss": (["supervisor"], []),
    "cadre": (["village_cadre"], [TOWN]),
    "worker": (["caseworker"], ["360102"]),
}
MASKED = ("kan", "duty", "boss")


def secrets() -> set[str]:
    """Every personal value delivered: none may reach a role that masks them."""
    out = {
        str(h[c])
        for h in HOUSEHOLDS
        for c in ("户主姓名", "户主身份证号", "联系电话", "住址", "社保卡账号")
        if h[c]
    }
    out |= {m[0] for m in MEMBERS} | {m[2] for m in MEMBERS}
    out |= {b["诊断"] for b in PUSHES["medical.bills"]}
    return out


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Platform, dict[str, str]]]:
    p = welfare_platform(tmp_path)
    deliver(p, tmp_path)
    screen_all(p)
    admin = {"Authorization": f"Bearer {create_token(p.store, 'admin', ['admin'])[1]}"}
    with TestClient(create_app(p.settings, platform=p)) as client:
        for name, (roles, areas) in PEOPLE.items():
            body = {
                "username": name,
                "name": name,
                "department": "nc-civil",
                "roles": roles,
                "password": PASSWORD,
                "areas": areas,
            }
            assert client.post("/api/v1/users", json=body, headers=admin).status_code == 200
        # H2's case to publicity (公示), as the village and the caseworker would take it
        [case] = [
            c for c in p.store.find_cases(CaseQuery(type="welfare.relapse")) if c.fields["household"] == "H2"
        ]
        [out] = p.cases.run(
            [Act(case.id, "visit", "v", case.version, {"visit_note": "入户", "consent": "已签署授权承诺"})],
            Actor("c", ("village_cadre",)),
        )
        assert isinstance(out, Outcome), out
        [out] = p.cases.run(
            [Act(case.id, "compare", "c", out.case.version, {"comparison": "属实"})],
            Actor("w", ("caseworker",)),
        )
        yield client, p, admin


def sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_the_walk_covers_every_route_of_the_scene(served: Any) -> None:
    _, p, _ = served
    declared = {path for path, _ in p.scenes["welfare"].routes_declared()}
    assert declared == set(WALK) | POSTS, (
        "a new route: add it to WALK (GET) or POSTS, so its answers are checked"
    )


@pytest.mark.parametrize("user", MASKED)
def test_roles_that_mask_personal_fields_never_see_one(served: Any, user: str) -> None:
    client, _, _ = served
    sign_in(client, user)
    hidden = secrets()
    for route, path in WALK.items():
        r = client.get(BASE + path)
        assert r.status_code == 200, (user, route, r.text)
        leaked = sorted(s for s in hidden if s in r.text)
        assert leaked == [], (user, route, leaked)
    page = client.get(f"{BASE}/households/H2").json()
    assert page["name"] == "李*" and page["id_number"].startswith("360121") and "*" in page["id_number"]


def test_a_village_cadre_sees_their_village_in_clear_and_each_read_is_audited(served: Any) -> None:
    client, _, admin = served
    sign_in(client, "cadre")
    assert {r["household"] for r in client.get(f"{BASE}/risks").json()["items"]} == {"H2", "H4"}  # not H1, H3
    assert client.get(f"{BASE}/households/H1").status_code == 404  # 斗门村 is not theirs
    assert client.get(f"{BASE}/publicity?village={RURAL}").status_code == 404
    page = client.get(f"{BASE}/households/H2").json()
    assert (page["name"], page["phone"]) == ("李四", "13900002222")
    assert {p["relation"] for p in page["people"]} == {"户主", "配偶"}
    client.get(f"{BASE}/households/H2")
    reads = [
        a
        for a in client.get("/api/v1/audit", headers=admin).json()
        if a["action"] == "read" and a["target"] == "welfare household H2"
    ]
    assert len(reads) == 2 and all(a["actor"].startswith("cadre") for a in reads)


def test_the_publicity_list_names_the_household_and_nothing_more(served: Any) -> None:
    client, _, _ = served
    sign_in(client, "cadre")
    notice = client.get(f"{BASE}/publicity?village={TOWN}").json()
    assert [(i["household"], i["name"], i["group"]) for i in notice["items"]] == [
        ("H2", "李四", "脱贫不稳定户")
    ]
    text = client.get(f"{BASE}/publicity.csv?village={TOWN}").text
    assert "李四" in text
    for secret in (
        "13900002222",
        "民巷12号",
        "6217000033334444",
        str(HOUSEHOLDS[1]["户主身份证号"]),
        "肺恶性肿瘤",
    ):
        assert secret not in text and secret not in str(notice)


def test_the_decision_names_every_clause_value_source_and_version(served: Any) -> None:
    client, _, _ = served
    sign_in(client, "worker")
    page = client.get(f"{BASE}/households/H2").json()
    dibao = next(d for d in page["decisions"] if d["policy"] == "dibao")
    # 24,000 a year for two is 1,000 a month each: not under the 1,000 standard; and a car
    assert (dibao["outcome"], dibao["region"], dibao["version"], dibao["failed"]) == (
        "ineligible",
        "3601",
        "2026.1",
        ["income", "vehicle"],
    )
    vehicle = next(c for c in dibao["clauses"] if c["name"] == "vehicle")
    assert (vehicle["result"], vehicle["values"], vehicle["expr"]) == (False, {"cars": 1}, "cars == 0")
    income = next(c for c in dibao["clauses"] if c["name"] == "income")
    assert income["values"] == {"income_12m": 24000.0, "members": 2} and income["params"] == {
        "standard_month": 1000
    }
    assert dibao["sources"]["cars"]["dataset"] == "police.vehicles" and dibao["sources"]["cars"]["as_of"]
    drop = next(d for d in page["decisions"] if d["policy"] == "risk_income_drop")
    assert drop["outcome"] == "eligible" and drop["sources"]["income_prev_12m"]["owner"] == "nc-hrss"


def test_no_personal_value_is_stored_in_clear(served: Any) -> None:
    _, p, _ = served
    datasets = p.aggregator.datasets
    stored = [str(r.data) for name in datasets for r in p.store.current_rows(name)]
    stored += [str(e) for e in p.store.find_events(["facts.row", "welfare.assessed"])]
    stored += [str(a.data) + a.message for a in p.store.alerts(AlertQuery(scene="welfare"))]
    assert len(stored) > 50
    leaked = sorted(s for s in secrets() if any(s in text for text in stored))
    assert leaked == []


def test_without_a_signed_authorisation_nothing_is_compared_or_shown(served: Any) -> None:
    client, _, admin = served
    client.cookies.clear()
    page = client.get(f"{BASE}/households/H3", headers=admin).json()  # no 授权书; a 50,000 yuan bill
    assert page["features"] == {} and "50000" not in str(page)
    assert {d["outcome"] for d in page["decisions"]} == {"not_authorised"}
    proposal = {"name": "risk_illness", "title": "t", "region": "3601", "valid_from": "2026-01-01",
                "version": "x", "features": ["medical_12m"], "clauses": [{"name": "c", "title": "c",
                "expr": "medical_12m > 0"}]}  # fmt: skip
    r = client.post(f"{BASE}/what-if", json={"ruleset": proposal}, headers=admin)
    assert r.status_code == 422 and "requires 'authorised'" in r.text

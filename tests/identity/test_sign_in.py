"""People sign in through the API: sessions in an HttpOnly cookie, CSRF on changes, TOTP, lockout,
idle timeout; and what each role then sees (the policy at the one enforcement point)."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from citybrain.api.auth import CSRF_HEADER, SESSION_COOKIE
from tests.support.api import Api

PASSWORD = "correct horse battery staple"


def add_user(api: Api, username: str, roles: list[str], department: str, **kw: Any) -> dict[str, Any]:
    body = {"username": username, "name": kw.pop("name", username), "department": department, "roles": roles,
            "password": PASSWORD, **kw}  # fmt: skip
    r = api.client.post("/api/v1/users", json=body, headers=api.h("admin"))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def sign_in(client: TestClient, username: str, password: str = PASSWORD, code: str = "") -> dict[str, Any]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password, "code": code})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_sign_in_sets_an_httponly_strict_cookie_and_says_what_the_person_may_do(api: Api) -> None:
    add_user(api, "lina", ["caseworker"], "donghu-civil", name="李娜")
    me = sign_in(api.client, "lina")
    cookie = api.client.cookies.get(SESSION_COOKIE)
    assert cookie and len(cookie) >= 40
    assert me["name"] == "李娜" and me["roles"] == ["caseworker"] and me["areas"] == ["360102"]
    assert me["can"]["pulse"] == ["read"] and me["can"]["traffic"] == []  # welfare: not installed yet
    assert me["csrf"]
    again = api.client.get("/api/v1/auth/me").json()
    assert again["id"] == me["id"] and again["csrf"] == me["csrf"]


def test_the_cookie_attributes(api: Api) -> None:
    add_user(api, "cookie.check", ["viewer"], "nc-data")
    r = api.client.post("/api/v1/auth/login", json={"username": "cookie.check", "password": PASSWORD})
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/" in set_cookie


def test_one_message_for_every_sign_in_failure_and_a_lockout(api: Api) -> None:
    add_user(api, "wang", ["viewer"], "nc-data")
    unknown = api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
    wrong = api.client.post("/api/v1/auth/login", json={"username": "wang", "password": "x" * 12})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["message"] == wrong.json()["message"] == "wrong username, password or code"
    for _ in range(4):  # five failures in a row in all
        api.client.post("/api/v1/auth/login", json={"username": "wang", "password": "y" * 12})
    locked = api.client.post("/api/v1/auth/login", json={"username": "wang", "password": PASSWORD})
    assert locked.status_code == 401  # the right password, but locked for lockout_s
    audit = api.client.get("/api/v1/audit", headers=api.h("admin")).json()
    assert not any(a["action"] == "auth.login" and "wang" in str(a) for a in audit)


def test_changes_with_a_session_need_the_csrf_token(api: Api) -> None:
    add_user(api, "op", ["operator"], "nc-data")
    me = sign_in(api.client, "op")
    alert = api.client.post("/api/v1/alerts/none/ack", json={"note": "x"})
    assert alert.status_code == 403 and CSRF_HEADER in alert.json()["message"]
    with_csrf = api.client.post(
        "/api/v1/alerts/none/ack", json={"note": "x"}, headers={CSRF_HEADER: me["csrf"]}
    )
    assert with_csrf.status_code == 404  # admitted; the alert does not exist
    bad = api.client.post("/api/v1/alerts/none/ack", json={"note": "x"}, headers={CSRF_HEADER: "forged"})
    assert bad.status_code == 403


def test_roles_decide_what_a_person_may_call(api: Api) -> None:
    add_user(api, "eng", ["traffic_engineer"], "nc-traffic")
    sign_in(api.client, "eng")
    assert api.client.get("/api/v1/scenes/traffic/hotspots").status_code == 200
    refused = api.client.get("/api/v1/scenes/nev/vehicles")
    assert refused.status_code == 403
    assert refused.json()["message"] == "eng may not read in scene 'nev' (roles: traffic_engineer)"
    assert api.client.get("/api/v1/users").status_code == 403  # admin only


def test_sign_out_ends_the_session(api: Api) -> None:
    add_user(api, "zhao", ["viewer"], "nc-data")
    me = sign_in(api.client, "zhao")
    old = api.client.cookies.get(SESSION_COOKIE)
    assert api.client.post("/api/v1/auth/logout", headers={CSRF_HEADER: me["csrf"]}).status_code == 200
    api.client.cookies.set(SESSION_COOKIE, old or "")
    assert api.client.get("/api/v1/auth/me").status_code == 401


def test_totp_is_required_once_enrolled_and_a_code_works_once(api: Api) -> None:
    user = add_user(api, "sun", ["viewer"], "nc-data")
    uri = api.client.post(f"/api/v1/users/{user['id']}/totp", headers=api.h("admin")).json()[
        "provisioning_uri"
    ]
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    no_code = api.client.post("/api/v1/auth/login", json={"username": "sun", "password": PASSWORD})
    assert no_code.status_code == 401
    code = totp.now()
    sign_in(api.client, "sun", code=code)
    replay = api.client.post(
        "/api/v1/auth/login", json={"username": "sun", "password": PASSWORD, "code": code}
    )
    assert replay.status_code == 401


def test_disabling_a_user_ends_their_sessions(api: Api) -> None:
    user = add_user(api, "qian", ["viewer"], "nc-data")
    sign_in(api.client, "qian")
    assert api.client.get("/api/v1/auth/me").status_code == 200
    r = api.client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert api.client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"roles": ["pilot"]}, "no role 'pilot'"),
        ({"department": "nasa"}, "no department 'nasa'"),
        ({"areas": ["4401"]}, "area '4401' is neither an area of the organisation"),
        ({"username": "Bad Name"}, "username 'Bad Name'"),
    ],
)
def test_a_user_the_organisation_does_not_know_is_refused(api: Api, body: dict[str, Any], error: str) -> None:
    full = {
        "username": "x1",
        "name": "x",
        "department": "nc-data",
        "roles": ["viewer"],
        "password": PASSWORD,
        **body,
    }
    r = api.client.post("/api/v1/users", json=full, headers=api.h("admin"))
    assert r.status_code == 400 and error in r.json()["message"], r.text


def test_user_changes_are_audited(api: Api) -> None:
    user = add_user(api, "li", ["viewer"], "nc-data")
    api.client.patch(f"/api/v1/users/{user['id']}", json={"roles": ["operator"]}, headers=api.h("admin"))
    actions = [
        (a["action"], a["target"]) for a in api.client.get("/api/v1/audit", headers=api.h("admin")).json()
    ]
    assert ("user.create", user["id"]) in actions and ("user.change", user["id"]) in actions


def test_a_person_s_token_is_owned_by_them_and_ends_with_their_account(api: Api) -> None:
    boss = add_user(api, "boss", ["admin"], "nc-data")
    me = sign_in(api.client, "boss")
    made = api.client.post(
        "/api/v1/tokens", json={"name": "etl", "scopes": ["read"]}, headers={CSRF_HEADER: me["csrf"]}
    )
    assert made.status_code == 200, made.text
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    listed = {t["id"]: t for t in api.client.get("/api/v1/tokens", headers=api.h("admin")).json()}
    assert listed[made.json()["id"]]["owner"] == f"user:{boss['id']}"
    assert api.client.get("/api/v1/alerts", headers=bearer).status_code == 200
    api.client.patch(f"/api/v1/users/{boss['id']}", json={"disabled": True}, headers=api.h("admin"))
    refused = api.client.get("/api/v1/alerts", headers=bearer)
    assert refused.status_code == 401 and "disabled or removed account" in refused.json()["message"]

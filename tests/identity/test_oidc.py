"""OIDC sign-in against a real identity provider started by the tests: panva's certified Node.js
``oidc-provider`` (tests/interop/oidc/, installed by ``make interop-peers``) and a real ``citybrain
serve``. The whole browser flow is run with httpx: citybrain's login redirect, the provider's
login and consent forms, the callback, and the session that follows. Under CI (``CI`` set) a
missing provider fails the tests instead of skipping them."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import msgspec
import pytest

from citybrain.api.auth import SESSION_COOKIE
from citybrain.api.routes_oidc import FLOW_COOKIE, Oidc
from citybrain.core.config import IdentitySettings
from citybrain.core.errors import ConfigError
from citybrain.identity.directory import NOT_ADMITTED
from citybrain.testing import free_port
from tests.support.api import Api
from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "tests" / "interop" / "oidc"
CLIENT_ID, CLIENT_SECRET = "citybrain", "a-test-client-secret-4b1f0c6e9d2a7f35"
PASSWORD = "correct horse battery staple"


def require_provider() -> str:
    node = shutil.which("node")
    if node and (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        return node
    why = f"the test identity provider is not installed ({PROVIDER}/node_modules): run `make interop-peers`"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


class Idp:
    """The provider as a separate Node.js process on a free port."""

    def __init__(self, node: str, port: int, redirect: str, log: Path) -> None:
        self.issuer, self.log = f"http://127.0.0.1:{port}", log
        cmd = [node, "provider.mjs", "--port", str(port), "--redirect", redirect,
               "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]  # fmt: skip
        with log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=PROVIDER, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, f"the provider exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"the provider did not start: {log.read_text()}"
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).is_success:
                    return
            except httpx.TransportError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Site:
    """citybrain and the provider, each on its own port; the admin's API calls."""

    def __init__(self, server: Server, idp: Idp) -> None:
        self.server, self.idp, self.url = server, idp, server.url
        self.callback = f"{server.url}/api/v1/auth/oidc/callback"

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        auth = {"Authorization": f"Bearer {self.server.token}"}
        r = httpx.request(method, f"{self.url}{path}", headers=auth, timeout=10, **kw)
        assert r.is_success, r.text
        return r.json()

    def add_user(self, username: str, roles: list[str], department: str, name: str) -> dict[str, Any]:
        body = {"username": username, "name": name, "department": department, "roles": roles,
                "password": PASSWORD}  # fmt: skip
        user: dict[str, Any] = self.admin("POST", "/api/v1/users", json=body)
        return user


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    node = require_provider()
    tmp = tmp_path_factory.mktemp("oidc")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/v1/auth/oidc/callback"
    idp = Idp(node, free_port(), callback, tmp / "provider.log")
    server = Server(
        tmp / "var",
        port,
        CITYBRAIN_IDENTITY__OIDC_ISSUER=idp.issuer,
        CITYBRAIN_IDENTITY__OIDC_CLIENT_ID=CLIENT_ID,
        CITYBRAIN_IDENTITY__OIDC_CLIENT_SECRET=CLIENT_SECRET,
        CITYBRAIN_IDENTITY__OIDC_REDIRECT_URL=callback,
        CITYBRAIN_IDENTITY__OIDC_SCOPES="openid profile email",
    )
    try:
        server.start()
        yield Site(server, idp)
    finally:
        server.stop()
        idp.stop()


def at_the_provider(site: Site, client: httpx.Client, login: str) -> str:
    """citybrain's login redirect, then the provider's login and consent forms as a browser fills
    them: the URL the provider sends the browser back to (citybrain's callback, not yet called)."""
    r = client.get(f"{site.url}/api/v1/auth/oidc/login")
    assert r.status_code == 302, r.text
    sent = parse_qs(urlsplit(r.headers["location"]).query)
    assert r.headers["location"].startswith(f"{site.idp.issuer}/auth?")
    assert sent["response_type"] == ["code"] and sent["client_id"] == [CLIENT_ID]
    assert sent["code_challenge_method"] == ["S256"] and len(sent["code_challenge"][0]) == 43
    assert sent["redirect_uri"] == [site.callback] and sent["state"][0] and sent["nonce"][0]
    assert "openid" in sent["scope"][0].split()
    flow = r.headers["set-cookie"].lower()
    assert FLOW_COOKIE in flow and "httponly" in flow and "samesite=lax" in flow
    url = r.headers["location"]
    for _ in range(12):
        if url.startswith(site.callback):
            return url
        r = client.get(url)
        if r.is_redirect:
            url = urljoin(str(r.url), r.headers["location"])
            continue
        assert r.status_code == 200, r.text
        action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', r.text)[1])  # type: ignore[index]
        prompt = re.search(r'name="prompt" value="(\w+)"', r.text)[1]  # type: ignore[index]
        form = {"prompt": prompt} | ({"login": login, "password": "any"} if prompt == "login" else {})
        r = client.post(urljoin(str(r.url), action), data=form)
        assert r.is_redirect, r.text
        url = urljoin(str(r.url), r.headers["location"])
    raise AssertionError(f"the provider never sent the browser back; last at {url}")


def test_an_oidc_sign_in_gives_the_local_account_s_session_and_roles(site: Site) -> None:
    local = site.add_user("kf.chen", ["traffic_engineer"], "nc-traffic", name="陈凯峰")
    with httpx.Client(timeout=10) as browser:
        assert SESSION_COOKIE not in browser.cookies
        back = at_the_provider(site, browser, "kf.chen")
        assert parse_qs(urlsplit(back).query)["iss"] == [site.idp.issuer]
        r = browser.get(back)
        assert r.status_code == 303 and r.headers["location"] == "/", r.text
        assert browser.cookies.get(SESSION_COOKIE)
        me = browser.get(f"{site.url}/api/v1/auth/me").json()
        # who the person is comes from citybrain's own record, not from the provider's claims
        assert me["kind"] == "user" and me["id"] == local["id"] and me["name"] == "陈凯峰"
        assert me["roles"] == ["traffic_engineer"] and me["department"] == "nc-traffic"
        assert "read" in me["can"]["traffic"] and "admin" not in me["can"]["platform"] and me["csrf"]
        again = browser.get(back)  # the same answer twice: its state was used once
        assert again.status_code == 401
    audit = site.admin("GET", "/api/v1/audit", params={"limit": 50})
    signed = [a for a in audit if a["action"] == "auth.login" and a["target"] == local["id"]]
    assert signed and signed[0]["detail"]["via"] == "oidc"


def test_a_tampered_state_is_refused(site: Site) -> None:
    with httpx.Client(timeout=10) as browser:
        back = at_the_provider(site, browser, "kf.chen")
        parts = urlsplit(back)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
        r = browser.get(f"{site.callback}?{urlencode(query)}")
        assert r.status_code == 401 and "state" in r.json()["message"].lower(), r.text
        assert SESSION_COOKIE not in browser.cookies


def test_a_forged_flow_cookie_is_refused(site: Site) -> None:
    with httpx.Client(timeout=10) as browser:
        back = at_the_provider(site, browser, "kf.chen")
        sealed = browser.cookies[FLOW_COOKIE]
        browser.cookies.delete(FLOW_COOKIE)
        body, _, mac = sealed.partition(".")
        browser.cookies.set(FLOW_COOKIE, f"{body}.{mac[::-1]}", domain="127.0.0.1", path="/api/v1/auth/oidc")
        r = browser.get(back)
        assert r.status_code == 401 and SESSION_COOKIE not in browser.cookies


def test_an_identity_without_a_local_account_is_refused(site: Site) -> None:
    with httpx.Client(timeout=10) as browser:
        r = browser.get(at_the_provider(site, browser, "visitor"))
        assert r.status_code == 401 and r.json()["message"] == NOT_ADMITTED
        assert SESSION_COOKIE not in browser.cookies


def test_a_disabled_local_account_is_refused_with_the_same_message(site: Site) -> None:
    user = site.add_user("former.staff", ["viewer"], "nc-data", name="Former Staff")
    site.admin("PATCH", f"/api/v1/users/{user['id']}", json={"disabled": True})
    with httpx.Client(timeout=10) as browser:
        r = browser.get(at_the_provider(site, browser, "former.staff"))
        assert r.status_code == 401 and r.json()["message"] == NOT_ADMITTED
        assert SESSION_COOKIE not in browser.cookies


def test_oidc_is_off_without_an_issuer(api: Api) -> None:
    r = api.client.get("/api/v1/auth/oidc/login", follow_redirects=False)
    assert r.status_code == 404 and "identity.oidc_issuer" in r.json()["message"]


def settings(**change: str) -> IdentitySettings:
    good = {"oidc_issuer": "https://idp.example", "oidc_client_id": "c", "oidc_client_secret": "s" * 32,
            "oidc_redirect_url": "https://cb.example/api/v1/auth/oidc/callback"}  # fmt: skip
    return msgspec.convert(good | change, IdentitySettings)


def test_the_flow_cookie_is_signed_and_short_lived() -> None:
    oidc = Oidc(settings(oidc_client_secret="s" * 32))
    sealed = oidc.seal({"_state_citybrain_x": {"data": {"nonce": "n"}}}, now_s=1_000)
    assert oidc.unseal(sealed, now_s=1_000 + 599) == {"_state_citybrain_x": {"data": {"nonce": "n"}}}
    assert oidc.unseal(sealed, now_s=1_000 + 601) == {}  # expired
    body, _, mac = sealed.partition(".")
    assert oidc.unseal(f"{body}x.{mac}", now_s=1_000) == {}
    assert oidc.unseal("", now_s=1_000) == oidc.unseal("garbage", now_s=1_000) == {}
    other = Oidc(settings(oidc_client_secret="t" * 32))
    assert other.unseal(sealed, now_s=1_000) == {}  # another secret, another key


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"oidc_client_secret": ""}, "identity.oidc_client_secret"),
        ({"oidc_issuer": "http://idp.example"}, "identity.oidc_issuer"),  # plain http off loopback
        ({"oidc_scopes": "profile"}, "must include openid"),
        ({"oidc_provision": "create"}, "identity.oidc_provision"),
    ],
)
def test_incomplete_or_unsafe_oidc_settings_are_refused(change: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Oidc(settings(**change))

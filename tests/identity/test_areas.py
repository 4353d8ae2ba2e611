"""Area scoping inside a route: a principal sees the records of its areas only (NEV vehicles by
their region code), through ``sdk.readable_areas``; the organisation file here is a test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.tokens import create_token
from citybrain.scenes.nev.events import NevLogin
from tests.identity.test_sign_in import PASSWORD
from tests.scenes.nev.nev_testkit import T0, nev_platform, report

NANCHANG_CAR, JIUJIANG_CAR = "LCBEV1A0100000001", "LCBEV1A0100000002"
AREAS = {"36": ("江西省", "Jiangxi"), "360100": ("南昌市", "Nanchang"),
         "360000": ("江西省(南昌以外)", "Jiangxi outside Nanchang")}  # fmt: skip
ORG = (
    "".join(
        f'[[areas]]\ncode = "{code}"\nname = {{ "zh-CN" = "{zh}", en = "{en}" }}\n'
        for code, (zh, en) in AREAS.items()
    )
    + """
[[departments]]
id = "jx-transport"
name = { "zh-CN" = "省交通运输厅", en = "Provincial transport" }
area = "36"
[[departments]]
id = "nc-transport"
name = { "zh-CN" = "南昌市交通运输局", en = "Nanchang transport" }
area = "360100"
parent = "jx-transport"

[[roles]]
name = "admin"
title = { en = "admin" }
permissions = [{ scene = "*", action = "*" }]
[[roles]]
name = "nev_inspector"
title = { "zh-CN" = "新能源车辆监管员", en = "NEV inspector" }
permissions = [{ scene = "nev", action = "read", area = "@own" }]
"""
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    org = tmp_path / "org.toml"
    org.write_text(ORG, encoding="utf-8")
    p = nev_platform(tmp_path)
    p.settings.identity.org_file = str(org)
    admin = {"Authorization": f"Bearer {create_token(p.store, 'admin', ['admin'])[1]}"}
    with TestClient(create_app(p.settings, platform=p)) as c:
        p.publish([
            NevLogin(key=NANCHANG_CAR, ts=T0, edition="2016", serial=1, ingest_ts=T0),
            NevLogin(key=JIUJIANG_CAR, ts=T0, edition="2016", serial=1, ingest_ts=T0),
            report(NANCHANG_CAR, T0 + 1000, lon=115.89, lat=28.68),  # 南昌 → region 360100
            report(JIUJIANG_CAR, T0 + 1000, lon=115.99, lat=29.71),  # 九江 → region 360000
        ])  # fmt: skip
        p.pipeline.drain()
        for name, dept in (("city", "nc-transport"), ("province", "jx-transport")):
            body = {"username": name, "name": name, "department": dept, "roles": ["nev_inspector"],
                    "password": PASSWORD}  # fmt: skip
            assert c.post("/api/v1/users", json=body, headers=admin).status_code == 200
        yield c


def as_user(c: TestClient, username: str) -> None:
    c.cookies.clear()
    assert c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200


def vins(c: TestClient) -> list[Any]:
    r = c.get("/api/v1/scenes/nev/vehicles")
    assert r.status_code == 200, r.text
    return sorted(v["vin"] for v in r.json()["items"])


def test_a_city_inspector_sees_the_city_s_vehicles_only(client: TestClient) -> None:
    as_user(client, "city")
    assert vins(client) == [NANCHANG_CAR]
    assert client.get(f"/api/v1/scenes/nev/vehicles/{JIUJIANG_CAR}").status_code == 404  # as if absent
    assert client.get(f"/api/v1/scenes/nev/vehicles/{JIUJIANG_CAR}/history").status_code == 404
    assert client.get(f"/api/v1/scenes/nev/vehicles/{NANCHANG_CAR}").status_code == 200
    assert client.get("/api/v1/scenes/nev/summary").json()["online"] == 1


def test_a_province_inspector_sees_both(client: TestClient) -> None:
    as_user(client, "province")
    assert vins(client) == [NANCHANG_CAR, JIUJIANG_CAR]
    me = client.get("/api/v1/auth/me").json()
    assert me["areas"] == ["36"] and me["can"] == {"platform": [], "nev": ["read"]}  # and itself

"""Personal fields at the one place every answer passes: masked for roles that mask them, and every
read that shows them unmasked audited (actor, department, purpose, fields), once a minute per route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.api.masking import mask_csv, mask_json
from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token
from citybrain.scenes.nev.events import NevLogin
from tests.identity.test_sign_in import PASSWORD
from tests.scenes.nev.nev_testkit import T0, nev_platform, report

SEDAN = "LCBEV1A0100000000"
PLATE = "赣AD12345"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Platform, dict[str, str]]]:
    p = nev_platform(tmp_path, vehicles={SEDAN: {"plate": PLATE}})
    admin = {"Authorization": f"Bearer {create_token(p.store, 'admin', ['admin'])[1]}"}
    with TestClient(create_app(p.settings, platform=p)) as client:
        p.publish(
            [NevLogin(key=SEDAN, ts=T0, edition="2016", serial=1, ingest_ts=T0), report(SEDAN, T0 + 1000)]
        )
        p.pipeline.drain()
        for name, role, dept in (("kan", "viewer", "nc-data"), ("duty", "operator", "nc-data")):
            body = {"username": name, "name": name, "department": dept, "roles": [role], "password": PASSWORD}
            assert client.post("/api/v1/users", json=body, headers=admin).status_code == 200
        yield client, p, admin


def plates(client: TestClient, **headers: str) -> list[Any]:
    r = client.get("/api/v1/scenes/nev/vehicles", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-length"] == str(len(r.content))
    return [v["plate"] for v in r.json()["items"]]


def reads(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    return [a for a in client.get("/api/v1/audit", headers=admin).json() if a["action"] == "read"]


def sign_in(client: TestClient, username: str) -> None:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_a_viewer_sees_plates_masked_and_that_read_is_not_audited(served: Any) -> None:
    client, _, admin = served
    sign_in(client, "kan")
    assert plates(client) == ["赣******5"]
    detail = client.get(f"/api/v1/scenes/nev/vehicles/{SEDAN}").json()
    assert detail["plate"] == "赣******5"
    assert reads(client, admin) == []


def test_an_operator_sees_plates_and_the_read_is_audited_with_its_purpose(served: Any) -> None:
    client, _, admin = served
    sign_in(client, "duty")
    why = "12345 工单 #88 核实车辆"
    assert plates(client, **{"X-Purpose": quote(why)}) == [PLATE]
    assert plates(client) == [PLATE]  # within the minute: one record per route
    [rec] = reads(client, admin)
    assert rec["actor"].startswith("duty (") and rec["target"] == "/api/v1/scenes/nev/vehicles"
    assert rec["detail"] == {
        "fields": ["plate"],
        "department": "nc-data",
        "purpose": "12345 工单 #88 核实车辆",
    }


def test_an_integration_token_reads_unmasked_and_is_audited(served: Any) -> None:
    client, p, admin = served
    read = {"Authorization": f"Bearer {create_token(p.store, 'bi', ['read'])[1]}"}
    assert plates(client, **read) == [PLATE]
    assert [r["actor"].split(" ")[0] for r in reads(client, admin)] == ["bi"]


def test_mask_json_masks_the_named_keys_at_any_depth() -> None:
    seen: set[str] = set()
    doc = {"items": [{"plate": "赣AD12345", "vin": "X", "owner": {"phone": "13812345678"}}], "plate": None}
    assert mask_json(doc, {"plate", "phone"}, seen) == {
        "items": [{"plate": "赣******5", "vin": "X", "owner": {"phone": "138****5678"}}],
        "plate": None,
    }
    assert seen == {"plate", "phone"}


def test_mask_csv_masks_the_named_columns() -> None:
    seen: set[str] = set()
    text = "vin,plate,soc\nX,赣AD12345,80\nY,,70\n"
    assert mask_csv(text, {"plate"}, seen) == "vin,plate,soc\nX,赣******5,80\nY,,70\n"
    assert seen == {"plate"}

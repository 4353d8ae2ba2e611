"""Data aggregation over HTTP (issue 15 item 1): a department's system pushes NDJSON rows with an
ingest token; the run is reported with its refused rows; the same push again adds nothing; the
datasets are listed with their last run and without their credentials; reading needs a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.tokens import create_token
from citybrain.testing import server_ports_env

DATASETS = """
[[datasets]]
name = "medical.bills"
title = "医保结算"
owner = "nc-health"
key = ["person"]
origin = "push"
snapshot = false
columns = [
  { name = "person", source = "证件号码", type = "id_number", required = true, sensitive = true },
  { name = "amount", source = "个人自付", type = "float", min = 0, required = true },
  { name = "settled", source = "结算日期", type = "date", required = true },
]

[[datasets]]
name = "housing.fund"
title = "公积金缴存"
owner = "nc-housing"
key = ["person"]
origin = "pull"
dsn = "mysql://reader:s3cret@127.0.0.1:3306/fund"
table = "deposits"
watermark = "updated_at"
columns = [
  { name = "person", type = "id_number" },
  { name = "updated_at", type = "date" },
]
"""
BODY = (
    '{"证件号码": "11010519491231002X", "个人自付": 12800.5, "结算日期": "2026-11-28"}\n'
    '{"证件号码": "110105194912310021", "个人自付": 300, "结算日期": "2026-11-28"}\n'
    "not json\n"
).encode()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    (tmp_path / "datasets.toml").write_text(DATASETS, encoding="utf-8")
    env = {"CITYBRAIN_DATA_DIR": str(tmp_path / "var"), **server_ports_env(),
           "CITYBRAIN_AGGREGATION__DATASETS_FILE": str(tmp_path / "datasets.toml")}  # fmt: skip
    settings = load_settings(env=env)
    app = create_app(settings, platform=Platform(settings, scenes={}))
    with TestClient(app) as c:
        store = app.state.platform.store
        feed = {"Authorization": f"Bearer {create_token(store, 'yibao', ['ingest'])[1]}"}
        reader = {"Authorization": f"Bearer {create_token(store, 'screen', ['read'])[1]}"}
        yield c, feed, reader


def test_a_push_is_one_run_with_its_refused_rows(
    client: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, feed, reader = client
    r = c.post("/api/v1/aggregation/datasets/medical.bills/batches?as_of=2026-11-30", content=BODY,
               headers={**feed, "Content-Type": "application/x-ndjson"})  # fmt: skip
    assert r.status_code == 201, r.text
    run = r.json()
    assert (run["rows_read"], run["rows_good"], run["rows_bad"], run["as_of"]) == (3, 1, 2, "2026-11-30")
    again = c.post("/api/v1/aggregation/datasets/medical.bills/batches?as_of=2026-11-30", content=BODY,
                   headers={**feed, "Content-Type": "application/x-ndjson"})  # fmt: skip
    assert (
        again.status_code == 200 and again.json()["status"] == "already" and again.json()["id"] == run["id"]
    )

    seen = c.get(f"/api/v1/aggregation/runs/{run['id']}", headers=reader).json()
    assert [x["row"] for x in seen["rejects"]] == [2, 3]
    assert seen["rejects"][0]["problems"][0]["field"] == "证件号码"
    assert seen["rejects"][0]["raw"]["证件号码"] == "11**************21"
    assert "not" in seen["rejects"][1]["problems"][0]["reason"].lower()

    listed = {d["name"]: d for d in c.get("/api/v1/aggregation/datasets", headers=reader).json()}
    assert listed["medical.bills"]["last_run"]["id"] == run["id"]
    assert "dsn" not in listed["housing.fund"] and "s3cret" not in str(listed)


def test_who_may_push_and_read(client: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    c, feed, reader = client
    assert c.get("/api/v1/aggregation/datasets").status_code == 401
    refused = c.post("/api/v1/aggregation/datasets/medical.bills/batches", content=BODY, headers=reader)
    assert refused.status_code == 403
    assert (
        c.post("/api/v1/aggregation/datasets/no.such/batches", content=BODY, headers=feed).status_code == 404
    )
    assert c.post("/api/v1/aggregation/datasets/housing.fund/pull", headers=reader).status_code == 403
    # a push into a dataset that is pulled from its database is refused: it would stand for a delivery
    wrong = c.post("/api/v1/aggregation/datasets/housing.fund/batches", content=BODY, headers=feed)
    assert wrong.status_code == 409 and "arrives by pull" in wrong.json()["message"]


def test_a_json_array_push(client: tuple[TestClient, dict[str, str], dict[str, str]]) -> None:
    c, feed, _ = client
    rows = [
        {"证件号码": "11010519491231002X", "个人自付": 80, "结算日期": "2026-12-01"},
        ["not", "an", "object"],
    ]
    r = c.post("/api/v1/aggregation/datasets/medical.bills/batches", json=rows, headers=feed)
    assert r.status_code == 201 and (r.json()["rows_good"], r.json()["rows_bad"]) == (1, 1)

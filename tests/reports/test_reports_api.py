"""The report archive's routes over a real platform (the city-pulse scene only: PDF rendering takes
a second a report): an operate token makes a month's report (201, its entry), a read token lists
it, reads its entry and downloads its PDF and HTML with their content types, file names and the
listed SHA-256; a changed file is refused (409); reading never makes a report."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.reports.monthly import month_range
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport
from citybrain.testing import server_ports_env
from tests.support.api import Api

OCT, _ = month_range("2026-10")
PDF = "report-2026-10.zh.pdf"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("var")
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(data), **server_ports_env()})
    platform = Platform(settings, scenes=discover({"pulse"}))
    platform.publish([PulseReport(key="360102", ts=OCT + 86_400_000, category="hotline", count=77, id="o1")])
    platform.pipeline.drain()
    with TestClient(create_app(settings, platform)) as client:
        yield Api(client, platform)


@pytest.fixture(scope="module")
def made(api: Api) -> dict[str, object]:
    r = api.client.post("/api/v1/reports", json={"month": "2026-10"}, headers=api.h("operate"))
    assert r.status_code == 201, r.text
    entry: dict[str, object] = r.json()
    return entry


def test_an_operator_makes_a_month_s_report_and_a_reader_lists_it(api: Api, made: dict[str, object]) -> None:
    assert made["id"] == "monthly-2026-10-zh-v1" and made["generated_by"] == "operate"  # the token's name
    assert made["period"] == "2026-10" and made["language"] == "zh" and made["sections"] == ["pulse"]
    listed = api.client.get("/api/v1/reports", headers=api.h("read")).json()
    assert [e["id"] for e in listed] == ["monthly-2026-10-zh-v1"]
    assert api.client.get("/api/v1/reports", params={"period": "2026-09"}, headers=api.h("read")).json() == []
    assert api.client.get("/api/v1/reports", params={"language": "en"}, headers=api.h("read")).json() == []
    one = api.client.get("/api/v1/reports/monthly-2026-10-zh-v1", headers=api.h("read"))
    assert one.status_code == 200 and one.json() == made


def test_the_pdf_and_the_html_download_with_their_listed_checksums(api: Api, made: dict[str, object]) -> None:
    files = {f["name"]: f for f in made["files"]}  # type: ignore[attr-defined]
    for name, media in ((PDF, "application/pdf"), ("report-2026-10.zh.html", "text/html")):
        r = api.client.get(f"/api/v1/reports/{made['id']}/files/{name}", headers=api.h("read"))
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert r.headers["content-disposition"].startswith(f'attachment; filename="{name}"')
        assert (
            hashlib.sha256(r.content).hexdigest() == files[name]["sha256"] == r.headers["x-checksum-sha256"]
        )
        assert len(r.content) == files[name]["size"]
    assert (
        "城市脉搏"
        in api.client.get(
            f"/api/v1/reports/{made['id']}/files/report-2026-10.zh.html", headers=api.h("read")
        ).text
    )


def test_reading_needs_read_and_making_needs_operate(api: Api) -> None:
    assert api.client.get("/api/v1/reports").status_code == 401
    assert api.client.get("/api/v1/reports", headers=api.h("ingest")).status_code == 403
    r = api.client.post("/api/v1/reports", json={"month": "2026-10"}, headers=api.h("read"))
    assert r.status_code == 403 and "lacks the 'operate' scope" in r.json()["message"]


def test_unknown_reports_files_and_months_are_refused(api: Api, made: dict[str, object]) -> None:
    h = api.h("operate")
    assert api.client.get("/api/v1/reports/monthly-2026-10-zh-v9", headers=h).status_code == 404
    r = api.client.get(f"/api/v1/reports/{made['id']}/files/secrets.txt", headers=h)
    assert r.status_code == 404 and "has no file" in r.json()["message"]
    assert api.client.get(
        f"/api/v1/reports/{made['id']}/files/..%2Fmanifest.json", headers=h
    ).status_code in (
        404,
        422,
    )
    r = api.client.post("/api/v1/reports", json={"month": "2099-01"}, headers=h)
    assert r.status_code == 422 and "outside the years" in r.text
    r = api.client.post("/api/v1/reports", json={"month": "2098-01"}, headers=h)
    assert r.status_code == 422 and "has not begun" in r.text
    assert (
        api.client.post("/api/v1/reports", json={"month": "2026-10", "language": "fr"}, headers=h).status_code
        == 422
    )
    assert len(api.client.get("/api/v1/reports", headers=h).json()) == 1


def test_the_schedule_s_state_is_shown(api: Api) -> None:
    status = api.client.get("/api/v1/reports/schedule", headers=api.h("read")).json()
    assert status["enabled"] is True and status["languages"] == ["zh", "en"] and status["day"] == 1
    assert status["last_error"] is None and status["running"] == []


def test_a_changed_file_is_refused(api: Api, made: dict[str, object]) -> None:
    path = Path(api.platform.settings.data_path) / "reports" / str(made["id"]) / PDF
    path.write_bytes(path.read_bytes().replace(b"%PDF", b"%pdf", 1))
    r = api.client.get(f"/api/v1/reports/{made['id']}/files/{PDF}", headers=api.h("read"))
    assert r.status_code == 409 and r.json()["error"] == "ChecksumError"
    assert "does not match its checksum" in r.json()["message"]
    # made again: a new version, the changed one kept (and still refused)
    again = api.client.post("/api/v1/reports", json={"month": "2026-10"}, headers=api.h("operate")).json()
    assert again["id"] == "monthly-2026-10-zh-v2"
    ids = [e["id"] for e in api.client.get("/api/v1/reports", headers=api.h("read")).json()]
    assert ids == ["monthly-2026-10-zh-v2", "monthly-2026-10-zh-v1"]
    assert (
        api.client.get(f"/api/v1/reports/{again['id']}/files/{PDF}", headers=api.h("read")).status_code == 200
    )

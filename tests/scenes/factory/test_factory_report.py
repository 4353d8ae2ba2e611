"""The factory section of ``GET /api/v1/report`` reads the scene's own settings: with a custom
``plants_file`` it lists that file's plants (it used to list the four demo plants, because the
report hook got no settings and fell back to a process-wide book of the demo file)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.tokens import create_token
from citybrain.scenes.factory.events import FactoryTags
from tests.scenes.factory.factory_testkit import (
    D0,
    H,
    factory_platform,
    factory_settings,
    small_site,
    write_plants,
)


def test_report_lists_the_plants_of_the_configured_file(tmp_path: Path) -> None:
    plants = write_plants(tmp_path, small_site("site-x"), small_site("site-y"))
    s = factory_settings(tmp_path, plants, ingest={"enabled": False})
    p = factory_platform(s)
    read = {"Authorization": f"Bearer {create_token(p.store, 'r', ['read'])[1]}"}
    p.publish(
        [
            FactoryTags(key="site-x/c", ts=D0, source="t", values={"Good": 0.0, "State": "running"}),
            FactoryTags(key="site-x/c", ts=D0 + H, source="t", values={"Good": 1800.0}),
        ]
    )
    p.pipeline.drain()
    with TestClient(create_app(s, platform=p)) as c:
        shown = [x["id"] for x in c.get("/api/v1/scenes/factory/plants", headers=read).json()]
        answer = c.get("/api/v1/report", params={"start": D0, "end": D0 + 8 * H}, headers=read)
    assert answer.status_code == 200, answer.text
    section = answer.json()["sections"]["factory"]
    assert shown == ["site-x", "site-y"]
    assert [r["site"] for r in section["rows"]] == ["site-x", "site-y"]
    assert section["rows"][0]["output"] == 1800 and section["figures"]["plants"] == 2

"""The guide's one-file scene (docs/scenes/writing-a-scene.md) is real: it is at most ~30 lines,
builds, processes readings into a metric, a state and an alert, and serves its table route."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citybrain.api.app import create_app
from citybrain.core.config import load_settings
from citybrain.core.events import encode_ndjson
from citybrain.core.platform import Platform
from citybrain.core.store.base import AlertQuery
from citybrain.core.tokens import create_token

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "scenes" / "writing-a-scene.md"
MIN = 60_000
T0 = 1_763_900_000_000 - 1_763_900_000_000 % MIN


def guide_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "the guide holds exactly one python example"
    return str(blocks[0])


@pytest.fixture(scope="module")
def noise() -> Any:
    mod = types.ModuleType("noise_scene")
    exec(compile(guide_code(), str(GUIDE), "exec"), mod.__dict__)  # our own guide's code
    return mod


def test_the_example_is_one_short_file() -> None:
    code = [ln for ln in guide_code().splitlines() if ln.strip()]
    assert len(code) <= 32, f"{len(code)} non-blank lines"


def test_the_example_scene_is_sound_and_named_once(noise: Any) -> None:
    scene = noise.scene
    assert scene.check() == []
    d = scene.describe()
    assert d["events"] == ["noise.reading"]
    assert [r["name"] for r in d["alert_rules"]] == ["noise.loud"]
    assert list(d["metrics"]) == ["noise.db"]
    assert d["panel"]["widgets"][0] == {
        "kind": "table", "label": {"zh-CN": "各区噪声", "en": "Levels"}, "live": "state.noise",
        "api": "/api/v1/scenes/noise/levels", "columns": ["key", "db"],
    }  # fmt: skip


@pytest.fixture
def client(noise: Any, tmp_path: Path) -> Iterator[tuple[TestClient, Platform, str]]:
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path), "CITYBRAIN_SCENES__NOISE__LOUD_DB": "75"})
    s.bus.partitions = 1
    p = Platform(s, scenes={"noise": noise.scene})
    with TestClient(create_app(s, p)) as c:
        yield c, p, create_token(p.store, "t", ["read", "ingest"])[1]


def test_readings_become_minutes_states_alerts_and_a_served_table(
    noise: Any, client: tuple[TestClient, Platform, str]
) -> None:
    c, p, token = client
    h = {"Authorization": f"Bearer {token}"}
    readings = [
        noise.Reading(key=district, ts=T0 + m * MIN + s * 1000, db=db + s % 3, id=f"{district}-{m}-{s}")
        for m in range(6)
        for s in range(0, 60, 10)
        for district, db in (("360102", 60.0), ("360111", 80.0))
    ]
    body = encode_ndjson(readings)
    assert c.post("/api/v1/events", content=body, headers=h).json()["accepted"] == len(readings)
    p.pipeline.drain()
    series = p.store.metric_series("noise.db", "360111", T0, T0 + 10 * MIN, MIN, "avg")
    assert [round(v, 3) for _, v in series] == [81.0] * 5  # 80 + mean(0,1,2,0,1,2); the 6th minute is open
    rows = c.get("/api/v1/scenes/noise/levels", headers=h).json()
    assert {r["key"]: r["db"] for r in rows} == {"360102": 61.0, "360111": 81.0}
    alerts = p.store.alerts(AlertQuery(scene="noise"))
    assert [(a.rule, a.key, a.status) for a in alerts] == [("noise.loud", "360111", "open")]
    assert c.get("/api/v1/scenes/noise/levels").status_code == 401
    assert "/api/v1/scenes/noise/levels" in c.get("/openapi.json").json()["paths"]


def test_a_settings_typo_names_the_section(noise: Any, tmp_path: Path) -> None:
    from citybrain.core.errors import ConfigError

    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path), "CITYBRAIN_SCENES__NOISE__LOUD_BD": "75"})
    with pytest.raises(ConfigError, match=r"\[scenes\.noise\].*loud_bd"):
        Platform(s, scenes={"noise": noise.scene})

"""The SDK refuses what would otherwise fail late: misnamed parts, panels pointing nowhere, bad
durations; and the built-in scenes on it pass the same checks."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated

import msgspec
import pytest
from fastapi import Depends
from pydantic import BaseModel

from citybrain import sdk
from citybrain.core.config import load_settings
from citybrain.core.errors import ConfigError
from citybrain.core.outputs import Outputs
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.scenes.pulse.events import PulseReport
from citybrain.sdk import panels as sdk_panels

LABEL = {"zh-CN": "标签", "en": "label"}


class Level(BaseModel):
    key: str
    db: float


router = sdk.router("read")


@router.get("/levels")
def levels(rt: Annotated[sdk.Runtime[sdk.SceneSettings], Depends(sdk.runtime)]) -> list[Level]:
    return []


def scene_with(*widgets: sdk.panels.AnyWidget) -> sdk.Scene[sdk.SceneSettings]:
    return sdk.Scene(
        "gauge", title=LABEL, description=LABEL, router=router, metrics={"gauge.db": ""},
        panel=sdk.Panel(id="gauge", title=LABEL, widgets=list(widgets)),
    )  # fmt: skip


def test_a_sound_panel_passes() -> None:
    ok = scene_with(
        sdk.Table(
            label=LABEL, api="/api/v1/scenes/gauge/levels?limit=5", columns=["key", "db"], live="state.gauge"
        ),
        sdk.TimeSeries(label=LABEL, metric="gauge.db", live="metric.gauge.db"),
        sdk.Table(label=LABEL, api="/api/v1/alerts?scene=gauge", columns=["title"], live="alert.gauge"),
    )
    assert ok.check() == []


@pytest.mark.parametrize(
    ("widget", "complaint"),
    [
        (
            sdk.Table(label=LABEL, api="/api/v1/scenes/gauge/level", columns=["key"]),
            "is not a route of the scene",
        ),
        (
            sdk.Table(label=LABEL, api="/api/v1/scenes/gauge/levels", columns=["key", "dB"]),
            "['dB'] are not fields",
        ),
        (
            sdk.Bar(label=LABEL, api="/api/v1/scenes/gauge/levels", x="key", y="db", live="state.noise"),
            "live topic",
        ),
        (sdk.TimeSeries(label=LABEL, metric="gauge.loudness"), "is not declared by the scene"),
    ],
)
def test_a_panel_pointing_nowhere_is_refused_when_the_scene_is_built(
    widget: sdk.panels.AnyWidget, complaint: str
) -> None:
    problems = scene_with(widget).check()
    assert len(problems) == 1 and complaint in problems[0], problems


def test_a_misspelt_widget_key_is_an_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="colums"):
        sdk.panels.panel_from_dict({"id": "g", "title": LABEL, "widgets": [
            {"kind": "table", "label": LABEL, "api": "/x", "colums": ["a"]}]})  # fmt: skip


def test_names_carry_the_scene_prefix_once() -> None:
    with pytest.raises(ConfigError, match=r"must be tagged 'gauge\.<name>'"):
        sdk.Scene("gauge", title=LABEL, description=LABEL, events=[PulseReport])
    with pytest.raises(ConfigError, match=r"must be made with sdk\.rule"):
        sdk.Scene("gauge", title=LABEL, description=LABEL, rules=[sdk.rule("other", "x", "X")])
    with pytest.raises(ConfigError, match="give the short name"):
        sdk.Scene("gauge", title=LABEL, description=LABEL).metric("gauge.db")
    rule = sdk.rule("gauge", "loud", "Loud", for_="2m", clear="90s")
    assert (rule.name, rule.scene, rule.for_ms, rule.clear_ms) == ("gauge.loud", "gauge", 120_000, 90_000)


def test_durations() -> None:
    assert [sdk.duration_ms(t) for t in ("500ms", "90s", "1m", "2h", "1d", 7)] == [
        500, 90_000, 60_000, 7_200_000, 86_400_000, 7]  # fmt: skip
    with pytest.raises(ConfigError, match="write a number and a unit"):
        sdk.duration_ms("1 minute")
    with pytest.raises(ValueError, match="step must divide"):
        sdk.Aggregation("a", PulseReport, sdk.sliding("5m", every="2m"), {"n": sdk.count()})


def test_the_built_in_scenes_are_sound() -> None:
    for name, scene in discover().items():
        assert scene.check() == [], name


def test_a_processor_whose_state_type_changed_continues_from_its_offset(tmp_path: Path) -> None:
    """An upgrade that changes a processor's state must not stop the platform from starting."""
    s = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path)})
    pulse = {"pulse": discover({"pulse"})["pulse"]}
    p = Platform(s, scenes=pulse)
    t = 1_763_900_000_000
    p.publish([PulseReport(key="360102", ts=t + i, category="c", id=f"a{i}") for i in range(3)])
    p.pipeline.drain()
    part = next(pt for pt in range(p.bus.partitions) if p.store.load_checkpoint("pulse.rates", pt))
    pos = p.store.load_checkpoint("pulse.rates", part)
    assert pos is not None
    p.store.commit("pulse.rates", part, pos[0], b"\x81\xa5state\xa3old", Outputs())  # an old state shape
    p.stop()
    p = Platform(s, scenes=pulse)
    p.publish([PulseReport(key="360102", ts=t + 10, category="c", id="b")])
    p.pipeline.drain()
    assert p.pipeline.positions()[("pulse.rates", part)] == pos[0] + 1
    p.stop()


def test_every_widget_kind_a_scene_may_declare_is_one_the_dashboard_draws() -> None:
    """A factory card said 不支持的组件类型:alerts: the SDK let a scene declare a kind the dashboard
    had no drawing for. Every kind of the SDK's widget union is drawn in a card (widgets.js KINDS)
    or taken out of it (NOT_IN_CARD: map layers and their drill-down)."""
    js = (Path(sdk.__file__).parents[1] / "web/static/js/widgets.js").read_text(encoding="utf-8")
    kinds = re.search(r"const KINDS = \{([^}]*)\}", js)
    outside = re.search(r"NOT_IN_CARD = new Set\(\[([^\]]*)\]\)", js)
    assert kinds is not None and outside is not None
    drawn = set(re.findall(r"(\w+):", kinds.group(1))) | set(re.findall(r'"(\w+)"', outside.group(1)))
    declarable = {w.__struct_config__.tag for w in typing.get_args(sdk_panels.AnyWidget)}
    assert declarable and declarable <= drawn, sorted(declarable - drawn)

"""tools/check_scenes.py: passes on the built-in scenes, fails on a scene that breaks the rules."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_scenes", ROOT / "tools" / "check_scenes.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_built_in_scenes_pass() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_scenes.py")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "with problems" in run.stdout and " 0 with problems" in run.stdout


def test_a_broken_scene_fails_with_every_problem_named() -> None:
    tool = load_tool()
    module = "tests.sdk.fixtures.broken_scene"
    problems = tool.check_scene(FIXTURES / "broken_scene", module, docs=FIXTURES / "docs")
    text = "\n".join(problems)
    for expected in (
        "missing settings.py", "missing events.py", "missing processors.py", "missing api.py",
        "missing panel.py", "missing report.py", "missing sim.py", "missing rules.py",
        "module-level SEEN is mutated", "setting `threshold` is not documented",
        "is not a route of the scene", "imports citybrain.core.events: a scene uses citybrain.sdk",
    ):  # fmt: skip
        assert expected in text, f"{expected!r} not reported in:\n{text}"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_scenes.py"), str(FIXTURES / "broken_scene")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 1 and "scene broken_scene:" in run.stdout

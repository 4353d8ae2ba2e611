"""Scene hooks of the command line and of the test helpers: ``citybrain --help`` imports no scene,
scene commands and decoders are found through ``Scene.commands`` / ``Scene.decoders``, and
``server_ports_env`` comes from ``Scene.listen``."""

from __future__ import annotations

import subprocess
import sys

from citybrain.cli import SCENES_GROUP
from citybrain.core.scenes import ENTRY_POINT_GROUP, LISTEN_ANY, discover
from citybrain.testing import server_ports_env

LOADED_SCENES = """
import sys
from citybrain.cli import main
sys.argv = ["citybrain", "--help"]
try:
    main()
except SystemExit:
    pass
print("LOADED", sorted(m for m in sys.modules if m.startswith("citybrain.scenes")))
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from citybrain.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_imports_no_scene_and_names_the_installed_ones() -> None:
    out = subprocess.run([sys.executable, "-c", LOADED_SCENES], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "LOADED []"
    assert "citybrain SCENE --help" in out.stdout
    for name in discover():
        assert name in out.stdout


def test_scene_commands_are_mounted_under_the_scene_name() -> None:
    out = run("traffic", "import-network", "--help")
    assert out.returncode == 0, out.stderr
    assert "traffic import-network [OPTIONS]" in out.stdout and "--areas" in out.stdout


def test_a_scene_without_commands_is_one_line_error() -> None:
    out = run("pulse", "anything")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: scene 'pulse' has no commands"


def test_decode_lists_the_protocols_scenes_declare() -> None:
    declared = sorted(p for s in discover().values() for p in s.decoders)
    assert declared == ["gb32960", "jt808"]
    out = run("decode", "nmea", "00")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: protocol 'nmea' is not available; installed: gb32960, jt808"


def test_the_cli_reads_the_scene_entry_points() -> None:
    assert SCENES_GROUP == ENTRY_POINT_GROUP


def test_every_listen_setting_gets_a_free_port() -> None:
    env = server_ports_env()
    expected = {
        "__".join(["CITYBRAIN_SCENES", scene.name, *path.split(".")]).upper(): mode
        for scene in discover().values()
        for path, mode in scene.listen.items()
    }
    assert set(env) == set(expected) and len(env) >= 3
    for key, mode in expected.items():
        assert env[key] == "0" if mode == LISTEN_ANY else 1024 <= int(env[key]) < 65536
    assert env["CITYBRAIN_SCENES__FACTORY__INGEST__MQTT__EMBEDDED_PORT"] != "0"

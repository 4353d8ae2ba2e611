"""The wheel on its own: built from this tree, installed with pip into a fresh venv (no extras, no
repository on the path), `citybrain run` from an empty directory serves the dashboard, its npm
bundles and the demo road network, and a scale-out setting names the extra it needs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citybrain.scenes.traffic.settings import DEFAULT_NETWORK
from citybrain.testing import free_port, server_ports_env

ROOT = Path(__file__).resolve().parents[2]
VENDOR = "citybrain/web/vendor/"
# what the wheel must carry beside the code: demo data with its source and licence, and every
# third-party browser file with the licence texts of the packages it embeds
SHIPPED = [
    "citybrain/data/networks/stockholm.geojson",
    "citybrain/data/networks/SOURCE.md",
    "citybrain/data/hotspots/stockholm.json",
    "citybrain/data/plants/demo.toml",
    "citybrain/data/paylater/tariffs.toml",
    "citybrain/web/static/index.html",
    "citybrain/core/reports/templates/report.html",  # the monthly report's page and styles
    "citybrain/core/reports/templates/report.css",
    f"{VENDOR}echarts/echarts.esm.min.mjs",
    f"{VENDOR}maplibre-gl/maplibre-gl.mjs",
    f"{VENDOR}maplibre-gl/maplibre-gl-worker.mjs",
    f"{VENDOR}maplibre-gl/maplibre-gl.css",
    f"{VENDOR}licenses/README.md",
    f"{VENDOR}licenses/echarts/LICENSE",
    f"{VENDOR}licenses/echarts/NOTICE",
    f"{VENDOR}licenses/zrender/LICENSE",
    f"{VENDOR}licenses/maplibre-gl/LICENSE.txt",
    f"{VENDOR}swagger-ui-dist/swagger-ui-bundle.js",  # /docs and /redoc offline
    f"{VENDOR}redoc/redoc.standalone.js",
    f"{VENDOR}licenses/redoc/redoc.standalone.js.LICENSE.txt",
]
REFERENCED = re.compile(r'(?:href|src)="(/(?:static|vendor)/[^"]+)"|"(/vendor/[^"]+)"')

pytestmark = pytest.mark.slow  # builds, installs from PyPI (pip's cache) and starts a server: ~1 minute


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is needed to build the wheel: run 'make deps'"
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the venv it is installed in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([_uv(), "build", "--wheel", "-q", "--out-dir", str(tmp / "dist"), str(ROOT)], check=True)
    (wheel,) = (tmp / "dist").glob("citybrain-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    pip = [str(tmp / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, env=_clean_env())
    yield wheel, tmp / "venv"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's venv, path or settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITYBRAIN_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


def test_wheel_carries_demo_data_bundles_and_licences(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [n for n in SHIPPED if n not in names] == []
    assert not any(n.startswith(("tests/", "web/node_modules")) for n in names)


def test_base_install_leaves_extras_out_and_names_them(installed: tuple[Path, Path], tmp_path: Path) -> None:
    _, venv = installed
    python = str(venv / "bin" / "python")
    for module in ("nats", "psycopg", "fastmm", "shapefile"):
        absent = subprocess.run([python, "-c", f"import {module}"], capture_output=True, cwd=tmp_path)
        assert absent.returncode != 0, f"{module} is an extra, not a dependency"
    env = _clean_env(CITYBRAIN_STORE="postgres", CITYBRAIN_DATA_DIR=str(tmp_path / "var"))
    refused = subprocess.run([str(venv / "bin" / "citybrain"), "run"], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=60)  # fmt: skip
    assert refused.returncode != 0
    assert "store 'postgres' needs `pip install 'citybrain[scaleout]'`" in refused.stderr + refused.stdout


def test_citybrain_run_from_an_empty_directory_serves_dashboard_and_demo(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    wheel, venv = installed
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    show = "import citybrain; print(citybrain.__file__)"
    where = subprocess.run([str(venv / "bin" / "python"), "-c", show], capture_output=True, text=True,
                           check=True, cwd=run_dir, env=_clean_env())  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(venv), "the installed package, not this checkout"
    port = free_port()
    env = _clean_env(CITYBRAIN_SERVER__PORT=str(port), **server_ports_env())
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(venv / "bin" / "citybrain"), "run"], cwd=run_dir, env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            _check_served(f"http://127.0.0.1:{port}", run_dir, wheel)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    text = log_path.read_text()
    assert proc.returncode in (0, -signal.SIGTERM), text
    assert "Traceback" not in text


def _check_served(url: str, run_dir: Path, wheel: Path) -> None:
    token_file = run_dir / "var" / "admin.token"  # the default data folder, under the working directory
    deadline = time.monotonic() + 90
    while not token_file.exists() or not _healthy(url):
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.3)
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "importmap" in page.text
    referenced = {a or b for a, b in REFERENCED.findall(page.text)}
    assert {"/vendor/echarts/echarts.esm.min.mjs", "/vendor/maplibre-gl/maplibre-gl.mjs"} <= referenced
    for path in sorted(referenced):
        assert httpx.get(f"{url}{path}").status_code == 200, path
    with zipfile.ZipFile(wheel) as z:
        bundles = [n for n in z.namelist() if n.startswith(VENDOR) and "/licenses/" not in n]
        for name in bundles:
            got = httpx.get(f"{url}/vendor/{name.removeprefix(VENDOR)}")
            assert got.status_code == 200 and got.content == z.read(name), name
            # scripts and styles, and the API reference pages' icon
            assert got.headers["content-type"].startswith(("text/javascript", "text/css", "image/png")), name
    token = token_file.read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    segments = httpx.get(f"{url}/api/v1/scenes/traffic/segments", headers=auth)
    assert segments.status_code == 200
    demo = json.loads(DEFAULT_NETWORK.read_text(encoding="utf-8"))
    assert len(segments.json()["features"]) == len(demo["features"]) == 1222


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False

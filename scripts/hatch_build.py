"""Hatchling build hook: no wheel or sdist without the dashboard's npm files and the built console.

They are copied into src/citybrain/web/vendor/ by scripts/web-deps.sh (``make dist`` runs it) and
ignored by git, so a bare ``uv build`` on a fresh clone would otherwise ship a dashboard without
ECharts and MapLibre. Editable installs (``uv sync``) read the folder in place and are not checked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class VendorFilesPresent(BuildHookInterface):  # type: ignore[misc]  # hatchling is not in the venv
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        script = Path(self.root) / "scripts" / "web_vendor.py"  # the one list of the served files
        spec = importlib.util.spec_from_file_location("web_vendor", script)
        assert spec is not None and spec.loader is not None
        web_vendor = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(web_vendor)
        vendor = Path(self.root) / "src" / "citybrain" / "web" / "vendor"
        needed = [*web_vendor.FILES, "licenses/README.md"]
        missing = [name for name in needed if not (vendor / name).is_file()]
        if missing:
            raise RuntimeError(
                f"the dashboard's npm files are missing from {vendor}: {', '.join(missing)}; "
                "run `make dist` (or scripts/web-deps.sh) before building"
            )
        divisions = Path(self.root) / "src" / "citybrain" / "data" / "divisions"
        if not (divisions / "nanchang.csv").is_file() or not (divisions / "SOURCE.md").is_file():
            raise RuntimeError(
                f"Nanchang's division codes are missing from {divisions}; run `make dist` "
                "(or scripts/divisions.sh) before building"
            )
        console = Path(self.root) / "src" / "citybrain" / "web" / "console"
        if not (console / "index.html").is_file() or not (console / "licenses.md").is_file():
            raise RuntimeError(
                f"the operator console is not built in {console}; run `make dist` "
                "(or scripts/console-build.sh) before building"
            )

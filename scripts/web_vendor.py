"""Copy the dashboard's (and the API reference pages') third-party browser files and their licences
into the package.

``web/node_modules`` (``npm ci``) -> ``src/citybrain/web/vendor/``, which the platform serves under
``/vendor/`` and the wheel ships (git ignores it: nothing from npm is committed). Only the files in
``FILES`` are copied, never the whole folder. The bundles embed their dependencies, so the licence
files of every package in the lock file go along (``licenses/<package>/``), listed with their
versions and SPDX licences in ``licenses/README.md``.

Usage: python3 scripts/web_vendor.py   (run by scripts/web-deps.sh; stdlib only)
"""

from __future__ import annotations

import filecmp
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "web" / "node_modules"
LOCK = ROOT / "web" / "package-lock.json"
OUT = ROOT / "src" / "citybrain" / "web" / "vendor"

# served path under /vendor/ -> path inside node_modules
FILES = {
    "echarts/echarts.esm.min.mjs": "echarts/dist/echarts.esm.min.mjs",
    "maplibre-gl/maplibre-gl.mjs": "maplibre-gl/dist/maplibre-gl.mjs",
    "maplibre-gl/maplibre-gl-worker.mjs": "maplibre-gl/dist/maplibre-gl-worker.mjs",
    "maplibre-gl/maplibre-gl.css": "maplibre-gl/dist/maplibre-gl.css",
    # the API reference pages /docs (Swagger UI) and /redoc (ReDoc), served from here so they work
    # with no network (api/apidocs.py); each bundle's licence file names what it embeds
    "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    # the bundles' own notices of what they embed: beside the other licence texts
    "licenses/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt": (
        "swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt"
    ),
    "swagger-ui-dist/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "swagger-ui-dist/favicon-32x32.png": "swagger-ui-dist/favicon-32x32.png",
    "redoc/redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
    "licenses/redoc/redoc.standalone.js.LICENSE.txt": "redoc/bundles/redoc.standalone.js.LICENSE.txt",
}
# the one remote fetch in a copied bundle, replaced as it is copied: ReDoc's sidebar shows Redocly's
# logo from their CDN (no option turns it off); an empty image makes its own onError hide it and
# leaves the "API docs by Redocly" link. Offline, the fetch would fail and the page's CSP block it.
REWRITES = {
    "redoc/redoc.standalone.js": (("https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,"),),
}
LICENCE_NAMES = ("licen", "notice", "copying")  # file (or folder, e.g. echarts/licenses) name starts


def copy(src: Path, dst: Path) -> bool:
    """Copy when missing or different; True if written."""
    if dst.is_file() and filecmp.cmp(src, dst, shallow=False):
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return True


def rewrite(src: Path, dst: Path, changes: tuple[tuple[str, str], ...]) -> bool:
    """Write ``src`` with ``changes`` made (each must be found: a new version is caught here) when
    ``dst`` differs from that; True if written."""
    text = src.read_text(encoding="utf-8")
    for old, new in changes:
        if old not in text:
            raise SystemExit(f"{src}: {old!r} not found; check REWRITES in {Path(__file__).name}")
        text = text.replace(old, new)
    if dst.is_file() and dst.read_text(encoding="utf-8") == text:
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")
    return True


def licence_files(package: Path) -> list[Path]:
    found: list[Path] = []
    for p in sorted(package.iterdir()):
        if p.name.lower().startswith(LICENCE_NAMES):
            found += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return found


def main() -> int:
    if not (MODULES / "echarts").is_dir():
        print(f"{MODULES} is missing: run scripts/web-deps.sh (npm ci in web/)", file=sys.stderr)
        return 1
    written = sum(
        rewrite(MODULES / rel, OUT / served, REWRITES[served])
        if served in REWRITES
        else copy(MODULES / rel, OUT / served)
        for served, rel in FILES.items()
    )
    lock = json.loads(LOCK.read_text(encoding="utf-8"))["packages"]
    rows = [
        "# Third-party browser code shipped with the dashboard",
        "",
        "Copied from npm by scripts/web_vendor.py: the bundles in the folders beside this one embed",
        "these packages (the Swagger UI and ReDoc bundles also list what they embed, in",
        "`swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt` and",
        "`redoc/redoc.standalone.js.LICENSE.txt` here).",
        "",
        "| package | version | licence | licence files |",
        "|---|---|---|---|",
    ]
    for key, meta in sorted(lock.items()):
        if not key.startswith("node_modules/") or meta.get("dev"):
            continue
        name = key.removeprefix("node_modules/")
        package = MODULES / name
        texts = []
        for f in licence_files(package):
            rel = f.relative_to(package)
            written += copy(f, OUT / "licenses" / name / rel)
            texts.append(f"`licenses/{name}/{rel}`")
        # a package without a licence file (murmurhash-js) still states its licence in package.json
        files = ", ".join(texts) or "none in the package (licence per its package.json)"
        rows.append(f"| {name} | {meta.get('version', '')} | {meta.get('license', '')} | {files} |")
    index = OUT / "licenses" / "README.md"
    text = "\n".join(rows) + "\n"
    if not index.is_file() or index.read_text(encoding="utf-8") != text:
        index.write_text(text, encoding="utf-8")
        written += 1
    if written:
        print(f"dashboard vendor files: {written} written to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

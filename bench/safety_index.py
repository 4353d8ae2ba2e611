"""The 平安指数 and the monthly report for 20 districts (issue 17: generation for 20 districts and all
scenes, target < 30 s): the index of data/composite/safety.toml (six dimensions, 19 indicators)
over 20 districts of synthetic values, its Monte Carlo robustness (1,000 runs), and the monthly
report of seven scene sections of 20 district rows each, rendered to HTML and PDF in Chinese and
English. The sections are built here as the scenes' report functions return them, so reading the
store (``Platform.report``) is not in these figures. Prints numbers only; nothing asserts a time.

python bench/safety_index.py
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from citybrain.core.composite import compute, load_spec, robustness
from citybrain.core.composite.model import indicators
from citybrain.core.reports import monthly
from citybrain.data import path

DISTRICTS = [f"3601{i:02d}" for i in range(1, 21)]
MONTH = "2026-11"
SCENES = ["pulse", "traffic", "nev", "factory", "civic", "welfare", "paylater"]


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    """The median seconds of ``repeat`` calls, and the last result."""
    took, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        took.append(time.perf_counter() - t0)
    return statistics.median(took), out


def section(scene: str, rng: random.Random) -> dict[str, Any]:
    """A scene's report section as the scenes return it: a title, a table of districts, figures."""
    rows = [{"district": d, "name": f"区{d[-2:]}", "events": rng.randint(0, 5_000),
             "alerts": rng.randint(0, 40), "share": round(rng.random(), 4)} for d in DISTRICTS]  # fmt: skip
    return {
        "title": {"zh-CN": f"场景 {scene}", "en": f"Scene {scene}"},
        "columns": ["district", "name", "events", "alerts", "share"],
        "titles": {"district": "区划代码 / district code", "name": "区县 / district",
                   "events": "事件数 / events", "alerts": "告警数 / alerts", "share": "占比 / share"},
        "rows": rows,
        "figures": {"events": sum(r["events"] for r in rows), "alerts": sum(r["alerts"] for r in rows)},
    }  # fmt: skip


def main() -> None:
    machine = platform.processor() or platform.machine()
    print(f"{os.cpu_count()} cores ({machine}), Python {platform.python_version()}")
    rng = random.Random(17)
    spec = load_spec(path("composite/safety.toml"))
    ids = [i.id for _, i in indicators(spec)]
    data = {d: {i: rng.uniform(0, 100) for i in ids} for d in DISTRICTS}
    per = {d: {den.id: rng.uniform(20, 150) for den in spec.denominators} for d in DISTRICTS}  # residents
    took, result = timed(lambda: compute(spec, data, per), 20)
    print(f"  index: {len(DISTRICTS)} districts x {len(ids)} indicators, "
          f"compute: {1000 * took:.1f} ms (median of 20)")  # fmt: skip
    took_r, rob = timed(lambda: robustness(spec, data, per, runs=1_000, seed=1), 3)
    print(f"  robustness: 1,000 Monte Carlo runs: {took_r:.2f} s (median of 3); "
          f"{len(rob.influence)} choices ranked by influence")  # fmt: skip
    this = {s: section(s, rng) for s in SCENES}
    before = {s: section(s, rng) for s in SCENES}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = monthly.build(MONTH, this, before, int(time.time() * 1000))
        built = time.perf_counter() - t0
        times = {}
        for lang in ("zh", "en"):
            t1 = time.perf_counter()
            written = monthly.write(report, Path(tmp) / lang, lang)
            times[lang] = time.perf_counter() - t1
            size = written.pdf.stat().st_size
        total = took + took_r + built + sum(times.values())
    print(f"  report: {len(SCENES)} sections of {len(DISTRICTS)} district rows, "
          f"typed in {1000 * built:.0f} ms; "
          f"HTML + PDF zh {times['zh']:.2f} s (the first, with the fonts and matplotlib loaded), "
          f"en {times['en']:.2f} s; last PDF {size / 1e3:.0f} kB")  # fmt: skip
    print(f"  index + robustness + both renderings: **{total:.1f} s** (target < 30 s); "
          f"best district {min(result.units.values(), key=lambda u: u.rank).score:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""`make bench`: run every benchmark script in turn and print its figures (nothing asserts time).

python bench/run_all.py [name ...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "ingest",
    "alert_latency",
    "jt808_decode",
    "gb32960_decode",
    "gb32960_peer",
    "nev_gateway",
    "traffic_gateway",
    "gateway_flood",
    "mapmatch_speed",
    "mapmatch_accuracy",
    "factory_mqtt",
    "scaleout",
    "dashboard",
    "workcal",
    "cases",
    "paylater",
    "safety_index",
]


def main() -> int:
    wanted = sys.argv[1:] or ORDER
    failed = []
    for name in wanted:
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

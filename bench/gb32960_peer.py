"""GB/T 32960 decode speed against the PyPI peer, on the same real frames, in one run.

    python bench/gb32960_peer.py [--seconds 3]

The PyPI packages that claim to parse GB/T 32960: `gb32960` 0.1.0 (MIT) is an empty placeholder
(its only module holds a version string), so there is nothing to compare; `rtm-con` (GPL-2.0,
construct-based) parses both editions. We never add rtm-con to our dependencies (licence): this
script installs it into a throwaway virtual environment under the system temp folder from PyPI,
and runs it there in a child process on the same frames. Frames: real captures from
../shared/testdata/frames/gb32960.tsv (GB-SS-01: 2016 real-time report with all blocks).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TSV = REPO.parent / "shared" / "testdata" / "frames" / "gb32960.tsv"
FRAMES = ["GB-SS-01", "GB-SS-02"]

TIMER = """
import sys, time
frames = [bytes.fromhex(h) for h in sys.argv[2:]]
seconds = float(sys.argv[1])
{setup}
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    for f in frames:
        decode(f)
    n += len(frames)
print(n / (time.perf_counter() - t0))
"""
OURS = "from citybrain.protocols.gb32960 import decode_frame as decode"
PEER = "from rtm_con import msg\ndecode = msg.parse"


def frames() -> list[str]:
    rows = {ln.split("\t")[0]: ln.split("\t")[6] for ln in TSV.read_text().splitlines()[1:]}
    return [rows[i] for i in FRAMES]


def peer_python() -> Path:
    venv = Path(tempfile.gettempdir()) / "citybrain-bench-rtm-con"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "rtm-con==1.0.4", "openpyxl"], check=True)
    return py


def rate(python: str | Path, setup: str, hexes: list[str], seconds: float) -> float:
    code = TIMER.format(setup=setup)
    out = subprocess.run(
        [str(python), "-c", code, str(seconds), *hexes], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    hexes = frames()
    ours = rate(sys.executable, OURS, hexes, a.seconds)
    try:
        peer = rate(peer_python(), PEER, hexes, a.seconds)
    except (subprocess.CalledProcessError, OSError) as err:
        print(f"citybrain: {ours:,.0f} frames/s; rtm-con could not be installed or run here: {err}")
        return
    print(f"frames: {', '.join(FRAMES)} (real captures; 2016 real-time report with all blocks + login)")
    print(f"citybrain decode: {ours:,.0f} frames/s per core")
    print(f"rtm-con 1.0.4 decode: {peer:,.0f} frames/s per core")
    print(f"ratio citybrain / rtm-con: {ours / peer:.1f}x")


if __name__ == "__main__":
    main()

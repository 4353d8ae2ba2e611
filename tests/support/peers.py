"""Third-party protocol implementations as test peers (tests/interop/peers/): each peer script runs
in its own environment (``.interop/``, built by ``make interop-peers`` from the lock file there) as
a separate process, talks to a real citybrain gateway over a real socket and prints one JSON object
per line of what it sent and received. Under CI (``CI`` set) a missing environment fails the test
instead of skipping it."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".interop" / "bin" / "python"
SCRIPTS = ROOT / "tests" / "interop" / "peers"


def require_peers() -> None:
    if PYTHON.exists():
        return
    why = f"the third-party peers are not installed ({PYTHON}): run `make interop-peers`"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


async def run_peer(script: str, *args: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Run ``tests/interop/peers/<script>.py args...``; its JSON lines, or an AssertionError with its
    output when it fails or outlives ``timeout``."""
    require_peers()
    proc = await asyncio.create_subprocess_exec(
        str(PYTHON), str(SCRIPTS / f"{script}.py"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(
            f"peer {script} ran over {timeout} s; stdout:\n{out.decode(errors='replace')}\n"
            f"stderr:\n{err.decode(errors='replace')}"
        ) from None
    if proc.returncode != 0:
        raise AssertionError(
            f"peer {script} exited {proc.returncode}; stderr:\n{err.decode(errors='replace')}"
        )
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]

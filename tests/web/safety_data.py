"""A platform with the safety scene and its history for the browser tests: the simulator's
backfill (13 closed months and the running one, the departments' statistics posted through the
aggregation API, each month computed), sent as in `make run` with a token that may ingest and
operate (the test platform's simulators hold only an ingest token, which may not recompute)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from citybrain.core.tokens import create_token
from citybrain.scenes.safety import sim
from citybrain.sdk import now_ms
from citybrain.sim.base import IngestClient
from tests.web import platform_server

# fewer Monte Carlo runs than the default keep the 14 computations quick on a small machine
SETTINGS = {"safety": {"robustness_runs": 100, "recompute_every_min": 0}}


def start(data_dir: Path) -> platform_server.Running:
    """The platform (no simulators) with 14 months of the index computed."""
    run = platform_server.start(data_dir, scene_settings=SETTINGS, simulate=False, installed={"safety"})
    token = create_token(run.platform.store, "safety-backfill", ["ingest", "operate"])[1]
    answers: list[dict[str, Any]] = []

    async def backfill() -> None:
        client = IngestClient(run.url, token)
        try:
            cfg = run.platform.runtime("safety").settings
            answers.extend(await sim.backfill(client, cfg, 13, 2026, now_ms()))
        finally:
            await client.aclose()

    # a thread of its own: Playwright's sync API may already run an event loop on this one
    failed: list[BaseException] = []
    worker = threading.Thread(target=lambda: _run(backfill, failed), name="safety-backfill")
    worker.start()
    worker.join(timeout=300)
    if failed or len(answers) != 14 or any(a.get("error") for a in answers):
        run.stop()
        raise RuntimeError(f"the safety backfill failed: {failed or [a.get('error') for a in answers]}")
    return run


def _run(job: Any, failed: list[BaseException]) -> None:
    try:
        asyncio.run(job())
    except BaseException as err:  # handed to the test's thread
        failed.append(err)

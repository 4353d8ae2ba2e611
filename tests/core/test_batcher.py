"""The batching publisher: many small submissions become few durable appends; errors reach callers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from citybrain.core.batcher import BatchPublisher
from citybrain.core.config import load_settings
from citybrain.core.errors import BackpressureError
from citybrain.core.events import Event
from citybrain.core.platform import Platform
from citybrain.scenes.pulse.events import PulseReport

TS = 1_763_900_000_000


def test_submissions_share_appends_and_are_durable_on_return(tmp_path: Path) -> None:
    p = Platform(load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp_path)}))

    async def main() -> int:
        b = BatchPublisher(p.publish, max_delay=0.02)
        await asyncio.gather(*[
            b.submit([PulseReport(key=f"d{i % 5}", ts=TS + i, category="x", id=f"x{i}")]) for i in range(500)
        ])  # fmt: skip
        assert p.store.count_events() == 500  # every awaited submit is in the store
        await b.stop()
        return b.batches

    batches = asyncio.run(main())
    assert batches < 50
    p.stop()


def test_publish_errors_reach_every_waiting_submitter() -> None:
    def refuse(events: list[Event]) -> None:
        raise BackpressureError("full")

    async def main() -> None:
        b = BatchPublisher(refuse)
        results = await asyncio.gather(
            *[b.submit([PulseReport(key="k", ts=TS, category="x")]) for _ in range(3)], return_exceptions=True
        )
        assert all(isinstance(r, BackpressureError) for r in results)
        await b.stop()

    asyncio.run(main())


def test_empty_submit_is_a_no_op() -> None:
    async def main() -> None:
        b = BatchPublisher(lambda ev: pytest.fail("must not publish"))
        await b.submit([])

    asyncio.run(main())

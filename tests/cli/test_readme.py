"""The README's API example, as a new user pastes it: its event body expands (bash) to events the
platform decodes, stamped now. It once carried a year-old time, so the event was stored as late
and nothing changed on screen (issue 18)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from citybrain.core.clock import now_ms
from citybrain.core.events import REGISTRY
from citybrain.scenes.pulse import events as _pulse_events  # noqa: F401 - registers pulse.report

README = Path(__file__).resolve().parents[2] / "README.md"
BODY = re.compile(r'--data-binary ("(?:[^"\\]|\\.)*"|\'[^\']*\')')


def test_the_readme_ingest_example_sends_events_of_now() -> None:
    bodies = BODY.findall(README.read_text(encoding="utf-8"))
    assert bodies, "the README shows how to send an event"
    for quoted in bodies:
        body = subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True).stdout
        batch = REGISTRY.decode_ndjson(body)
        assert batch.events and not batch.problems, (quoted, batch.problems)
        for ev in batch.events:
            assert abs(ev.ts - now_ms()) < 120_000, f"{quoted}: ts {ev.ts} is not now"

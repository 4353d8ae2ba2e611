"""City pulse events: reports counted per district (hotline calls, parking, clinic visits...)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from citybrain.sdk import Event


class PulseReport(Event, tag="pulse.report"):
    """Something happened in a district. ``key`` is the district's administrative code (e.g.
    ``360102``); ``category`` says what kind of report it is; ``count`` lets a source report several
    at once."""

    scene: ClassVar[str] = "pulse"
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="kind of report")]
    count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000, description="reports represented")] = 1
    address: Annotated[str, msgspec.Meta(max_length=256, description="where, as reported")] = ""

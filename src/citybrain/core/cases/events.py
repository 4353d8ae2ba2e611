"""The event every case change puts on the bus: KPIs, the live feed and reports are processors."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from citybrain.core.events import Event, register


@register
class CaseChanged(Event, tag="cases.changed"):
    """A case was opened or moved (``key``: the case id; ``id``: "<case id>:v<version>", so a
    change published twice is stored once). Carries what KPIs group and judge by."""

    internal: ClassVar[bool] = True  # only the case engine writes it: processors act on it

    type: str
    action: str
    from_state: str
    to_state: str
    version: Annotated[int, msgspec.Meta(ge=1)]
    actor: str = ""
    department: str = ""
    area: str = ""
    category: str = ""
    opened_ts: int = 0
    due_ts: int | None = None
    step_due_ts: int | None = None
    closed_ts: int | None = None
    public: str = "open"  # the new state's public status
    paused: bool = False  # the new state is a pause
    final: bool = False
    assumed: bool = False
    fields: dict[str, Any] = msgspec.field(default_factory=dict)  # what the change carried

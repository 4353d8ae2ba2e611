"""Factory events. Machine-keyed events use the machine's plant-wide id ``<site>/<machine>`` as
``key`` so one machine's history is in order in one bus partition; genealogy is keyed by the unit
or lot it produced."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from citybrain.sdk import Event

TagValue = int | float | bool | str  # an integer stays one (Sparkplug Int64/UInt64 are exact)
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class FactoryTags(Event, tag="factory.tags"):
    """Tag values of one machine at one time (from a JSON message or a Sparkplug metric set).
    ``birth``: the values come from a Sparkplug BIRTH (a full snapshot, not a change)."""

    scene: ClassVar[str] = "factory"
    values: dict[str, TagValue]
    units: dict[str, str] = msgspec.field(default_factory=dict)
    birth: bool = False


class FactoryLink(Event, tag="factory.link"):
    """A machine (or an edge node's devices) came online or went offline: Sparkplug BIRTH/DEATH,
    a sequence gap that made its values stale until the rebirth, or an MQTT session loss."""

    scene: ClassVar[str] = "factory"
    online: bool
    reason: Annotated[str, msgspec.Meta(max_length=256)] = ""


class FactoryReject(Event, tag="factory.reject"):
    """``count`` rejects of a machine with their reason (the reject counter says how many; this says why)."""

    scene: ClassVar[str] = "factory"
    reason: Name
    count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1


class MaterialInput(msgspec.Struct, forbid_unknown_fields=True):
    lot: Name
    material: str = ""
    qty: float = 0.0
    unit: str = ""


class FactoryTrace(Event, tag="factory.trace"):
    """One production step in the genealogy: the unit or lot ``key`` was made (or worked on) at
    ``machine`` from ``inputs`` by ``operator`` with ``params`` between ``start_ts`` and ``ts``."""

    scene: ClassVar[str] = "factory"
    kind_of_unit: Annotated[str, msgspec.Meta(max_length=32)] = "unit"  # unit | lot | pallet
    site: str = ""
    line: str = ""
    machine: str = ""
    operator: str = ""
    start_ts: int = 0
    inputs: list[MaterialInput] = msgspec.field(default_factory=list)
    params: dict[str, TagValue] = msgspec.field(default_factory=dict)
    result: Annotated[str, msgspec.Meta(max_length=32)] = "good"  # good | reject | rework
    reason: str = ""


class SpbBirth(Event, tag="factory.spb_birth"):
    """The alias table of a Sparkplug edge node or device as of its BIRTH; kept so that a restarted
    host can still resolve aliases of DATA messages the broker redelivers. Key: the Sparkplug path
    ``group/node[/device]``."""

    scene: ClassVar[str] = "factory"
    bd_seq: int = -1
    aliases: dict[str, str] = msgspec.field(default_factory=dict)  # alias (as text) -> metric name
    datatypes: dict[str, int] = msgspec.field(default_factory=dict)  # metric name -> datatype


EVENTS: list[type[Event]] = [FactoryTags, FactoryLink, FactoryReject, FactoryTrace, SpbBirth]

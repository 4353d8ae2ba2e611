"""Sparkplug B topic names: ``spBv1.0/<group>/<type>/<node>[/<device>]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from citybrain.core.errors import DecodeError

MessageType = Literal["NBIRTH", "NDEATH", "NDATA", "NCMD", "DBIRTH", "DDEATH", "DDATA", "DCMD"]
_NODE_TYPES = {"NBIRTH", "NDEATH", "NDATA", "NCMD"}
_DEVICE_TYPES = {"DBIRTH", "DDEATH", "DDATA", "DCMD"}
NAMESPACE = "spBv1.0"


@dataclass(frozen=True)
class SpbTopic:
    group: str
    type: MessageType
    node: str
    device: str = ""


def parse_topic(topic: str) -> SpbTopic:
    """A device id never comes with N* types; anything else raises :class:`DecodeError`."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != NAMESPACE:
        raise DecodeError(f"not a Sparkplug B topic: {topic!r}")
    _, group, mtype, node, *rest = parts
    if mtype in _NODE_TYPES and not rest:
        return SpbTopic(group, cast(MessageType, mtype), node)
    if mtype in _DEVICE_TYPES and len(rest) == 1 and rest[0]:
        return SpbTopic(group, cast(MessageType, mtype), node, rest[0])
    raise DecodeError(f"bad Sparkplug B topic {topic!r}: type {mtype!r} with {len(rest)} device level(s)")


def topic_for(t: SpbTopic) -> str:
    base = f"{NAMESPACE}/{t.group}/{t.type}/{t.node}"
    return f"{base}/{t.device}" if t.device else base

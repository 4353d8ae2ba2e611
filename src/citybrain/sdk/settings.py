"""A scene's settings: a ``msgspec.Struct`` subclass of :class:`SceneSettings`, validated once at start.

The ``[scenes.<name>]`` section of the settings file (or ``CITYBRAIN_SCENES__<NAME>__<KEY>``) is
converted to the scene's settings type when the platform starts; a typo or a wrong type is a
``ConfigError`` naming the section and the field, never a raw msgspec error in the middle of a run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from citybrain.core.errors import ConfigError


class SceneSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every scene's settings (unknown keys are refused: they are typos)."""


S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r" - at `\$\.?([^`]*)`")


def load_settings(settings_type: type[S], section: Mapping[str, Any], scene: str) -> S:
    """``section`` as ``settings_type``; a ConfigError naming ``[scenes.<scene>]`` and the field."""
    try:
        return msgspec.convert(dict(section), settings_type, strict=False)
    except msgspec.ValidationError as err:
        text = str(err)
        where = _AT.search(text)
        field = f".{where.group(1)}" if where and where.group(1) else ""
        reason = _AT.sub("", text)
        raise ConfigError(f"settings [scenes.{scene}]{field}: {reason}") from err


_UNITS = {"ms": 1, "s": 1_000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)\s*$")


def duration_ms(text: str | int) -> int:
    """``"90s"``, ``"1m"``, ``"2h"``, ``"500ms"`` or milliseconds as an int -> milliseconds."""
    if isinstance(text, int):
        return text
    m = _DURATION.match(text)
    if m is None:
        raise ConfigError(f"duration {text!r}: write a number and a unit (ms, s, m, h, d), e.g. '90s'")
    return int(float(m.group(1)) * _UNITS[m.group(2)])

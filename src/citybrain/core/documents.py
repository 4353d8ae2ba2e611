"""Documents people write (an organisation, a plant model): a TOML or JSON file, by its suffix,
validated into a typed value. Every failure is a ConfigError naming the file and what is wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from citybrain.core.errors import ConfigError

T = TypeVar("T")


def read_document(path: str | Path, what: str, typ: type[T]) -> T:
    """``path`` (``.toml``, else JSON) as a ``typ``; ``what`` names it in errors ("plant model")."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file {p} does not exist") from None
    try:
        raw: Any = tomllib.loads(text) if p.suffix == ".toml" else msgspec.json.decode(text)
        return msgspec.convert(raw, typ)
    except (tomllib.TOMLDecodeError, msgspec.DecodeError, msgspec.ValidationError) as err:
        raise ConfigError(f"{what} file {p}: {err}") from None

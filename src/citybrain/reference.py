"""Generated reference pages: every setting (docs/settings.md) and every panel widget
(docs/panels.md), from the code itself: the settings Structs and their field comments, the widget
Structs. ``citybrain docs settings|panels`` print them; a test fails when the files drift."""

from __future__ import annotations

import inspect
import io
import tokenize
from typing import Any

import msgspec

from citybrain.core.config import Settings
from citybrain.core.scenes import discover
from citybrain.sdk import Scene, panels


def field_comments(cls: type) -> dict[str, str]:
    """``name: type = default  # comment`` -> {name: comment} from the sources of the class and its
    bases (a subclass that overrides a field's default says so in its own comment)."""
    out: dict[str, str] = {}
    for base in reversed(cls.__mro__[1:]):
        if base.__module__ != "builtins" and isinstance(base, type) and issubclass(base, msgspec.Struct):
            out.update(_own_comments(base))
    return {**out, **_own_comments(cls)}


def _own_comments(cls: type) -> dict[str, str]:
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    last_name, last_row = "", -1
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and last_row != tok.start[0]:
            last_name, last_row = tok.string, tok.start[0]
        elif tok.type == tokenize.COMMENT and tok.start[0] == last_row and last_name:
            out[last_name] = tok.string.lstrip("# ").strip()
    return out


def _value(f: msgspec.structs.FieldInfo, owner: Any) -> Any:
    """The field's default: read from ``owner`` (the enclosing default instance, whose factory may
    set other values than the nested type's own defaults) when there is one."""
    if owner is not None:
        return getattr(owner, f.name)
    return f.default if f.default is not msgspec.NODEFAULT else f.default_factory()


def _default(f: msgspec.structs.FieldInfo, owner: Any = None) -> str:
    if f.required and owner is None:
        return "(required)"
    value = _value(f, owner)
    if isinstance(value, msgspec.Struct):
        return ""
    return f"`{value!r}`" if value not in ("", [], {}) else "empty"


def _type(t: Any) -> str:
    return _cell(getattr(t, "__name__", None) or str(t).replace("typing.", ""))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rows(cls: type[msgspec.Struct], prefix: str, owner: Any = None) -> list[str]:
    notes = field_comments(cls)
    rows: list[str] = []
    nested: list[tuple[str, type[msgspec.Struct], Any]] = []
    for f in msgspec.structs.fields(cls):
        if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct):
            inner = None if f.required and owner is None else _value(f, owner)
            nested.append((f"{prefix}{f.name}.", f.type, inner))
            continue
        note = _cell(notes.get(f.name, ""))
        rows.append(f"| `{prefix}{f.name}` | {_type(f.type)} | {_default(f, owner)} | {note} |")
    for sub, typ, inner in nested:
        rows += _rows(typ, sub, inner)
    return rows


HEAD = ["| setting | type | default | meaning |", "|---|---|---|---|"]


def settings_markdown() -> str:
    lines = [
        "# Settings reference",
        "",
        "Generated from the code by `citybrain docs settings` (a test fails when this file drifts).",
        "Settings come from a TOML file (`CITYBRAIN_CONFIG` or `--config`), overridden by environment",
        "variables `CITYBRAIN_<SECTION>__<KEY>` (e.g. `CITYBRAIN_SERVER__PORT=9000`).",
        "",
        "## Platform",
        "",
        *HEAD,
        *_rows(Settings, ""),
        "",
    ]
    for name, scene in sorted(discover().items()):
        if not isinstance(scene, Scene):
            lines += [f"## Scene `{name}` (`[scenes.{name}]`)", "", f"See docs/scenes/{name}.md.", ""]
            continue
        lines += [f"## Scene `{name}` (`[scenes.{name}]`)", "", *HEAD, *_rows(scene.settings_type, ""), ""]
    return "\n".join(lines)


def panels_markdown() -> str:
    lines = [
        "# Panel widgets reference",
        "",
        "Generated from the code by `citybrain docs panels` (a test fails when this file drifts).",
        "A scene's panel is a `sdk.Panel`; each widget below is a `sdk.<Name>`, checked when the scene",
        "is built (its `api` must be a route of the scene, the fields it reads fields of that route's",
        "answer, its `live` topic one the scene publishes).",
        "",
    ]
    for cls in (panels.Panel, *panels.AnyWidget.__args__):
        tag = cls.__struct_config__.tag
        title = f"`sdk.{cls.__name__}`" + (f" (kind `{tag}`)" if isinstance(tag, str) else "")
        lines += [
            f"## {title}",
            "",
            (cls.__doc__ or "").strip(),
            "",
            "| field | type | default |",
            "|---|---|---|",
        ]
        lines += [f"| `{f.name}` | {_type(f.type)} | {_default(f)} |" for f in msgspec.structs.fields(cls)]
        lines.append("")
    return "\n".join(lines)

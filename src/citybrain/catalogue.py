"""The event catalogue (docs/events.md), generated from the registered event kinds."""

from __future__ import annotations

from typing import Any

import msgspec

from citybrain.core.events import REGISTRY, Event

BASE_FIELDS = {f.name for f in msgspec.structs.fields(Event)}


def _type_name(t: Any) -> str:
    info: Any = msgspec.inspect.type_info(t)
    doc = ""
    if isinstance(info, msgspec.inspect.Metadata):
        doc = str((info.extra_json_schema or {}).get("description", ""))
        info = info.type
    name = type(info).__name__.replace("Type", "").lower()
    extra = []
    for attr, label in (("ge", ">="), ("le", "<="), ("min_length", "len >="), ("max_length", "len <=")):
        v = getattr(info, attr, None)
        if v is not None:
            extra.append(f"{label} {v}")
    text = name + (f" ({', '.join(extra)})" if extra else "")
    return f"{text}: {doc}" if doc else text


def catalogue_markdown() -> str:
    lines = [
        "# Event catalogue",
        "",
        "Generated from the code by `citybrain docs events` (a test fails when this file drifts).",
        "",
        "Every event has these common fields:",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
        "| kind | string | the event kind (below) |",
        "| key | string (len 1..128) | entity key; the bus partitions by it |",
        "| ts | int (epoch ms, 2000..2100) | event time, UTC |",
        "| source | string (len <= 128) | where it came from |",
        "| id | string (len <= 128) | stable id for idempotency; a content hash when omitted |",
        "| ingest_ts | int | set by the platform when accepted |",
        "",
    ]
    for name, cls in sorted(REGISTRY.kinds().items()):
        lines += [
            f"## `{name}` (scene: {cls.scene})",
            "",
            (cls.__doc__ or "").strip().replace("\n    ", "\n"),
            "",
        ]
        lines += ["| field | type | required | default |", "|---|---|---|---|"]
        for f in msgspec.structs.fields(cls):
            if f.name in BASE_FIELDS:
                continue
            required = f.required
            default = "" if required else repr(f.default)
            lines.append(f"| {f.name} | {_type_name(f.type)} | {'yes' if required else 'no'} | {default} |")
        lines.append("")
    return "\n".join(lines)

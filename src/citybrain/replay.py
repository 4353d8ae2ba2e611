"""Replay a file of events (NDJSON or CSV) into a server through the real ingest API.

Resumable: after each acknowledged batch the number of the last line sent is saved in
``FILE.progress``; a new run continues after it. Re-sending is harmless anyway, since events
carry stable ids. CSV files have a header with ``kind,key,ts`` and the kind's fields; values are
converted to the kind's types here, so a bad row is reported with its line number.

Every rejected line, refused here (CSV) or by the server (its per-line errors mapped back to the
file's line numbers), is kept in the summary's ``problems`` (the first ``KEEP``, in line order;
``problems_unlisted`` counts the rest, including those the server did not itemise), so that
``citybrain replay`` can print them and exit non-zero.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from citybrain.core.errors import CitybrainError
from citybrain.core.events import REGISTRY, to_json
from citybrain.core.scenes import discover

Line = tuple[int, bytes]
KEEP = 100  # rejected lines kept with their reasons


class Progress_(msgspec.Struct):
    size: int
    line: int


def _ndjson(path: Path) -> Iterator[Line]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if raw.strip():
                yield n, raw.rstrip(b"\r\n")


def _csv(path: Path, problems: list[dict[str, Any]]) -> Iterator[Line]:
    discover()
    kinds = REGISTRY.kinds()
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"kind", "key", "ts"} - set(reader.fieldnames or [])
        if missing:
            raise CitybrainError(f"{path}: the CSV header lacks {', '.join(sorted(missing))}")
        for row in reader:
            line = reader.line_num
            kind = kinds.get(row.get("kind") or "")
            if kind is None:
                problems.append(
                    {"line": line, "field": "kind", "reason": f"unknown event kind {row.get('kind')!r}"}
                )
                continue
            fields = {k: v for k, v in row.items() if k != "kind" and v not in (None, "")}
            try:
                yield line, to_json(msgspec.convert(fields, kind, strict=False))
            except msgspec.ValidationError as err:
                problems.append({"line": line, "field": "", "reason": str(err)})


async def replay_file(path: Path, url: str, token: str, batch: int, restart: bool) -> dict[str, Any]:
    if not path.exists():
        raise CitybrainError(f"{path} does not exist")
    progress_path = path.with_name(path.name + ".progress")
    size = path.stat().st_size
    done = 0
    if progress_path.exists() and not restart:
        saved = msgspec.json.decode(progress_path.read_bytes(), type=Progress_)
        done = saved.line if saved.size == size else 0
    local: list[dict[str, Any]] = []
    lines = _csv(path, local) if path.suffix.lower() == ".csv" else _ndjson(path)
    summary: dict[str, Any] = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 0,
        "first_line": done + 1,
        "last_line": done,
        "problems": [],  # {"line", "field", "reason"} of rejected lines (the server's mapped to the file's)
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), transient=True) as bar:  # fmt: skip
            task = bar.add_task(f"replay {path.name}", total=size)
            chunk: list[Line] = []
            for item in lines:
                if item[0] <= done:
                    continue
                chunk.append(item)
                if len(chunk) >= batch:
                    await _send(client, chunk, summary, progress_path, size)
                    bar.update(
                        task, completed=min(size, size * chunk[-1][0] // max(1, _line_count_hint(path)))
                    )
                    chunk = []
            if chunk:
                await _send(client, chunk, summary, progress_path, size)
            bar.update(task, completed=size)
    summary["rejected"] += len(local)
    problems = sorted([*summary["problems"], *local], key=lambda p: int(p["line"]))
    summary["problems"] = problems[:KEEP]
    summary["problems_unlisted"] = summary["rejected"] - len(summary["problems"])
    return summary


def _line_count_hint(path: Path, _cache: dict[Path, int] = {}) -> int:  # noqa: B006 - tiny memo
    if path not in _cache:
        with path.open("rb") as f:
            _cache[path] = sum(1 for _ in f)
    return _cache[path]


async def _send(
    client: httpx.AsyncClient, chunk: list[Line], summary: dict[str, Any], progress: Path, size: int
) -> None:
    import asyncio

    body = b"\n".join(raw for _, raw in chunk)
    delay = 0.5
    for _ in range(10):
        try:
            r = await client.post("/api/v1/events", content=body)
        except httpx.TransportError as err:
            raise CitybrainError(f"cannot reach {client.base_url}: {err}") from err
        if r.status_code == 429 or r.status_code >= 500:
            await asyncio.sleep(float(r.headers.get("Retry-After", delay)))
            delay = min(delay * 2, 10)
            continue
        if r.status_code not in (200, 422):
            raise CitybrainError(
                f"server refused lines {chunk[0][0]}..{chunk[-1][0]}: HTTP {r.status_code} {r.text[:300]}"
            )
        res = r.json()
        summary["accepted"] += res["accepted"]
        summary["duplicates"] += res["duplicates"]
        summary["rejected"] += res["rejected"]
        for p in res.get("errors", []):  # "line" counts the lines of this body from 1
            at = int(p.get("line", 0))
            line = chunk[at - 1][0] if 1 <= at <= len(chunk) else at
            if len(summary["problems"]) < KEEP:
                summary["problems"].append({"line": line, "field": p.get("field", ""), "reason": p["reason"]})
        summary["last_line"] = chunk[-1][0]
        progress.write_bytes(msgspec.json.encode(Progress_(size=size, line=chunk[-1][0])))
        return
    raise CitybrainError(
        f"server kept refusing lines {chunk[0][0]}..{chunk[-1][0]} (backpressure); try again later"
    )

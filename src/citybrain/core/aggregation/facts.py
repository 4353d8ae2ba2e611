"""The event a delivered row becomes, and what a run of a dataset reports.

A **fact** (``facts.row``) is one good row of a dataset, typed, with its provenance: the dataset
(and so its owner department), the batch it came in, its as-of date and its row number there.
Its ``key`` is the entity the row is about (the dataset's key columns), its ``ts`` the moment the
platform received it, and its ``id`` is made from the dataset, key, delivery (the batch; a pulled
row's watermark) and content: the same delivery read again adds nothing (the bus drops ids it
has), while every new delivery states its rows again (a value that changes back is not lost).
Scenes consume facts like any event (a new hospital bill re-screens its household).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from citybrain.core.events import Event, register

_JSON = msgspec.json.Encoder(order="sorted")


@register
class Fact(Event, tag="facts.row"):
    """One row of a dataset (``key``: its entity; ``data``: the typed values, dates as ISO text)."""

    dataset: str
    batch: str
    as_of: str  # YYYY-MM-DD: the date the department's data describes
    row: int  # the row number in the batch (a file's line, a pull's running number)
    data: dict[str, Any] = msgspec.field(default_factory=dict)


def fact_id(dataset: str, key: str, stamp: str, data: dict[str, Any]) -> str:
    """Stable: the same row of the same delivery (``stamp``: the batch, or a pulled row's
    watermark) is the same fact however often it is read."""
    digest = hashlib.blake2b(_JSON.encode([stamp, data]), digest_size=10).hexdigest()
    out = f"{dataset}:{key}:{digest}"
    if len(out) <= 128:  # an event id's limit
        return out
    return f"{dataset}:{hashlib.blake2b(key.encode(), digest_size=12).hexdigest()}:{digest}"


def row_digest(values: dict[str, Any]) -> int:
    """A row's 64-bit digest; a run's checksum is their sum modulo 2^64, so it does not depend on
    the order rows came in (a department can compute the same over its table)."""
    return int.from_bytes(hashlib.blake2b(_JSON.encode(values), digest_size=8).digest(), "big")


class RunReport(msgspec.Struct, kw_only=True):
    """One run of a dataset (a file, a push, a pull): what was read, kept, refused, and the proof."""

    id: str  # the batch id: "<dataset>:<sha256 of the file, first 16>" / "<dataset>:pull:<start>"
    dataset: str
    origin: str  # pull, file, push
    where: str  # the file name, "push", or the database and table (no password)
    as_of: str
    started_ts: int
    finished_ts: int | None = None
    status: str = "running"  # running, done, failed, already (a batch loaded before: nothing done)
    rows_read: int = 0
    rows_good: int = 0
    rows_bad: int = 0
    facts_new: int = 0  # facts the bus did not have (changed or new rows)
    checksum: str = "0000000000000000"  # sum of the good rows' digests mod 2^64, hex
    mark_from: str = ""  # a pull: the watermark it started after ...
    mark_to: str = ""  # ... and the one it reached
    source_rows: int | None = None  # a pull: the rows the source holds in that range (reconciliation)
    error: str = ""


class Reject(msgspec.Struct, kw_only=True):
    """A refused row, kept for the department to fix: every problem named, sensitive values masked."""

    run_id: str
    row: int
    problems: list[dict[str, Any]]  # {"field", "reason"}
    raw: dict[str, str]


class CurrentRow(msgspec.Struct, frozen=True):
    """A dataset's row as it stands: the latest fact of its key, with its provenance."""

    key: str
    as_of: str
    batch: str
    ts: int
    data: dict[str, Any]

"""Shared loader for the GB/T 32960 tests: the third-party frames in tests/data/frames."""

from __future__ import annotations

import csv
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
TSV = REPO_ROOT / "tests" / "data" / "frames" / "gb32960.tsv"


def load_rows() -> dict[str, dict[str, str]]:
    csv.field_size_limit(1 << 24)
    with TSV.open(encoding="utf-8", newline="") as fh:
        return {row["id"]: row for row in csv.DictReader(fh, delimiter="\t")}


ROWS = load_rows()


def frame(row_id: str) -> bytes:
    return bytes.fromhex(ROWS[row_id]["hex_on_wire"])

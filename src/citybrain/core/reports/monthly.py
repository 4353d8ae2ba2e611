"""The monthly report: every scene's section for a month (Beijing time), compared with the month
before, rendered to HTML and PDF and written with a SHA-256 checksum file.

The sections come in as the API gives them (``GET /api/v1/report``, ``Platform.report``), so the
report reads the same numbers whether it is made beside a stopped store or from a running server."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybrain.core.cases.kpi import month_of, month_range
from citybrain.core.errors import Problem, ValidationError
from citybrain.core.reports import adapt, render
from citybrain.core.reports.model import LANGS, Lang, Report, Words

__all__ = ["TITLE", "Written", "build", "month_of", "month_range", "previous_month", "write"]

TITLE = Words("南昌城市大脑月度报告", "Nanchang City Brain monthly report")
# with the safety scene on, the report is the 平安报告 and its index section comes first (issue 17)
SAFETY_TITLE, FIRST = Words("平安报告", "Public safety report"), "safety"
Sections = Mapping[str, Mapping[str, Any]]


def previous_month(month: str) -> str:
    start, _ = month_range(month)
    return month_of(start - 1)


def build(month: str, sections: Sections, previous: Sections | None, generated_ms: int) -> Report:
    """The typed report of ``month`` from the scenes' sections (and the month before's)."""
    start, end = month_range(month)
    before = previous or {}
    order = sorted(sections, key=lambda name: name != FIRST)  # stable: the others keep their order
    typed = [adapt.section(name, sections[name], before.get(name)) for name in order]
    return Report(SAFETY_TITLE if FIRST in sections else TITLE, month, start, end, generated_ms, typed)


@dataclass(frozen=True)
class Written:
    html: Path
    pdf: Path
    checksums: Path


def write(report: Report, out: Path, lang: Lang) -> Written:
    """``report-<month>.<lang>.html`` and ``.pdf`` in ``out``, and ``.sha256`` holding both files'
    SHA-256 in ``sha256sum`` format (``sha256sum -c`` checks them)."""
    if lang not in LANGS:
        raise ValidationError([Problem(0, "lang", f"{lang!r} is not one of {', '.join(LANGS)}")])
    out.mkdir(parents=True, exist_ok=True)
    stem = f"report-{report.month}.{lang}"
    page = render.html(report, lang)
    files = {out / f"{stem}.html": page.encode(), out / f"{stem}.pdf": render.pdf(page)}
    lines = []
    for path, data in files.items():
        path.write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    sums = out / f"{stem}.sha256"
    sums.write_text("".join(lines))
    return Written(out / f"{stem}.html", out / f"{stem}.pdf", sums)

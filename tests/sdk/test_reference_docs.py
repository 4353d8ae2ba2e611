"""The generated reference pages match the code (regenerate with `citybrain docs settings > docs/settings.md`
and `citybrain docs panels > docs/panels.md`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.reference import field_comments, panels_markdown, settings_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    ("page", "make"), [("settings.md", settings_markdown), ("panels.md", panels_markdown)]
)
def test_reference_page_is_up_to_date(page: str, make: object) -> None:
    assert callable(make)
    assert (DOCS / page).read_text(encoding="utf-8") == make() + "\n", f"docs/{page} drifted; regenerate it"


def test_every_platform_setting_says_what_it_is_for() -> None:
    undocumented = [
        ln for ln in settings_markdown().splitlines() if ln.startswith("| `") and ln.endswith("|  |")
    ]
    assert undocumented == []


def test_field_comments_are_read_from_the_source() -> None:
    from citybrain.core.config import IngestSettings

    notes = field_comments(IngestSettings)
    assert notes["max_events"].startswith("per request") and "rate" not in notes["max_events"]

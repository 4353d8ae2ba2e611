"""The section adapter: any JSON-like section becomes a typed Section without failing, and a typed
section round-trips through JSON (what a scene returns when it builds its own)."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.reports import adapt, render
from citybrain.core.reports.model import Chart, Figure, Report, Section, Series, Table, Text, Words

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
keys = st.sampled_from(["title", "rows", "columns", "figures", "total", "titles", "column_titles", "money",
                        "money_titles", "kind", "note"]) | st.text(max_size=8)  # fmt: skip
sections = st.dictionaries(keys, json_like, max_size=8)


@settings(max_examples=300, deadline=None)
@given(raw=sections, previous=st.none() | sections)
def test_any_json_section_becomes_a_section(raw: dict[str, Any], previous: dict[str, Any] | None) -> None:
    s = adapt.section("x", raw, previous)
    assert isinstance(s, Section) and s.key == "x"
    msgspec.json.encode(s)  # JSON-ready, as the API would carry it


def test_generic_rules() -> None:
    raw = {
        "title": {"zh-CN": "示例", "en": "Example"},
        "columns": ["district", "count"],
        "titles": {"count": "数量 / count"},
        "rows": [
            {"district": {"zh-CN": "东湖区", "en": "Donghu"}, "count": 3},
            {"district": {"zh-CN": "西湖区", "en": "Xihu"}, "count": 1},
        ],
        "figures": {"count": 4, "on_time_rate": 0.5, "by_rule": {"a": 1, "b": 2}},
        "money": {"paid_fen": 12_345},
        "money_titles": {"paid_fen": "实收 / paid"},
    }
    s = adapt.section("demo", raw, {"figures": {"count": 2, "on_time_rate": 0.25}})
    assert s.title == Words("示例", "Example")
    figures = {f.label.en: f for f in s.figures}
    assert figures["count"].value == 4 and figures["count"].change == 2
    assert figures["On time rate"].percent and figures["On time rate"].change == 0.25
    assert figures["paid"].value == 123.45 and figures["paid"].unit == Words("元", "CNY")
    kinds = [type(b).__name__ for b in s.blocks]
    assert kinds.count("Table") == 2 and "Chart" in kinds and "Text" in kinds
    story = next(b for b in s.blocks if isinstance(b, Text)).words
    assert "较上月增加 2（+100.0%）" in story.zh
    assert "the highest is Donghu (3, 75.0% of the total)" in story.en


def test_a_typed_section_is_read_as_it_is() -> None:
    typed = Section(
        "own",
        Words("自有", "Own"),
        [
            Figure(Words("车辆", "vehicles"), 12.0),
            Chart(
                "line",
                Words("每日", "daily"),
                [Words("1日", "1st"), Words("2日", "2nd")],
                [Series(Words("车辆", "vehicles"), [3.0, None])],
            ),
            Table(Words("表", "table"), [], []),
        ],
    )
    raw = msgspec.json.decode(msgspec.json.encode(typed))
    assert adapt.section("own", raw) == typed
    page = render.html(Report(Words("报告", "Report"), "2026-11", 0, 1, 0, [typed]), "en")
    assert "<svg" in page and "daily" in page and "Own" in page

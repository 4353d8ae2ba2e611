"""A scene's report section as the API returns it (JSON: ``title``, ``columns``, ``rows``,
``figures``, and whatever else the scene adds) turned into a typed ``Section``, so every scene has
a place in the rendered report without being rewritten. The rules are generic:

- numbers become figures (their change from the previous period's section when it is given);
  ``*_fen`` is money in fen, shown in yuan; ``*_rate`` / ``*_share`` in [0, 1] are shown as percentages;
- ``rows`` (a list of objects) become the section's table, ``total`` its last row, and a bar chart
  of the first numeric column when there are two rows or more; other lists of objects become tables;
- a mapping of numbers inside ``figures`` (alerts by rule) becomes a two-column table; one at the
  top level (``money``, ``now``) becomes figures; text and flags become lines of text;
- words come from the section: ``titles`` (any key), ``column_titles``, ``<key>_titles``; a title
  written "中文 / English" gives both languages; otherwise the key itself, made readable.

A section already typed (``kind: citybrain.report.section``, a ``Section`` as JSON) is read as it is.
Nothing the section holds makes this fail: what it cannot show is left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from citybrain.core.reports.model import (
    TOTAL,
    Block,
    Cell,
    Chart,
    Column,
    Figure,
    Section,
    Series,
    Table,
    Text,
    Words,
)
from citybrain.core.reports.narrative import narrate

KIND = "citybrain.report.section"
# what describes the section rather than being its content
META = frozenset({"kind", "title", "columns", "column_titles", "titles", "period", "month", "rows", "total"})
MAX_ROWS = 40  # rows shown per table (the note says how many there were)
MAX_BARS = 20
MAX_DEPTH = 3
YUAN = Words("元", "CNY")


def section(key: str, raw: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> Section:
    """The typed section of scene ``key`` from its JSON ``raw`` (and the period before's, if any)."""
    if raw.get("kind") == KIND:
        try:
            return msgspec.convert(raw, Section)
        except msgspec.ValidationError:
            pass  # not a sound typed section after all: shown by the generic rules below
    titles = _titles(raw)
    before = _numbers(previous or {}, titles)
    figures: list[Figure] = []
    tables: list[Table] = []
    texts: list[Text] = []
    main = _main_table(raw, titles)
    for k, v in raw.items():
        if not isinstance(k, str) or k in META or k.endswith("_titles"):
            continue
        _walk(k, v, titles, before, figures, tables, texts, 0, in_figures=k == "figures")
    blocks: list[Block] = [*figures]
    story = narrate(figures, main)
    if story is not None:
        blocks.append(story)
    blocks.extend(texts)
    if main is not None:
        chart = _bar_chart(main)
        if chart is not None:
            blocks.append(chart)
        blocks.append(main)
    blocks.extend(tables)
    return Section(key=key, title=_words(raw.get("title"), key), blocks=blocks)


# -- words -----------------------------------------------------------------------------------------
def readable(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "—"


def _words(value: Any, key: str) -> Words:
    """A title given as {"zh-CN": .., "en": ..}, as "中文 / English", or as plain text."""
    if isinstance(value, Mapping):
        zh, en = value.get("zh-CN", value.get("zh")), value.get("en")
        zh_s = zh if isinstance(zh, str) and zh else None
        en_s = en if isinstance(en, str) and en else None
        if zh_s or en_s:
            return Words(zh_s or en_s or "", en_s or zh_s or "")
    if isinstance(value, str) and value.strip():
        zh, sep, en = value.partition(" / ")
        return Words(zh.strip(), en.strip()) if sep and en.strip() else Words(value, value)
    return Words(readable(key), readable(key))


def _titles(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if isinstance(k, str) and isinstance(v, Mapping) and (k == "titles" or k.endswith("_titles")):
            out.update({str(n): t for n, t in v.items()})
    return out


def _label(key: str, titles: Mapping[str, Any]) -> Words:
    bare = key[: -len("_fen")] if key.endswith("_fen") and key not in titles else key
    return _words(titles.get(key, titles.get(bare)), bare)


# -- numbers ---------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _figure(key: str, value: float, titles: Mapping[str, Any], before: Mapping[str, float]) -> Figure:
    percent = (key.endswith(("_rate", "_share")) or key.startswith("share_")) and 0 <= value <= 1
    scale, unit = (100.0, YUAN) if key.endswith("_fen") else (1.0, Words(""))
    shown = float(value) / scale
    prior = before.get(key)
    change = None if prior is None else shown - prior / scale
    return Figure(_label(key, titles), shown, unit, change, percent)


def _numbers(raw: Mapping[str, Any], titles: Mapping[str, Any]) -> dict[str, float]:
    """The section's figures by key (one level into mappings), to compare periods."""
    out: dict[str, float] = {}
    for k, v in raw.items():
        if not isinstance(k, str) or k in META:
            continue
        if _is_number(v):
            out[k] = float(v)
        elif isinstance(v, Mapping):
            out.update({n: float(x) for n, x in v.items() if isinstance(n, str) and _is_number(x)})
    return out


# -- the walk --------------------------------------------------------------------------------------
def _walk(
    key: str,
    value: Any,
    titles: Mapping[str, Any],
    before: Mapping[str, float],
    figures: list[Figure],
    tables: list[Table],
    texts: list[Text],
    depth: int,
    in_figures: bool = False,
) -> None:
    if depth > MAX_DEPTH:
        return
    if _is_number(value):
        figures.append(_figure(key, value, titles, before))
    elif isinstance(value, bool | str):
        if isinstance(value, str) and not value.strip():
            return
        label = _label(key, titles)
        zh, en = (
            (("是" if value else "否"), ("yes" if value else "no"))
            if isinstance(value, bool)
            else (value, value)
        )
        texts.append(Text(Words(f"{label('zh')}：{zh}", f"{label('en')}: {en}")))
    elif isinstance(value, Mapping):
        if key == "figures" and depth == 0:
            for k, v in value.items():
                if isinstance(k, str):
                    _walk(k, v, titles, before, figures, tables, texts, depth + 1, in_figures=True)
        elif in_figures and value and all(_is_number(v) for v in value.values()):
            rows: list[list[Cell]] = [[_label(str(k), titles), v] for k, v in value.items()]
            columns = [Column("item", Words("项目", "Item")), Column("value", Words("数量", "Count"))]
            tables.append(_capped(Table(_label(key, titles), columns, rows)))
        else:
            for k, v in value.items():
                if isinstance(k, str):
                    _walk(k, v, titles, before, figures, tables, texts, depth + 1)
    elif isinstance(value, Sequence) and value:
        if all(isinstance(v, Mapping) for v in value):
            table = _table(_label(key, titles), value, None, titles)
            if table is not None:
                tables.append(table)
        elif all(_is_number(v) or isinstance(v, str) for v in value):
            label = _label(key, titles)
            items = [str(v) for v in value[:MAX_ROWS]]
            zh, en = f"{label('zh')}：{'、'.join(items)}", f"{label('en')}: {', '.join(items)}"
            texts.append(Text(Words(zh, en)))


# -- tables and charts -----------------------------------------------------------------------------
def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping) and ("zh-CN" in value or "en" in value):
        return _words(value, "—")
    text = msgspec.json.encode(_plain(value)).decode()
    return text if len(text) <= 60 else text[:59] + "…"


def _plain(value: Any) -> Any:
    """JSON-safe copy (non-finite numbers and odd keys made harmless)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _table(
    title: Words, rows: Sequence[Mapping[str, Any]], columns: Any, titles: Mapping[str, Any]
) -> Table | None:
    keys: list[str] = []
    if isinstance(columns, Sequence) and not isinstance(columns, str):
        keys = [c for c in columns if isinstance(c, str)]
    if not keys:
        for r in rows[:MAX_ROWS]:
            keys.extend(k for k in r if isinstance(k, str) and k not in keys)
    keys = list(dict.fromkeys(keys))
    if not keys:
        return None
    cols = [Column(k, _label(k, titles)) for k in keys]
    body = [[_cell(r.get(k)) for k in keys] for r in rows]
    return _capped(Table(title, cols, body))


def _capped(t: Table) -> Table:
    if len(t.rows) <= MAX_ROWS:
        return t
    n = len(t.rows)
    note = Words(f"仅列出前 {MAX_ROWS} 行，共 {n} 行", f"the first {MAX_ROWS} of {n} rows")
    return Table(t.title, t.columns, t.rows[:MAX_ROWS], note)


def _main_table(raw: Mapping[str, Any], titles: Mapping[str, Any]) -> Table | None:
    rows = raw.get("rows")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        return None
    objects = [r for r in rows if isinstance(r, Mapping)]
    total = raw.get("total")
    if not objects:
        return None
    table = _table(_words(raw.get("title"), "rows"), objects, raw.get("columns"), titles)
    if table is None or not isinstance(total, Mapping):
        return table
    last: list[Cell] = [_cell(total.get(c.key)) for c in table.columns]
    last[0] = TOTAL
    return Table(table.title, table.columns, [*table.rows, last], table.note)


def _bar_chart(t: Table) -> Chart | None:
    named, valued = t.label_column(), t.value_column()
    if named is None or valued is None:
        return None
    rows = [r for r in t.rows[:MAX_BARS] if isinstance(r[valued], int | float) and r[named] is not None]
    if len(rows) < 2 or not any(r[valued] for r in rows):
        return None  # nothing to compare, or nothing but zeros
    col = t.columns[valued].title
    x = [c if isinstance(c := r[named], Words) else Words(str(c)) for r in rows]
    values = [float(v) if isinstance(v := r[valued], int | float) else None for r in rows]
    return Chart("bar", col, x, [Series(col, values)])

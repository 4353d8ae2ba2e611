"""Narrative written from the numbers: what changed most since the period before, and where the
largest share of the main table's first measure lies. Plain sentences, in both languages, that
never say more than the figures do."""

from __future__ import annotations

from citybrain.core.reports.fmt import number, signed
from citybrain.core.reports.model import TOTAL, Figure, Lang, Table, Text, Words

MOST_CHANGED = 3


def _relative(f: Figure) -> float:
    if f.change is None or f.value is None:
        return -1.0
    before = f.value - f.change
    return abs(f.change) / abs(before) if before else (float("inf") if f.change else 0.0)


def _with_unit(text: str, f: Figure, lang: Lang) -> str:
    unit = f.unit(lang)
    return text + (unit if lang == "zh" else f" {unit}") if unit and not f.percent else text


def _changed(f: Figure) -> tuple[str, str]:
    assert f.change is not None and f.value is not None
    now = {lang: _with_unit(number(f.value, lang, f.percent), f, lang) for lang in ("zh", "en")}
    label_zh, label_en = f.label("zh"), f.label("en")
    if f.change == 0:
        same = f"{label_en} was {now['en']}, as in the previous month."
        return f"{label_zh}为 {now['zh']}，与上月持平。", same
    by = {lang: _with_unit(signed(f.change, lang, f.percent).lstrip("+-"), f, lang) for lang in ("zh", "en")}
    before = f.value - f.change
    pct = "" if f.percent or not before else f"{f.change / abs(before) * 100:+.1f}%"
    up = f.change > 0
    zh = f"{label_zh}为 {now['zh']}，较上月{'增加' if up else '减少'} {by['zh']}"
    zh += f"（{pct}）。" if pct else "。"
    en = f"{label_en} was {now['en']}, {'up' if up else 'down'} {by['en']} on the previous month"
    return zh, en + (f" ({pct})." if pct else ".")


def _stated(f: Figure) -> tuple[str, str]:
    zh = _with_unit(number(f.value, "zh", f.percent), f, "zh")
    en = _with_unit(number(f.value, "en", f.percent), f, "en")
    return f"{f.label('zh')}为 {zh}。", f"{f.label('en')} was {en}."


def _where(t: Table) -> tuple[str, str] | None:
    named, valued = t.label_column(), t.value_column()
    if named is None or valued is None:
        return None
    rows = [r for r in t.rows if isinstance(r[valued], int | float) and r[named] != TOTAL]
    values = [float(v) for r in rows if isinstance(v := r[valued], int | float)]
    if len(values) < 2 or max(values) <= 0:
        return None
    top = max(range(len(rows)), key=lambda i: values[i])
    name = rows[top][named]
    names = {lang: name(lang) if isinstance(name, Words) else str(name) for lang in ("zh", "en")}
    col = t.columns[valued].title
    zh = f"按{col('zh')}，最高的是{names['zh']}（{number(values[top], 'zh')}"
    en = f"By {col('en').lower()}, the highest is {names['en']} ({number(values[top], 'en')}"
    total = sum(values)
    if min(values) >= 0 and total > 0:
        share = f"{values[top] / total * 100:.1f}%"
        return f"{zh}，占 {share}）。", f"{en}, {share} of the total)."
    return f"{zh}）。", f"{en})."


def narrate(figures: list[Figure], main: Table | None) -> Text | None:
    """A paragraph on the section's numbers, or None when it has none to speak of."""
    known = [f for f in figures if f.value is not None]
    compared = sorted((f for f in known if f.change is not None), key=_relative, reverse=True)
    lines = [_changed(f) for f in compared[:MOST_CHANGED]] or [_stated(f) for f in known[:MOST_CHANGED]]
    where = _where(main) if main is not None else None
    if where is not None:
        lines.append(where)
    if not lines:
        return None
    return Text(Words("".join(z for z, _ in lines), " ".join(e for _, e in lines)))

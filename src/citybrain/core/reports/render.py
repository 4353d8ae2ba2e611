"""A typed report rendered: HTML from the Jinja2 templates in ``templates/`` (A4 pages, Noto CJK
fonts, a cover, contents with page numbers, page numbers in the footer), then PDF by WeasyPrint.
The same report renders in Chinese or English: only the words chosen change, never the numbers."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from citybrain.core.reports import chart as charts
from citybrain.core.reports import fmt
from citybrain.core.reports.model import Chart, Figure, Lang, Report, Table, Text, Words

BJT = ZoneInfo("Asia/Shanghai")
TEMPLATES = Path(__file__).with_name("templates")
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December"]  # fmt: skip
# the report's own words (its data brings the rest)
WORDS: dict[Lang, dict[str, str]] = {
    "zh": {"city": "南昌市", "contents": "目录", "period": "统计周期", "generated": "生成时间",
           "change": "较上月", "page": "第 ", "of": " 页 / 共 ", "pages": " 页", "empty": "本期无数据。",
           "by": "南昌城市大脑 citybrain", "colon": "："},
    "en": {"city": "Nanchang", "contents": "Contents", "period": "Period", "generated": "Generated",
           "change": "vs previous month", "page": "Page ", "of": " of ", "pages": "",
           "empty": "No data in this period.", "by": "Nanchang City Brain (citybrain)", "colon": ": "},
}  # fmt: skip


def month_label(month: str, lang: Lang) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return f"{year}年{mon}月" if lang == "zh" else f"{MONTHS_EN[mon - 1]} {year}"


def _when(ms: int, lang: Lang, with_time: bool = True) -> str:
    t = datetime.fromtimestamp(ms / 1000, BJT)
    if lang == "zh":
        return t.strftime("%Y年%m月%d日 %H:%M" if with_time else "%Y年%m月%d日")
    return t.strftime("%Y-%m-%d %H:%M (UTC+8)" if with_time else "%Y-%m-%d")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("citybrain.core.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests.update(
        {
            "figure": lambda b: isinstance(b, Figure),
            "table": lambda b: isinstance(b, Table),
            "chart": lambda b: isinstance(b, Chart),
            "text": lambda b: isinstance(b, Text),
        }
    )
    return env


def _figure_value(f: Figure, lang: Lang) -> str:
    shown = fmt.number(f.value, lang, f.percent)
    unit = "" if f.percent else f.unit(lang)
    return f"{shown} {unit}".strip()


def html(report: Report, lang: Lang) -> str:
    """The report as one self-contained HTML page (styles and charts inline)."""
    env = _environment()

    def t(w: Words) -> str:
        return w(lang)

    def cell(value: Any) -> str:
        return fmt.cell(value, lang)

    def svg(c: Chart) -> Markup:
        return Markup(charts.svg(c, lang))  # matplotlib's own SVG markup, made from escaped text

    context = {
        "lang": lang,
        "report": report,
        "w": WORDS[lang],
        "t": t,
        "cell": cell,
        "svg": svg,
        "figure_value": lambda f: _figure_value(f, lang),
        "change": lambda f: fmt.signed(f.change, lang, f.percent),
        "is_number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "month": month_label(report.month, lang),
        "period": f"{_when(report.start_ms, lang, False)} – {_when(report.end_ms - 1, lang, False)}",
        "generated": _when(report.generated_ms, lang),
    }
    css = env.get_template("report.css").render(w=WORDS[lang], lang=lang)
    return env.get_template("report.html").render(css=Markup(css), **context)


def pdf(page: str) -> bytes:
    """The HTML page as PDF (WeasyPrint: fonts through fontconfig, SVG drawn as vectors)."""
    from weasyprint import HTML

    out = HTML(string=page, base_url=str(TEMPLATES)).write_pdf()
    assert out is not None  # no target given: the PDF's bytes are returned
    return bytes(out)

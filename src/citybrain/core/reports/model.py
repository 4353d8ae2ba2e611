"""The typed report: a report is sections, a section is blocks (figures, tables, charts and
narrative text). Every piece of text a reader sees is held in Chinese and in English, so one set of
numbers renders in either language. The structs are plain msgspec data: a scene may build them
itself and return ``msgspec.to_builtins(section)`` as its report (``adapt.section`` reads that form
back), or keep returning its JSON section, which ``adapt.section`` turns into one of these."""

from __future__ import annotations

from typing import Literal

import msgspec

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


class Words(msgspec.Struct, frozen=True):
    """One piece of text in both languages (English falls back to Chinese when not given)."""

    zh: str
    en: str = ""

    def __call__(self, lang: Lang) -> str:
        return self.en if lang == "en" and self.en else self.zh


# a table cell: a number, a flag, text, or a name in both languages (a district's 东湖区 / Donghu)
Cell = str | int | float | bool | None | Words


TOTAL = Words("合计", "Total")  # the first cell of a table's total row


class Figure(msgspec.Struct, tag="figure", frozen=True):
    """One headline number: its value this period and its change from the period before."""

    label: Words
    value: float | None
    unit: Words = Words("")
    change: float | None = None  # value minus the previous period's value (None: not known)
    percent: bool = False  # a share in [0, 1], shown as a percentage


class Column(msgspec.Struct, frozen=True):
    key: str
    title: Words


class Table(msgspec.Struct, tag="table", frozen=True):
    title: Words
    columns: list[Column]
    rows: list[list[Cell]]
    note: Words | None = None  # e.g. "the first 40 of 120 rows"

    def label_column(self) -> int | None:
        """The column that names a row: ``name`` if present, else the first with text in it."""
        named = [i for i in range(len(self.columns)) if any(isinstance(r[i], str | Words) for r in self.rows)]
        return next((i for i in named if self.columns[i].key == "name"), named[0] if named else None)

    def value_column(self) -> int | None:
        """The first column holding numbers (not flags) in every row that has a value."""
        for i in range(len(self.columns)):
            cells = [r[i] for r in self.rows if r[i] is not None]
            if cells and all(isinstance(c, int | float) and not isinstance(c, bool) for c in cells):
                return i
        return None


class Series(msgspec.Struct, frozen=True):
    name: Words
    values: list[float | None]


class Chart(msgspec.Struct, tag="chart", frozen=True):
    """A line or bar chart over categories ``x`` (district names, days); drawn as vector SVG."""

    kind: Literal["line", "bar"]
    title: Words
    x: list[Words]
    series: list[Series]
    unit: Words = Words("")


class Text(msgspec.Struct, tag="text", frozen=True):
    """Narrative written from the numbers (what changed, where)."""

    words: Words


Block = Figure | Table | Chart | Text


class Section(msgspec.Struct, frozen=True):
    key: str  # the scene's name: the anchor the contents link to
    title: Words
    blocks: list[Block]
    kind: Literal["citybrain.report.section"] = "citybrain.report.section"

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


class Report(msgspec.Struct, frozen=True):
    """A whole report: its title, the period it covers (``month`` as YYYY-MM) and its sections."""

    title: Words
    month: str
    start_ms: int
    end_ms: int
    generated_ms: int
    sections: list[Section]

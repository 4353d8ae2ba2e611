"""What a department delivers: a dataset's declaration (数据目录), as configuration.

A **dataset** is one table of one department (民政 低保名册, 医保 结算明细, 不动产 登记 ...): who owns
it, how often it should arrive (its cadence), which columns make a row's key (the entity a fact is
about: a household, a person, a company) and the typed columns (``Column``: text, int, float,
date, bool, id_number, area), and where it comes from (``pull``: a table of a departmental
database, read by an updated-at or key watermark; ``file``: CSV, Excel or Parquet files dropped
in a folder; ``push``: NDJSON sent over HTTP). Datasets are declared in TOML (the ``[aggregation]``
settings' ``datasets_file``) and checked when loaded: a mistake is a ConfigError naming the dataset
and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import msgspec

from citybrain.core.documents import read_document
from citybrain.core.errors import ConfigError

ColumnType = Literal["text", "int", "float", "date", "bool", "id_number", "area"]
Origin = Literal["pull", "file", "push"]
FileFormat = Literal["csv", "xlsx", "parquet", "ndjson"]
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")  # "civil.dibao_roster"
_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")


class Column(msgspec.Struct, forbid_unknown_fields=True):
    """A typed column: ``source`` is its name in the department's table or file header (default:
    ``name``); ``required`` refuses a row without it; ``min``/``max`` bound numbers, ``choices``
    lists the allowed values of text; ``sensitive`` marks what is masked where a refused row is
    kept and kept out of refusal reasons (ID numbers, bank accounts, diagnoses)."""

    name: str
    type: ColumnType = "text"
    source: str = ""
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: list[str] = msgspec.field(default_factory=list)
    sensitive: bool = False
    known_area: bool = False  # an area code must be a division in the city's list (core/divisions.py)
    indexed: bool = False  # rows are read by this column one subject at a time (a household, a person)
    title: str = ""

    @property
    def header(self) -> str:
        return self.source or self.name


class Dataset(msgspec.Struct, forbid_unknown_fields=True):
    """One department's table, as the platform receives it."""

    name: str  # "<department>.<table>", e.g. "medical.settlements"
    title: str
    owner: str  # the department that owns it (an org.toml department id)
    key: list[str]  # the columns that make the entity key of a fact (joined with "|")
    columns: list[Column]
    origin: Origin
    cadence_h: float = 24 * 31  # how often a batch should arrive (a month by default)
    late_after: float = 1.5  # a batch later than this many cadences raises an alert
    shrink_alert: float = 0.5  # a snapshot with fewer good rows than this share of the last one: alert
    snapshot: bool = True  # each file or push is the whole table; False: increments (pulls always are)
    # pull: a departmental database
    dsn: str = ""  # mysql://user:pw@host:3306/db or postgresql://...
    table: str = ""  # the table (or view) read
    watermark: str = ""  # an updated-at column, or a growing key, read in order
    # file: a drop folder
    folder: str = ""
    format: FileFormat = "csv"
    encoding: str = ""  # CSV: "utf-8", "gbk", "gb18030"; empty: UTF-8 (with or without BOM), else GB18030
    sheet: str = ""  # xlsx: the sheet (default: the first)
    as_of_column: str = ""  # the column that dates each row (else the batch's as-of date)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def check(self) -> None:
        """ConfigError naming the first problem of the declaration."""
        where = f"dataset {self.name!r}"
        if not _NAME.match(self.name):
            raise ConfigError(f"{where}: the name must be '<department>.<table>' in lower case")
        names = [c.name for c in self.columns]
        for c in self.columns:
            if not _COLUMN.match(c.name):
                raise ConfigError(f"{where}: column {c.name!r} must be lower case letters, digits and _")
            if names.count(c.name) > 1:
                raise ConfigError(f"{where}: column {c.name!r} is declared twice")
            if c.min is not None and c.max is not None and c.min > c.max:
                raise ConfigError(f"{where}: column {c.name!r} has min {c.min} above max {c.max}")
            if c.indexed and c.type not in ("text", "id_number", "area"):
                raise ConfigError(
                    f"{where}: column {c.name!r} is indexed: only text, ID numbers and areas may be"
                )
            if c.sensitive and c.type not in ("text", "id_number"):
                raise ConfigError(
                    f"{where}: column {c.name!r} is sensitive (stored encrypted): only text and ID numbers "
                    "may be"
                )
        if not self.key:
            raise ConfigError(f"{where}: it needs a key (the columns naming the entity a row is about)")
        for k in self.key:
            if k not in names:
                raise ConfigError(f"{where}: key column {k!r} is not one of its columns {names}")
        if self.cadence_h <= 0 or self.late_after < 1 or not 0 <= self.shrink_alert < 1:
            raise ConfigError(f"{where}: cadence_h > 0, late_after >= 1 and 0 <= shrink_alert < 1")
        needs = {"pull": ("dsn", "table", "watermark"), "file": ("folder",), "push": ()}[self.origin]
        for attr in needs:
            if not getattr(self, attr):
                raise ConfigError(f"{where}: a {self.origin} dataset needs {attr!r}")
        if self.origin == "pull":
            if not self.dsn.startswith(("mysql://", "mariadb://", "postgresql://", "postgres://")):
                raise ConfigError(f"{where}: dsn must start with mysql://, mariadb:// or postgresql://")
            if self.watermark not in names:
                raise ConfigError(f"{where}: watermark {self.watermark!r} is not one of its columns")
            if self.column(self.watermark).type in ("float", "bool"):
                raise ConfigError(f"{where}: watermark {self.watermark!r} must be a time, a date, a whole "
                                  "number or text: a float cannot be compared exactly")  # fmt: skip
        for what in ("watermark", "as_of_column"):
            col = getattr(self, what)
            if col and col in names and self.column(col).sensitive:
                raise ConfigError(f"{where}: {what} {col!r} is sensitive, but it is kept in clear")
        if self.as_of_column and self.as_of_column not in names:
            raise ConfigError(f"{where}: as_of_column {self.as_of_column!r} is not one of its columns")


class DatasetFile(msgspec.Struct, forbid_unknown_fields=True):
    datasets: list[Dataset] = msgspec.field(default_factory=list)


def load_datasets(path: Path) -> dict[str, Dataset]:
    """The datasets declared in a TOML file (``[[datasets]]`` tables), checked; by name."""
    parsed = read_document(path, "datasets", DatasetFile)
    out: dict[str, Dataset] = {}
    for d in parsed.datasets:
        d.check()
        if d.name in out:
            raise ConfigError(f"datasets file {path}: dataset {d.name!r} is declared twice")
        out[d.name] = d
    return out

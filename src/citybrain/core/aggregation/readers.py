"""A department's delivered file or pushed HTTP body as raw rows: each row's cells by column header,
with the row number a person sees, before ``rows.check_row`` types them.

Formats (``Dataset.format``): CSV (UTF-8 with or without BOM, or GBK/GB18030 as government systems
export it, mostly without a BOM), Excel ``.xlsx``, Parquet, and NDJSON (one JSON object a line; also
what a ``push`` dataset's HTTP body holds). Files are streamed: a reader holds one row (Parquet: one
batch) at a time, never the whole file.

What a reader gives back:

- ``RawRow(no, values)``: ``values`` maps each header to its cell as read (CSV: text; xlsx: text,
  int, float, datetime, bool or None; Parquet: Python values; NDJSON: JSON values). A row shorter
  than the header gets None for the missing cells. Fully empty rows are skipped, but numbering
  counts them, so ``no`` is the row the department sees in its spreadsheet or editor.
- **Unnamed cells**: non-empty cells under an empty header cell (or, in xlsx, right of the header's
  last column) are kept as a list under the key ``UNNAMED`` (""), which ``check_row`` ignores (no
  column has an empty header) but a quarantined row still shows.
- **Rows that cannot be made rows** carry the key ``ERROR`` ("__error__") with the reason, and the
  caller quarantines them with their number instead of checking them: an NDJSON line that is not
  JSON or not a JSON object (values: just the reason), and a CSV row with more cells than its header
  (values: its cells, the extra ones under ``UNNAMED``) — the usual sign of a value with an unquoted
  comma, which shifts every later cell into the wrong column, so the row is not guessed at. A pushed
  object that itself holds an "__error__" key is quarantined the same way.
- **Files that cannot be read at all** (not an xlsx or Parquet file, CSV that does not decode in
  its encoding, no header row, a header lacking the dataset's required or key columns, or a needed
  column twice) raise ``ValidationError([Problem(0, <file name>, <reason>)])`` when first iterated,
  before any row. A file that turns out broken further on (a corrupt xlsx or Parquet part) raises
  the same error after its good rows: the caller drops such a batch whole.

The header row is the first non-empty row that has all the needed columns, looked for among the
first ``HEADER_SEARCH`` non-empty rows: a title row above the table (``2026年11月低保名册``,
``填报单位：XX街道``), usual in government spreadsheets, is skipped. When none has them, the error
names what the first non-empty row lacks.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import msgspec

from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.errors import ConfigError, Problem, ValidationError

ERROR = "__error__"  # the key of a line that could not be made a row; its value is the reason
UNNAMED = ""  # the key of cells under no header (a list, in column order)
HEADER_SEARCH = 20  # non-empty rows looked at for the header row
_HEAD = 64 * 1024  # bytes looked at to guess a CSV's encoding
_CHUNK = 256 * 1024
_PARQUET_BATCH = 4096
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old .xls, or a password-protected workbook

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RawRow:
    """One delivered row: ``no`` is the number a person sees (CSV and xlsx: the row in the file, the
    header being row 1 when it is first; NDJSON: the line, from 1; Parquet: the row, from 1), and
    ``values`` the cells by header, as read."""

    no: int
    values: dict[str, Any]


def detect_encoding(head: bytes) -> str:
    """A CSV's encoding from its first bytes: "utf-8-sig" with a BOM, "utf-8" when the bytes decode
    as UTF-8 (a character cut by the end of the head still counts), else "gb18030" (which reads
    GBK and GB2312 too)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex: a batch's id, so a file delivered again is recognised."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def missing_headers(ds: Dataset, headers: Iterable[str]) -> list[str]:
    """The headers of the dataset's required and key columns that ``headers`` lacks, in column order."""
    have = set(headers)
    return [c.header for c in ds.columns if (c.required or c.name in ds.key) and c.header not in have]


def read_file(ds: Dataset, path: Path) -> Iterator[RawRow]:
    """The raw rows of a delivered file, read by the dataset's format (see the module's notes)."""
    readers: dict[str, Callable[[Dataset, Path], Iterator[RawRow]]] = {
        "csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet, "ndjson": _read_ndjson_file,
    }  # fmt: skip
    return readers[ds.format](ds, path)


def read_ndjson(body: bytes, where: str = "body") -> Iterator[RawRow]:
    """The rows of an NDJSON body, one JSON object a line (``no``: the line, from 1; blank lines are
    skipped but counted). A line that is not JSON, or not an object, is yielded as
    ``RawRow(no, {ERROR: reason})`` for the caller to quarantine; this never raises. ``where`` names
    the body in those reasons."""
    start, no = 0, 0
    while start < len(body):
        end = body.find(b"\n", start)
        if end < 0:
            end = len(body)
        no += 1
        row = _ndjson_row(no, body[start:end], where)
        if row is not None:
            yield row
        start = end + 1


def read_json_body(body: bytes, where: str = "body") -> Iterator[RawRow]:
    """A pushed body: a JSON array of objects (``no``: the position, from 1), else NDJSON
    (``read_ndjson``). A body that is no array, or an item that is no object, is yielded as an
    ERROR row; this never raises."""
    if body.lstrip()[:1] != b"[":
        yield from read_ndjson(body, where)
        return
    try:
        items = msgspec.json.decode(body)
    except msgspec.DecodeError as err:
        yield RawRow(1, {ERROR: f"{where} is not a JSON array ({err})"})
        return
    for no, item in enumerate(items, 1):
        if isinstance(item, dict):
            yield RawRow(no, {str(k): v for k, v in item.items()})
        else:
            yield RawRow(no, {ERROR: f"{where} item {no} is not an object"})


# --- shared --------------------------------------------------------------------------------------


def _refuse(path: Path, reason: str) -> ValidationError:
    return ValidationError([Problem(0, path.name, reason)])


def _why(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def _guarded(items: Iterator[T], path: Path, what: str) -> Iterator[T]:
    """``items`` with any error of the library reading them turned into our ValidationError."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except ValidationError:
            raise
        except Exception as err:  # openpyxl, zipfile, XML, pyarrow, csv: many types, all "unreadable"
            raise _refuse(path, f"is not a readable {what} file ({_why(err)})") from None
        yield item


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _header_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    return str(v).replace("\ufeff", "").strip()


def _keys(ds: Dataset, path: Path, headers: list[str]) -> list[str]:
    """The key of each column, from its header: a needed column twice refuses the file; another
    repeated header becomes "<header>#2", "#3" ...; an empty one is ``UNNAMED``."""
    used = {c.header for c in ds.columns}
    keys: list[str] = []
    seen: dict[str, int] = {}
    for h in headers:
        if h and h in seen:
            if h in used:
                raise _refuse(path, f"has the column {h!r} twice: which one holds the data is not known")
            seen[h] += 1
            keys.append(f"{h}#{seen[h]}")
        else:
            seen[h] = 1
            keys.append(h)
    return keys


class _HeaderSearch:
    """Finds the header row among the first non-empty rows (see the module's notes)."""

    def __init__(self, ds: Dataset, path: Path) -> None:
        self.ds, self.path = ds, path
        self.looked = 0
        self.first_missing: list[str] = []
        self.first_headers: list[str] = []

    def offer(self, cells: Sequence[Any]) -> list[str] | None:
        """The row's column keys when it is the header row, else None (a row above it)."""
        headers = [_header_text(v) for v in cells]
        missing = missing_headers(self.ds, headers)
        if not missing:
            return _keys(self.ds, self.path, headers)
        if self.looked == 0:
            self.first_missing, self.first_headers = missing, [h for h in headers if h]
        self.looked += 1
        if self.looked >= HEADER_SEARCH:
            self.fail()
        return None

    def fail(self) -> None:
        if self.looked == 0:
            raise _refuse(self.path, "has no header row (no non-empty row)")
        # what the first row holds is named only if it looks like headers: a file without a header
        # row has data there (an ID number, a phone), which must not reach a run's error or the log
        first = self.first_headers[:30]
        looks_like_data = any(re.search(r"[0-9]{3}", h) for h in first)  # an ID number, a phone, an amount
        have = "" if looks_like_data or not first else f" (its header row has: {', '.join(first)})"
        raise _refuse(self.path, f"lacks the column(s) {', '.join(self.first_missing)}{have}")


def _assemble(no: int, keys: list[str], cells: Sequence[Any], extra_is_error: bool) -> RawRow:
    values: dict[str, Any] = {}
    unnamed: list[Any] = []
    for i, v in enumerate(cells):
        k = keys[i] if i < len(keys) else UNNAMED
        if k:
            values[k] = v
        elif not _blank(v):
            unnamed.append(v)
    for k in keys[len(cells) :]:
        if k:
            values[k] = None
    if unnamed:
        values[UNNAMED] = unnamed
    if extra_is_error and len(cells) > len(keys) and any(not _blank(v) for v in cells[len(keys) :]):
        values[ERROR] = (
            f"row {no} has {len(cells)} cells but the header has {len(keys)}: a value with an unquoted"
            " comma? The row is not read, as its cells may sit under the wrong columns"
        )
    return RawRow(no, values)


def _table_rows(ds: Dataset, path: Path, rows: Iterable[Sequence[Any]], csv_like: bool) -> Iterator[RawRow]:
    """Rows numbered from 1 (blank ones skipped but counted), the header found, the rest as RawRows."""
    search = _HeaderSearch(ds, path)
    keys: list[str] | None = None
    for no, cells in enumerate(rows, start=1):
        if all(_blank(v) for v in cells):
            continue
        if keys is None:
            keys = search.offer(cells)
            continue
        yield _assemble(no, keys, cells, extra_is_error=csv_like)
    if keys is None:
        search.fail()


# --- CSV -----------------------------------------------------------------------------------------


def _decode_problem(path: Path, encoding: str) -> str | None:
    """Why the file does not decode in ``encoding`` (None when it does), read in chunks."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    with path.open("rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                at = max(0, err.start - pending)
                line += chunk[:at].count(b"\n")
                return (
                    f"does not decode as {encoding} at byte {offset + at} (line {line}): {err.reason};"
                    " save it as UTF-8, or declare the dataset's encoding"
                )
            if not chunk:
                return None
            offset += len(chunk)
            line += chunk.count(b"\n")


def _csv_encoding(ds: Dataset, path: Path) -> str:
    """The encoding to read the file with, checked over the whole file before a row is read."""
    with path.open("rb") as f:
        head = f.read(_HEAD)
    if ds.encoding:
        try:
            declared = codecs.lookup(ds.encoding).name
        except LookupError:
            raise ConfigError(f"dataset {ds.name!r}: unknown CSV encoding {ds.encoding!r}") from None
        encoding = "utf-8-sig" if declared == "utf-8" and head.startswith(codecs.BOM_UTF8) else ds.encoding
    else:
        encoding = detect_encoding(head)
    problem = _decode_problem(path, encoding)
    if problem is not None and not ds.encoding and encoding == "utf-8":
        encoding = "gb18030"  # the head decoded as UTF-8 (plain ASCII, say), the rest does not
        problem = _decode_problem(path, encoding)
    if problem is not None:
        raise _refuse(path, problem)
    return encoding


def _open_binary(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as err:
        raise _refuse(path, f"cannot be read ({_why(err)})") from None


def _read_csv(ds: Dataset, path: Path) -> Iterator[RawRow]:
    try:
        encoding = _csv_encoding(ds, path)
        f: IO[str] = path.open(encoding=encoding, newline="")
    except OSError as err:
        raise _refuse(path, f"cannot be read ({_why(err)})") from None
    with f:
        records = _guarded(_bounded_cells(csv.reader(f), path), path, f"CSV ({encoding})")
        yield from _table_rows(ds, path, records, csv_like=True)


CELL_MAX = 131_072  # characters in one CSV cell (the csv module's default limit, which others may raise)


def _bounded_cells(records: Iterator[list[str]], path: Path) -> Iterator[list[str]]:
    """Rows whose every cell is at most ``CELL_MAX`` characters: a longer one refuses the file,
    whatever limit the process's csv module was given elsewhere."""
    for cells in records:
        if any(len(c) > CELL_MAX for c in cells):
            raise _refuse(path, f"is not a readable CSV file: a cell is over {CELL_MAX:,} characters")
        yield cells


# --- xlsx ----------------------------------------------------------------------------------------


def _read_xlsx(ds: Dataset, path: Path) -> Iterator[RawRow]:
    import openpyxl  # only file drops of Excel need it

    f = _open_binary(path)
    with f:
        if f.read(len(_OLE)) == _OLE:
            raise _refuse(path, "is an old Excel .xls or a password-protected workbook: save it as .xlsx")
        f.seek(0)
        try:  # a file object, so that any file name is accepted
            wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
        except Exception as err:
            raise _refuse(path, f"is not a readable Excel .xlsx file ({_why(err)})") from None
        try:
            if ds.sheet and ds.sheet not in wb.sheetnames:
                raise _refuse(path, f"has no sheet {ds.sheet!r} (its sheets: {', '.join(wb.sheetnames)})")
            sheets = wb.worksheets
            ws = wb[ds.sheet] if ds.sheet else (sheets[0] if sheets else None)
            if ws is None:
                raise _refuse(path, "has no worksheet")
            if not hasattr(ws, "reset_dimensions"):
                raise _refuse(path, f"its sheet {ws.title!r} is a chart, not a table")
            ws.reset_dimensions()  # the size some writers record is wrong: read every cell there is
            rows = _guarded(iter(ws.iter_rows(values_only=True)), path, "Excel .xlsx")
            yield from _table_rows(ds, path, rows, csv_like=False)
        finally:
            wb.close()


# --- Parquet -------------------------------------------------------------------------------------


def _parquet_cells(pf: Any) -> Iterator[list[Any]]:
    for batch in pf.iter_batches(batch_size=_PARQUET_BATCH):
        columns = [c.to_pylist() for c in batch.columns]
        for i in range(batch.num_rows):
            yield [c[i] for c in columns]


def _read_parquet(ds: Dataset, path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    f = _open_binary(path)
    with f:
        try:
            pf = pq.ParquetFile(f)
            headers = [_header_text(n) for n in pf.schema_arrow.names]
        except Exception as err:
            raise _refuse(path, f"is not a readable Parquet file ({_why(err)})") from None
        missing = missing_headers(ds, headers)
        if missing:
            raise _refuse(
                path, f"lacks the column(s) {', '.join(missing)} (it has: {', '.join(headers[:30])})"
            )
        keys = _keys(ds, path, headers)
        for no, cells in enumerate(_guarded(_parquet_cells(pf), path, "Parquet"), start=1):
            yield _assemble(no, keys, cells, extra_is_error=False)


# --- NDJSON --------------------------------------------------------------------------------------


_JSON_KINDS: dict[type, str] = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}


def _ndjson_row(no: int, line: bytes, where: str) -> RawRow | None:
    text = line.strip()
    if no == 1 and text.startswith(codecs.BOM_UTF8):
        text = text[len(codecs.BOM_UTF8) :].strip()
    if not text:
        return None
    try:
        value = msgspec.json.decode(text)
    except (ValueError, RecursionError) as err:  # msgspec.DecodeError, bad UTF-8, nesting too deep
        return RawRow(no, {ERROR: f"line {no} of {where} is not valid JSON ({_why(err)})"})
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "a number")
        return RawRow(no, {ERROR: f"line {no} of {where} is {kind}, not a JSON object"})
    return RawRow(no, value)


def _read_ndjson_file(ds: Dataset, path: Path) -> Iterator[RawRow]:
    f = _open_binary(path)
    with f:
        for no, line in enumerate(_guarded(iter(f), path, "NDJSON"), start=1):
            row = _ndjson_row(no, line, path.name)
            if row is not None:
                yield row

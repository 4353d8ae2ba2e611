"""The departments' side of the welfare demo: a synthetic population's datasets written where each
department keeps them, for the platform to aggregate (docs/aggregation.md).

- **Files** into drop folders (``write_files``): one folder per file dataset, named as the last part
  of its ``folder`` setting; CSV in GBK as government systems export it (UTF-8 where the dataset
  declares it), Excel .xlsx (a title row above the header, as such exports have), Parquet. The
  header row holds the source headers. Each file is written under a temporary name in its folder
  and renamed when complete, so the platform never reads half a file.
- **Pushes** (``ndjson_chunks``): NDJSON bodies, one JSON object a line keyed by the source headers.
- **Databases** (``load_mariadb``, ``load_postgres``): one table per dataset (``civil_households``
  for civil.households), its columns named by the source headers (characters a SQL name cannot hold
  left out: 村(社区)代码 becomes 村社区代码) plus an ``更新时间`` updated-at column where the dataset has
  none, so pulls have a watermark; bulk-loaded (PostgreSQL ``COPY``, MariaDB ``LOAD DATA LOCAL
  INFILE``, or batched inserts where the server refuses local files), the key and an index on
  更新时间 built after the load. ``pull_datasets`` declares the same datasets as pulls from them.

Which department's tables live on which server: ``SERVER`` (civil affairs, HRSS, real estate and
the police on MariaDB; medical insurance, market regulation, the housing fund, emergency management
and the disabled persons' federation on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from citybrain.scenes.welfare.population import ARROW_TYPES, Population, timestamp_text
from citybrain.sdk.data import Column, Dataset

log = logging.getLogger(__name__)
SERVER = {
    "civil": "mariadb",
    "hrss": "mariadb",
    "estate": "mariadb",
    "police": "mariadb",
    "medical": "postgres",
    "market": "postgres",
    "fund": "postgres",
    "emergency": "postgres",
    "disability": "postgres",
}
UPDATED = "更新时间"
XLSX_ROWS = 1_048_576  # the rows of an Excel sheet
DEFAULT_ENCODING = "gbk"  # a CSV dataset that declares no encoding: what government exports use
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "parquet": ".parquet", "ndjson": ".ndjson"}
# a row's 更新时间 in a departmental table: its own date's (when the dataset has one) at 09:00 plus up
# to ten hours, else a time in the 30 days before as_of (deterministic: a table loaded again has
# the same times, so a pull after it reads only rows added since)
DATED_BY = {
    "medical.bills": "settled",
    "hrss.unemployment": "registered",
    "emergency.disasters": "happened",
    "civil.authorisations": "signed",
}
SQL_TYPES = {
    "mariadb": {
        "text": "VARCHAR(255)",
        "id_number": "CHAR(18)",
        "area": "VARCHAR(15)",
        "int": "INT",
        "float": "DECIMAL(14,2)",
        "date": "DATE",
        "bool": "BOOLEAN",
        UPDATED: "DATETIME",
    },
    "postgres": {
        "text": "VARCHAR(255)",
        "id_number": "CHAR(18)",
        "area": "VARCHAR(15)",
        "int": "INTEGER",
        "float": "NUMERIC(14,2)",
        "date": "DATE",
        "bool": "BOOLEAN",
        UPDATED: "TIMESTAMP",
    },
}
LOAD_BATCH = 5_000  # rows per INSERT where MariaDB refuses LOAD DATA LOCAL INFILE


def server_of(dataset: str) -> str:
    """The server ("mariadb" or "postgres") holding a dataset's departmental table."""
    return SERVER[dataset.split(".", 1)[0]]


def on_server(datasets: dict[str, Dataset], server: str) -> dict[str, Dataset]:
    """The datasets whose tables live on ``server``."""
    return {name: ds for name, ds in datasets.items() if server_of(name) == server}


def table_of(dataset: str) -> str:
    return dataset.replace(".", "_")


def db_column(header: str) -> str:
    """A source header as a table's column name: the characters of a SQL name only (letters, 户编号
    too, digits and _), which a pull accepts."""
    return re.sub(r"\W", "", header)


# -- files ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder (a name the platform does not read), renamed to
    ``path`` when the block ends without error, removed when it fails."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _renamed(ds: Dataset, batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(batch.columns, names=[c.header for c in ds.columns])


def _write_csv(ds: Dataset, population: Population, path: Path) -> None:
    encoding = ds.encoding or DEFAULT_ENCODING
    options = pcsv.WriteOptions(include_header=False, quoting_style="needed", eol="\r\n")
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow([c.header for c in ds.columns])
    with _atomic(path) as tmp, tmp.open("wb") as f:
        f.write(header.getvalue().encode(encoding))
        for batch in population.rows(ds.name):
            buf = io.BytesIO()
            pcsv.write_csv(_renamed(ds, batch), buf, options)
            f.write(buf.getvalue().decode("utf-8").encode(encoding))


def _write_xlsx(ds: Dataset, population: Population, path: Path) -> list[Path]:
    """The rows in workbooks of one sheet each (a title row, the header row, the data): one file, or
    parts ``-2``, ``-3`` ... when the table is longer than a sheet holds."""
    import openpyxl

    title = ds.title.split(" / ")[0]
    rows = itertools.chain.from_iterable(
        zip(*(col.to_pylist() for col in batch.columns), strict=True) for batch in population.rows(ds.name)
    )
    written: list[Path] = []
    first = next(rows, None)
    while True:
        part = path if not written else path.with_name(f"{path.stem}-{len(written) + 1}{path.suffix}")
        with _atomic(part) as tmp:
            wb = openpyxl.Workbook(write_only=True)
            ws = wb.create_sheet(title[:31])
            ws.append([f"{title}（截至{population.as_of.isoformat()}）"])
            ws.append([c.header for c in ds.columns])
            if first is not None:
                ws.append(first)
            for row in itertools.islice(rows, XLSX_ROWS - 3):
                ws.append(row)
            wb.save(tmp)
        written.append(part)
        first = next(rows, None)
        if first is None:
            return written


def _write_parquet(ds: Dataset, population: Population, path: Path) -> None:
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(c.header, ARROW_TYPES[c.type]) for c in ds.columns])
    with _atomic(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for batch in population.rows(ds.name):
            writer.write_batch(_renamed(ds, batch))


def _write_ndjson(ds: Dataset, population: Population, path: Path) -> None:
    with _atomic(path) as tmp, tmp.open("wb") as f:
        for body in ndjson_chunks(ds, population.rows(ds.name)):
            f.write(body)


def file_name(ds: Dataset, population: Population) -> str:
    """``civil.households-2026-11-30.csv``: the dataset and the day the data describes."""
    return f"{ds.name}-{population.as_of.isoformat()}{SUFFIX[ds.format]}"


def write_files(root: Path, population: Population, datasets: dict[str, Dataset]) -> list[Path]:
    """Every file dataset's rows as a file in ``root/<the last part of its folder>/``; the paths
    written (an .xlsx table longer than a sheet is written in parts)."""
    out: list[Path] = []
    for ds in datasets.values():
        if ds.origin != "file":
            continue
        folder = root / Path(ds.folder).name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file_name(ds, population)
        if ds.format == "xlsx":
            out += _write_xlsx(ds, population, path)
            continue
        {"csv": _write_csv, "parquet": _write_parquet, "ndjson": _write_ndjson}[ds.format](
            ds, population, path
        )
        out.append(path)
    return out


# -- pushes ---------------------------------------------------------------------------------------------
_NEEDS_ESCAPE = r'["\\\x00-\x1f\x7f]'


def _json_values(column: pa.Array) -> pa.Array:
    """Each value as JSON text (null for a null)."""
    t = column.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if pc.any(pc.match_substring_regex(column, _NEEDS_ESCAPE)).as_py():
            return pa.array(
                ["null" if v is None else msgspec.json.encode(v).decode() for v in column.to_pylist()],
                pa.string(),
            )
        text = pc.binary_join_element_wise('"', column, '"', "")
    elif pa.types.is_date(t):
        text = pc.binary_join_element_wise('"', pc.cast(column, pa.string()), '"', "")
    elif pa.types.is_floating(t):
        if pc.all(pc.is_finite(column)).as_py() not in (True, None):
            raise ValueError("NaN or an infinite number cannot be written as JSON")
        text = pc.cast(column, pa.string())
    elif pa.types.is_boolean(t):
        text = pc.if_else(column, "true", "false")
    else:
        text = pc.cast(column, pa.string())
    return pc.fill_null(text, "null")


def _json_lines(ds: Dataset, batch: pa.RecordBatch) -> pa.Array:
    parts: list[Any] = []
    for i, c in enumerate(ds.columns):
        parts += [
            ("{" if i == 0 else ",") + msgspec.json.encode(c.header).decode() + ":",
            _json_values(batch.column(c.name)),
        ]
    return pc.binary_join_element_wise(*parts, "}", "")


def ndjson_chunks(dataset: Dataset, rows: Iterable[pa.RecordBatch], max_rows: int = 5_000) -> Iterator[bytes]:
    """NDJSON bodies of at most ``max_rows`` lines for a push: one JSON object a line, keyed by the
    dataset's source headers (dates as "YYYY-MM-DD", numbers as numbers, empty values as null)."""
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    pending: list[pa.Array] = []
    held = 0
    for batch in rows:
        lines = _json_lines(dataset, batch)
        start = 0
        while start < len(lines):
            take = lines.slice(start, max_rows - held)
            pending.append(take)
            held += len(take)
            start += len(take)
            if held == max_rows:
                yield _body(pending)
                pending, held = [], 0
    if held:
        yield _body(pending)


def _body(pieces: list[pa.Array]) -> bytes:
    lines = pa.concat_arrays(pieces)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "\n")
    return str(joined[0].as_py()).encode() + b"\n"


# -- databases ------------------------------------------------------------------------------------------
def _table_columns(ds: Dataset) -> list[tuple[str, str, bool]]:
    """The departmental table's columns: (name, type key, not null); 更新时间 last when added."""
    out = []
    for c in ds.columns:
        kind = UPDATED if c.header == UPDATED else c.type
        out.append((db_column(c.header), kind, c.required or c.name in ds.key))
    if not any(c.header == UPDATED for c in ds.columns):
        out.append((UPDATED, UPDATED, True))
    return out


def _updated(ds: Dataset, population: Population, batch: pa.RecordBatch, first: int) -> pa.Array:
    """Each row's 更新时间 (see DATED_BY), as "YYYY-MM-DD HH:MM:SS"."""
    spread = (np.arange(first, first + batch.num_rows, dtype=np.int64) * 7_919) % (10 * 3600)
    dated = DATED_BY.get(ds.name)
    if dated is not None and dated in batch.schema.names:
        days = batch.column(dated).cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        return timestamp_text(days * 86_400 + 9 * 3600 + spread)
    return timestamp_text(population.today * 86_400 - 1 - (spread * 72) % (30 * 86_400))


def _tsv(ds: Dataset, population: Population, batch: pa.RecordBatch, first: int) -> bytes:
    """The rows as the tab-separated text both COPY and LOAD DATA read (\\N for NULL)."""
    arrays = []
    for col in batch.columns:
        text = pc.cast(pc.cast(col, pa.int8()) if pa.types.is_boolean(col.type) else col, pa.string())
        arrays.append(pc.replace_substring(text, "\\", "\\\\"))
    names = [f"c{i}" for i in range(len(arrays))]
    if not any(c.header == UPDATED for c in ds.columns):
        arrays.append(_updated(ds, population, batch, first))
        names.append("u")
    buf = io.BytesIO()
    options = pcsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none", null_string="\\N")
    pcsv.write_csv(pa.Table.from_arrays(arrays, names=names), buf, options)
    return buf.getvalue()


def _create(server: str, ds: Dataset) -> tuple[str, str]:
    """DROP and CREATE statements of the dataset's table (no key yet: it is built after the load)."""
    q = "`" if server == "mariadb" else '"'
    cols = ", ".join(
        f"{q}{n}{q} {SQL_TYPES[server][k]}{' NOT NULL' if nn else ''}" for n, k, nn in _table_columns(ds)
    )
    tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" if server == "mariadb" else ""
    t = f"{q}{table_of(ds.name)}{q}"
    return f"DROP TABLE IF EXISTS {t}", f"CREATE TABLE {t} ({cols}){tail}"


def _keys(server: str, ds: Dataset) -> list[str]:
    q = "`" if server == "mariadb" else '"'
    t = table_of(ds.name)
    key = ", ".join(f"{q}{db_column(ds.column(k).header)}{q}" for k in ds.key)
    if server == "mariadb":
        return [f"ALTER TABLE `{t}` ADD PRIMARY KEY ({key}), ADD INDEX `{t}_updated` (`{UPDATED}`)"]
    return [
        f'ALTER TABLE "{t}" ADD PRIMARY KEY ({key})',
        f'CREATE INDEX "{t}_updated" ON "{t}" ("{UPDATED}")',
    ]


def _report(ds: Dataset, rows: int, how: str, load_s: float, keys_s: float) -> None:
    log.info(
        "%s: %d rows into %s by %s (%.1f s; key and index %.1f s)",
        ds.name,
        rows,
        table_of(ds.name),
        how,
        load_s,
        keys_s,
    )


def load_postgres(dsn: str, population: Population, datasets: dict[str, Dataset]) -> dict[str, int]:
    """Each dataset's rows into a fresh table of the PostgreSQL database ``dsn`` (COPY); the rows
    loaded, by dataset."""
    import psycopg

    out: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for ds in datasets.values():
            for sql in _create("postgres", ds):
                conn.execute(sql)
            names = ", ".join(f'"{n}"' for n, _, _ in _table_columns(ds))
            n, t0 = 0, time.perf_counter()
            with conn.cursor() as cur, cur.copy(f'COPY "{table_of(ds.name)}" ({names}) FROM STDIN') as copy:
                for batch in population.rows(ds.name):
                    copy.write(_tsv(ds, population, batch, n))
                    n += batch.num_rows
            t1 = time.perf_counter()
            for sql in _keys("postgres", ds):
                conn.execute(sql)
            out[ds.name] = n
            _report(ds, n, "COPY", t1 - t0, time.perf_counter() - t1)
    return out


def _mariadb_connect(dsn: str) -> Any:
    import pymysql

    u = urlsplit(dsn)
    return pymysql.connect(
        host=u.hostname or "localhost",
        port=u.port or 3306,
        user=unquote(u.username or ""),
        password=unquote(u.password or ""),
        database=unquote(u.path[1:]),
        charset="utf8mb4",
        autocommit=True,
        local_infile=True,
    )


def load_mariadb(
    dsn: str, population: Population, datasets: dict[str, Dataset], local_files: bool = True
) -> dict[str, int]:
    """Each dataset's rows into a fresh table of the MariaDB/MySQL database ``dsn`` (LOAD DATA LOCAL
    INFILE from a temporary file per batch; batched INSERTs when the server refuses local files, or
    when ``local_files`` is false); the rows loaded, by dataset."""
    out: dict[str, int] = {}
    conn = _mariadb_connect(dsn)
    try:
        with conn.cursor() as cur, tempfile.TemporaryDirectory(prefix="welfare-load-") as tmpdir:
            local = local_files
            for ds in datasets.values():
                for sql in _create("mariadb", ds):
                    cur.execute(sql)
                n, t0 = 0, time.perf_counter()
                for batch in population.rows(ds.name):
                    body = _tsv(ds, population, batch, n)
                    local = local and _load_data(cur, ds, body, Path(tmpdir) / "rows.tsv")
                    if not local:
                        _insert(cur, ds, body)
                    n += batch.num_rows
                t1 = time.perf_counter()
                for sql in _keys("mariadb", ds):
                    cur.execute(sql)
                out[ds.name] = n
                how = "LOAD DATA LOCAL INFILE" if local else "batched INSERTs"
                _report(ds, n, how, t1 - t0, time.perf_counter() - t1)
    finally:
        conn.close()
    return out


_LOAD_DATA = (
    "LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 FIELDS TERMINATED BY "
    "'\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({names})"
)
_NO_LOCAL_FILES = (1148, 3948, 4166)  # MariaDB/MySQL: LOAD DATA LOCAL is not allowed here


def _load_data(cur: Any, ds: Dataset, body: bytes, path: Path) -> bool:
    """``_tsv`` rows by LOAD DATA LOCAL INFILE; False when the server refuses local files."""
    import pymysql

    path.write_bytes(body)
    names = ", ".join(f"`{n}`" for n, _, _ in _table_columns(ds))
    try:
        cur.execute(_LOAD_DATA.format(table=table_of(ds.name), names=names), (str(path),))
    except pymysql.err.OperationalError as err:
        if err.args[0] not in _NO_LOCAL_FILES:
            raise
        return False
    return True


def _insert(cur: Any, ds: Dataset, body: bytes) -> None:
    """``_tsv`` rows as batched INSERTs (PyMySQL sends one multi-row statement per batch)."""
    cols = _table_columns(ds)
    names = ", ".join(f"`{n}`" for n, _, _ in cols)
    sql = f"INSERT INTO `{table_of(ds.name)}` ({names}) VALUES ({', '.join(['%s'] * len(cols))})"
    rows = [
        tuple(None if v == "\\N" else v.replace("\\\\", "\\") for v in line.split("\t"))
        for line in body.decode("utf-8").splitlines()
    ]
    for i in range(0, len(rows), LOAD_BATCH):
        cur.executemany(sql, rows[i : i + LOAD_BATCH])


def pull_datasets(datasets: dict[str, Dataset], dsn_mariadb: str, dsn_postgres: str) -> dict[str, Dataset]:
    """The datasets declared as pulls (``origin = "pull"``, increments) from the tables the loaders
    make on their department's server (``SERVER``), watermarked by 更新时间; each checked."""
    out: dict[str, Dataset] = {}
    for name, ds in datasets.items():
        columns = [msgspec.structs.replace(c, source=db_column(c.header)) for c in ds.columns]
        watermark = next((c.name for c in ds.columns if c.header == UPDATED), "")
        if not watermark:
            taken = {c.name for c in ds.columns}
            watermark = next(n for n in ("updated", "updated_at", "db_updated") if n not in taken)
            columns.append(Column(name=watermark, source=UPDATED, type="text", title="更新时间"))
        pulled = msgspec.structs.replace(
            ds,
            origin="pull",
            dsn=dsn_mariadb if server_of(name) == "mariadb" else dsn_postgres,
            table=table_of(name),
            watermark=watermark,
            snapshot=False,
            columns=columns,
            folder="",
            format="csv",
            encoding="",
            sheet="",
        )
        pulled.check()
        out[name] = pulled
    return out

"""Export from PostgreSQL: ``COPY .. TO STDOUT`` streamed to a file (constant memory whatever the
table's size); Parquet is converted from that CSV with the table's column types."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Literal

import psycopg
import pyarrow as pa

from citybrain.core.errors import StoreError
from citybrain.core.store import schema
from citybrain.core.store.pg_conn import PgConnections

_ARROW_TYPES = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "character varying": pa.string(),
    "double precision": pa.float64(),
}


def export(
    db: PgConnections,
    table: str,
    fmt: Literal["parquet", "csv"],
    path: str,
    since: int | None,
    until: int | None,
) -> int:
    col, lo, hi = schema.export_range(table, since, until)
    query = f"COPY (SELECT * FROM {table} WHERE {col} >= {int(lo)} AND {col} < {int(hi)} ORDER BY {col}) "
    query += "TO STDOUT (FORMAT csv, HEADER true)"
    if fmt == "csv":
        return _copy_out(db, query, path)
    fd, tmp = tempfile.mkstemp(suffix=".csv", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        n = _copy_out(db, query, tmp)
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        types = {
            name: _ARROW_TYPES[dtype]
            for name, dtype in db.rows(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?",
                [table],
            )
        }
        convert = pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        )
        arrow = pacsv.read_csv(tmp, convert_options=convert)
        pq.write_table(arrow, path)
    finally:
        os.unlink(tmp)
    return n


def _copy_out(db: PgConnections, query: str, path: str) -> int:
    try:
        with db.tx() as cur, open(path, "wb") as f:
            with cur.copy(query) as copy:
                for chunk in _chunks(copy):
                    f.write(chunk)
            return max(cur.rowcount, 0)
    except psycopg.Error as err:
        raise StoreError(f"export failed: {err}") from err


def _chunks(copy: psycopg.Copy) -> Iterator[bytes]:
    for data in copy:
        yield bytes(data)

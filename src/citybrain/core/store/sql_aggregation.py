"""The aggregation tables, the same SQL on both backends (``Aggregation`` in base.py; the runner in
core/aggregation).

A run's report, its refused rows and (for a pull) the watermark it reached are written in one
transaction: a pull killed between pages resumes after the last page whose facts were durable,
and the report never claims rows that were not kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import pyarrow as pa

from citybrain.core.aggregation.facts import CurrentRow, Fact, Reject, RunReport
from citybrain.core.store.base import Aggregation
from citybrain.core.store.schema import Columns
from citybrain.core.store.sql_primitives import SqlPrimitives

_RUN = msgspec.json.Decoder(RunReport)
_REJECT = msgspec.json.Decoder(Reject)
_JSON = msgspec.json.Encoder()
_DATA = msgspec.json.Decoder(dict[str, Any])
REJECT_COLUMNS: Columns = (("run_id", "text"), ("row_no", "bigint"), ("doc", "text"))
CURRENT_COLUMNS: Columns = (("dataset", "text"), ("key", "text"), ("as_of", "text"), ("batch", "text"),
                            ("ts", "bigint"), ("doc", "text"))  # fmt: skip
# a row stands until a fact of the same key as of the same day or later replaces it
UPSERT_CURRENT = (
    "INSERT INTO agg_current SELECT dataset, key, as_of, batch, ts, doc FROM {src} "
    "ON CONFLICT (dataset, key) DO UPDATE SET as_of = excluded.as_of, batch = excluded.batch, "
    "ts = excluded.ts, doc = excluded.doc WHERE excluded.as_of >= agg_current.as_of"
)
UPSERT_REJECTS = (
    "INSERT INTO agg_rejects SELECT run_id, row_no, doc FROM {src} ON CONFLICT (run_id, row_no) "
    "DO UPDATE SET doc = excluded.doc"
)
UPSERT_RUN = (
    "INSERT INTO agg_runs VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
    "doc = excluded.doc"
)
REF_COLUMNS: Columns = (("dataset", "text"), ("col", "text"), ("key", "text"), ("as_of", "text"),
                        ("value", "text"))  # fmt: skip
# an indexed column's value of a row follows the row: the same rule as agg_current's upsert
UPSERT_REFS = (
    "INSERT INTO agg_refs SELECT dataset, col, key, as_of, value FROM {src} "
    "ON CONFLICT (dataset, col, key) DO UPDATE SET as_of = excluded.as_of, value = excluded.value "
    "WHERE excluded.as_of >= agg_refs.as_of"
)
UPSERT_MARK = (
    "INSERT INTO agg_marks VALUES (?, ?, ?) ON CONFLICT (dataset) DO UPDATE SET mark = excluded.mark, "
    "updated_ts = excluded.updated_ts"
)


# a column type of a dataset (core/aggregation/datasets.py) -> its SQL cast and its Arrow type
SQL_OF = {"int": "BIGINT", "float": "DOUBLE PRECISION", "bool": "BOOLEAN"}
_DUCK_OF = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}  # json_transform's types
ARROW_OF = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "text": pa.string(),
            "date": pa.string(), "id_number": pa.string(), "area": pa.string()}  # fmt: skip
_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")


def _ref(value: Any) -> str | None:
    """A value as the index keeps it: the text JSON's ``->>`` gives for it."""
    if value is None or isinstance(value, str):
        return value
    return _JSON.encode(value).decode()


def _check_column(column: str) -> None:
    if not _COLUMN.match(column):
        raise ValueError(f"column {column!r} cannot be read")


def current_table_query(
    dataset: str,
    columns: Mapping[str, str],
    where: tuple[str, Sequence[str]] | None = None,
    indexed: bool = False,
    transform: bool = False,
) -> tuple[str, list[Any]]:
    """The current rows of ``dataset`` with ``columns`` (name -> type) read out of their JSON, typed
    (only those whose column ``where[0]`` holds one of ``where[1]``, found through ``agg_refs``
    when that column is ``indexed``): the same SQL on DuckDB and PostgreSQL. ``transform``
    (DuckDB): each document parsed once into a struct of the columns (``json_transform_strict``:
    a value of another type is an error, as PostgreSQL's cast), about twice as fast as one ``->>``
    per column."""
    parts = []
    for name, typ in columns.items():
        if not _COLUMN.match(name) or typ not in ARROW_OF:
            raise ValueError(f"column {name!r} of type {typ!r} cannot be read")
        text = f"(CAST(doc AS JSON) ->> '{name}')"
        parts.append((f"CAST({text} AS {SQL_OF[typ]})" if typ in SQL_OF else text) + f' AS "{name}"')
    cols = "".join(f", {p}" for p in parts)
    cond, params = "", [dataset]
    if where is not None:
        column, values = where
        _check_column(column)
        marks = ", ".join("?" * len(values)) or "NULL"
        if indexed:  # the keys of the rows holding those values, from the index
            cond = (
                f" AND key IN (SELECT key FROM agg_refs WHERE dataset = ? AND col = ? AND value IN ({marks}))"
            )
            params += [dataset, column, *values]
        else:
            cond = f" AND (CAST(doc AS JSON) ->> '{column}') IN ({marks})"
            params += list(values)
    if transform and columns:
        shape = msgspec.json.encode({n: _DUCK_OF.get(t, "VARCHAR") for n, t in columns.items()}).decode()
        picked = "".join(f', s."{n}" AS "{n}"' for n in columns)
        parsed = f"json_transform_strict(doc, '{shape}') AS s"
        inner = f"SELECT key, as_of, {parsed} FROM agg_current WHERE dataset = ?{cond}"
        return f"SELECT key, as_of{picked} FROM ({inner}) t ORDER BY key", params
    return f"SELECT key, as_of{cols} FROM agg_current WHERE dataset = ?{cond} ORDER BY key", params


class SqlAggregation(Aggregation, SqlPrimitives):
    """``Aggregation`` over the primitives of ``sql.SqlStore``."""

    def save_run(
        self,
        report: RunReport,
        rejects: Sequence[Reject] = (),
        mark: str | None = None,
        current: Sequence[Fact] = (),
        replaces: bool = False,
        refs: Sequence[str] = (),
    ) -> None:
        with self._transaction(f"saving run {report.id!r}") as tx:
            latest = {f.key: f for f in current}  # a key twice in a chunk: its last row stands
            if latest:
                rows = [[f.dataset, f.key, f.as_of, f.batch, f.ts, _JSON.encode(f.data).decode()]
                        for f in latest.values()]  # fmt: skip
                self._upsert(tx, UPSERT_CURRENT, CURRENT_COLUMNS, [list(c) for c in zip(*rows, strict=True)])
                if refs:
                    made = [[f.dataset, col, f.key, f.as_of, _ref(f.data.get(col))]
                            for col in refs for f in latest.values()]  # fmt: skip
                    self._upsert(tx, UPSERT_REFS, REF_COLUMNS, [list(c) for c in zip(*made, strict=True)])
            if replaces:  # a whole table delivered: the keys it no longer holds are gone
                tx.execute(
                    "DELETE FROM agg_current WHERE dataset = ? AND batch <> ? AND as_of <= ?",
                    [report.dataset, report.id, report.as_of],
                )
                if refs:
                    tx.execute(
                        "DELETE FROM agg_refs WHERE dataset = ? AND NOT EXISTS (SELECT 1 FROM agg_current c "
                        "WHERE c.dataset = agg_refs.dataset AND c.key = agg_refs.key)",
                        [report.dataset],
                    )
            tx.execute(UPSERT_RUN, [report.id, report.dataset, report.started_ts, report.status,
                                    _JSON.encode(report).decode()])  # fmt: skip
            if rejects:
                docs = [_JSON.encode(r).decode() for r in rejects]
                self._upsert(tx, UPSERT_REJECTS, REJECT_COLUMNS,
                             [[r.run_id for r in rejects], [r.row for r in rejects], docs])  # fmt: skip
            if mark is not None:
                tx.execute(UPSERT_MARK, [report.dataset, mark, report.finished_ts or report.started_ts])

    def index_refs(self, dataset: str, column: str) -> int:
        _check_column(column)
        with self._transaction(f"indexing {dataset}.{column}") as tx:
            if tx.rows("SELECT 1 FROM agg_refs WHERE dataset = ? AND col = ? LIMIT 1", [dataset, column]):
                return 0
            return int(
                tx.execute(
                    f"INSERT INTO agg_refs SELECT dataset, '{column}', key, as_of, "
                    f"CAST(doc AS JSON) ->> '{column}' FROM agg_current WHERE dataset = ? "
                    "ON CONFLICT DO NOTHING",
                    [dataset],
                )
            )

    def run(self, run_id: str) -> RunReport | None:
        rows = self._rows("SELECT doc FROM agg_runs WHERE id = ?", [run_id])
        return _RUN.decode(rows[0][0]) if rows else None

    def runs(self, dataset: str = "", limit: int = 100) -> list[RunReport]:
        rows = self._rows(
            "SELECT doc FROM agg_runs WHERE (? = '' OR dataset = ?) ORDER BY started_ts DESC, id LIMIT ?",
            [dataset, dataset, max(0, min(limit, 10_000))],
        )
        return [_RUN.decode(r[0]) for r in rows]

    def rejects(self, run_id: str, limit: int = 1_000) -> list[Reject]:
        rows = self._rows(
            "SELECT doc FROM agg_rejects WHERE run_id = ? ORDER BY row_no LIMIT ?",
            [run_id, max(0, min(limit, 100_000))],
        )
        return [_REJECT.decode(r[0]) for r in rows]

    def current_rows(self, dataset: str, keys: Sequence[str] | None = None) -> list[CurrentRow]:
        sql = "SELECT key, as_of, batch, ts, doc FROM agg_current WHERE dataset = ?"
        params: list[Any] = [dataset]
        if keys is not None:
            if not keys:
                return []
            sql += f" AND key IN ({', '.join('?' * len(keys))})"
            params += list(keys)
        rows = self._rows(sql + " ORDER BY key", params)
        return [CurrentRow(str(k), str(a), str(b), int(t), _DATA.decode(d)) for k, a, b, t, d in rows]

    def current_table(
        self,
        dataset: str,
        columns: Mapping[str, str],
        where: tuple[str, Sequence[str]] | None = None,
        indexed: bool = False,
    ) -> pa.Table:
        sql, params = current_table_query(dataset, columns, where, indexed)
        rows = self._rows(sql, params)
        names = ["key", "as_of", *columns]
        types = [pa.string(), pa.string(), *(ARROW_OF[t] for t in columns.values())]
        return pa.table(
            {n: pa.array([r[i] for r in rows], t) for i, (n, t) in enumerate(zip(names, types, strict=True))}
        )

    def mark(self, dataset: str) -> str | None:
        rows = self._rows("SELECT mark FROM agg_marks WHERE dataset = ?", [dataset])
        return str(rows[0][0]) if rows else None

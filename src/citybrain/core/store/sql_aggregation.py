"""The aggregation tables, the same SQL on both backends (``Aggregation`` in base.py; the runner in
core/aggregation).

A run's report, its refused rows and (for a pull) the watermark it reached are written in one
transaction: a pull killed between pages resumes after the last page whose facts were durable,
and the report never claims rows that were not kept.

Each dataset's rows as they stand (the latest fact of each key) are a table of their own, typed: a
column per declared column (``declare_dataset``), the row's provenance in the ``_``-prefixed
columns (a declared column's name starts with a letter). A whole population's features read a
few columns of millions of rows: typed columns are scanned as they are, where one JSON document
per row had to be parsed first (43 s for a million households' 26 M rows, docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import msgspec
import pyarrow as pa

from citybrain.core.aggregation.facts import CurrentRow, Fact, Reject, RunReport
from citybrain.core.errors import NotFoundError, StoreError
from citybrain.core.store.base import Aggregation, CurrentView
from citybrain.core.store.schema import Columns
from citybrain.core.store.sql_primitives import SqlPrimitives

_RUN = msgspec.json.Decoder(RunReport)
_REJECT = msgspec.json.Decoder(Reject)
_JSON = msgspec.json.Encoder()
REJECT_COLUMNS: Columns = (("run_id", "text"), ("row_no", "bigint"), ("doc", "text"))
UPSERT_REJECTS = (
    "INSERT INTO agg_rejects SELECT run_id, row_no, doc FROM {src} ON CONFLICT (run_id, row_no) "
    "DO UPDATE SET doc = excluded.doc"
)
UPSERT_RUN = (
    "INSERT INTO agg_runs VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
    "doc = excluded.doc"
)
UPSERT_MARK = (
    "INSERT INTO agg_marks VALUES (?, ?, ?) ON CONFLICT (dataset) DO UPDATE SET mark = excluded.mark, "
    "updated_ts = excluded.updated_ts"
)

# a dataset's current rows: the row's key and provenance, then its declared columns
META: Columns = (("_key", "text"), ("_as_of", "text"), ("_batch", "text"), ("_ts", "bigint"))
# a column type of a dataset (core/aggregation/datasets.py) -> its SQL type, the same name on both
# backends (dates, ID numbers and areas are text) ...
SQL_OF = {"int": "bigint", "float": "float8", "bool": "boolean"}
# ... and what each backend's information_schema calls it
_STORED_AS = {"varchar": "text", "text": "text", "character varying": "text", "bigint": "bigint",
              "double": "float8", "double precision": "float8", "boolean": "boolean"}  # fmt: skip
ARROW_OF = {"bigint": pa.int64(), "float8": pa.float64(), "boolean": pa.bool_(), "text": pa.string()}
_DATASET = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")


def rows_table(dataset: str) -> str:
    """The name of the table holding ``dataset``'s current rows (unquoted)."""
    if not _DATASET.match(dataset):
        raise ValueError(f"dataset {dataset!r} cannot be stored: '<department>.<table>' in lower case")
    name = "agg_rows__" + dataset.replace(".", "__")
    if len(name) > 63:  # PostgreSQL's longest identifier
        name = name[:46] + "_" + hashlib.blake2b(dataset.encode(), digest_size=8).hexdigest()
    return name


def sql_type(column_type: str) -> str:
    return SQL_OF.get(column_type, "text")


_COLUMNS_OF = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
)


def _stored(rows: Sequence[tuple[Any, ...]]) -> dict[str, str]:
    """A table's columns as information_schema lists them -> name -> our SQL type names."""
    return {str(n): _STORED_AS.get(str(t).lower(), str(t).lower()) for n, t in rows}


def _in(column: str, values: Sequence[str]) -> str:
    return f'"{column}" IN ({", ".join("?" * len(values)) or "NULL"})'


class SqlAggregation(Aggregation, SqlPrimitives):
    """``Aggregation`` over the primitives of ``sql.SqlStore``."""

    _INDEXES = False  # a B-tree on each indexed column (PostgreSQL); DuckDB scans a column in ms

    def _declared_columns(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] | None = self.__dict__.get("_agg_declared")
        if found is None:
            found = self.__dict__["_agg_declared"] = {}
        return found

    def _ddl_lock(self, tx: Any) -> None:
        """Hold off other processes' DDL until ``tx`` ends (PostgreSQL: an advisory lock)."""

    def declare_dataset(self, dataset: str, columns: Mapping[str, str], indexed: Sequence[str] = ()) -> None:
        table = rows_table(dataset)
        types = {}
        for name, typ in columns.items():
            if not _COLUMN.match(name):
                raise ValueError(f"dataset {dataset!r}: column {name!r} cannot be stored")
            types[name] = sql_type(typ)
        with self._transaction(f"declaring dataset {dataset!r}") as tx:
            self._ddl_lock(tx)
            have = _stored(tx.rows(_COLUMNS_OF, [table]))
            if not have:
                cols = ", ".join(f'"{n}" {t}' for n, t in [*META, *types.items()])
                tx.execute(f'CREATE TABLE "{table}" ({cols}, PRIMARY KEY (_key))')
            for name, typ in types.items() if have else ():
                if name not in have:
                    tx.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {typ}')
                elif have[name] != typ:
                    raise StoreError(
                        f"dataset {dataset!r}: column {name!r} is stored as {have[name]} but declared "
                        f"{typ}: give the changed column a new name (its rows as they stand are kept)"
                    )
            if self._INDEXES:
                for name in indexed:
                    index = hashlib.blake2b(f"{table}.{name}".encode(), digest_size=8).hexdigest()
                    tx.execute(f'CREATE INDEX IF NOT EXISTS "agg_ix_{index}" ON "{table}" ("{name}")')
        self._declared_columns()[dataset] = types

    def _columns(self, dataset: str) -> dict[str, str]:
        """The columns of ``dataset`` (name -> SQL type): as declared in this process, else as its
        table holds them (a reader that runs before any declaration, or on another node)."""
        known = self._declared_columns()
        if dataset not in known:
            stored = _stored(self._rows(_COLUMNS_OF, [rows_table(dataset)]))
            if not stored:
                raise NotFoundError(f"dataset {dataset!r} has no rows here: it was never declared")
            known[dataset] = {n: t for n, t in stored.items() if not n.startswith("_")}
        return known[dataset]

    def _picked(self, dataset: str, columns: Sequence[str]) -> dict[str, str]:
        have = self._columns(dataset)
        for c in columns:
            if c not in have:
                raise ValueError(f"dataset {dataset!r} has no column {c!r}")
        return {c: have[c] for c in columns}

    def save_run(
        self,
        report: RunReport,
        rejects: Sequence[Reject] = (),
        mark: str | None = None,
        current: Sequence[Fact] = (),
        replaces: bool = False,
    ) -> None:
        latest = {f.key: f for f in current}  # a key twice in a chunk: its last row stands
        if any(f.dataset != report.dataset for f in latest.values()):
            raise ValueError(f"run {report.id!r}: current rows of another dataset than {report.dataset!r}")
        with self._transaction(f"saving run {report.id!r}") as tx:
            if latest or replaces:
                table, types = rows_table(report.dataset), self._columns(report.dataset)
            if latest:
                facts = list(latest.values())
                names = [*(n for n, _ in META), *types]
                quoted = ", ".join(f'"{n}"' for n in names)
                sets = ", ".join(f'"{n}" = excluded."{n}"' for n in names[1:])
                self._upsert(
                    tx,
                    f'INSERT INTO "{table}" ({quoted}) SELECT {quoted} FROM {{src}} ON CONFLICT (_key) '
                    f'DO UPDATE SET {sets} WHERE excluded._as_of >= "{table}"._as_of',
                    (*META, *types.items()),
                    [
                        [f.key for f in facts],
                        [f.as_of for f in facts],
                        [f.batch for f in facts],
                        [f.ts for f in facts],
                        *([f.data.get(c) for f in facts] for c in types),
                    ],
                )
            if replaces:  # a whole table delivered: the keys it no longer holds are gone
                tx.execute(
                    f'DELETE FROM "{table}" WHERE _batch <> ? AND _as_of <= ?', [report.id, report.as_of]
                )
            tx.execute(UPSERT_RUN, [report.id, report.dataset, report.started_ts, report.status,
                                    _JSON.encode(report).decode()])  # fmt: skip
            if rejects:
                docs = [_JSON.encode(r).decode() for r in rejects]
                self._upsert(tx, UPSERT_REJECTS, REJECT_COLUMNS,
                             [[r.run_id for r in rejects], [r.row for r in rejects], docs])  # fmt: skip
            if mark is not None:
                tx.execute(UPSERT_MARK, [report.dataset, mark, report.finished_ts or report.started_ts])

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
        cols = list(self._columns(dataset))
        if keys is not None and not keys:
            return []
        picked = "".join(f', "{c}"' for c in cols)
        cond = "" if keys is None else " WHERE " + _in("_key", keys)
        rows = self._rows(
            f'SELECT _key, _as_of, _batch, _ts{picked} FROM "{rows_table(dataset)}"{cond} ORDER BY _key',
            list(keys or ()),
        )
        return [CurrentRow(str(r[0]), str(r[1]), str(r[2]), int(r[3]), dict(zip(cols, r[4:], strict=True)))
                for r in rows]  # fmt: skip

    def _current_select(self, view: CurrentView) -> tuple[str, list[Any]]:
        """The SQL of a view's rows: key, as_of and its columns, typed; with its parameters."""
        self._picked(view.dataset, [*view.columns, *([view.where[0]] if view.where else [])])
        picked = "".join(f', "{c}"' for c in view.columns)
        cond, params = "", []
        if view.where is not None:
            column, values = view.where
            cond, params = " WHERE " + _in(column, values), list(values)
        return f'SELECT _key AS key, _as_of AS as_of{picked} FROM "{rows_table(view.dataset)}"{cond}', params

    def current_table(
        self, dataset: str, columns: Sequence[str], where: tuple[str, Sequence[str]] | None = None
    ) -> pa.Table:
        view = CurrentView(dataset, tuple(columns), where)
        sql, params = self._current_select(view)
        rows = self._rows(sql + " ORDER BY key", params)
        types = self._columns(dataset)
        arrow = [pa.string(), pa.string(), *(ARROW_OF[types[c]] for c in columns)]
        names = ["key", "as_of", *columns]
        return pa.table(
            {n: pa.array([r[i] for r in rows], t) for i, (n, t) in enumerate(zip(names, arrow, strict=True))}
        )

    def current_query(self, views: Mapping[str, CurrentView], *queries: str) -> list[pa.Table]:
        """Each view read out of the store into Arrow, the queries run over them in an in-memory
        DuckDB (DuckStore runs them in place)."""
        con = duckdb.connect()
        try:
            for name, view in views.items():
                con.register(name, self.current_table(view.dataset, view.columns, view.where))
            return [con.sql(q).to_arrow_table() for q in queries]
        finally:
            con.close()

    def mark(self, dataset: str) -> str | None:
        rows = self._rows("SELECT mark FROM agg_marks WHERE dataset = ?", [dataset])
        return str(rows[0][0]) if rows else None

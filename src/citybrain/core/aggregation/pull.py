"""Incremental pulls (增量抽取) from a department's database: MariaDB/MySQL (PyMySQL) or PostgreSQL
(psycopg, the ``scaleout`` extra), page by page, in the order of a watermark column, resumable.

A pull reads a dataset's columns (by their source names) from its table in the order
(watermark, key columns) and stops at the end of the table; each :class:`Page` carries the
:class:`Mark` after its last row, and a pull started after a mark reads exactly the rows that
sort after it: none twice, none lost, even when many rows share one watermark value across a
page boundary (the key breaks the tie). A row updated later with a newer updated-at sorts after
the mark again, so the next pull reads it again with its new values.

How the order is kept the same in the database and in the mark:

- the watermark is compared as the column's own type: the mark keeps it as int, float or text
  (datetimes and dates as ISO 8601 text, decimals as text) and passes it back as it is kept; the
  database reads a text parameter as the column's type (PostgreSQL types the parameter by the
  column, MySQL converts a constant compared with a DATETIME column to a DATETIME);
- the key columns only break ties, and are compared as text in code-point order (``CAST(k AS
  TEXT) COLLATE "C"``, MySQL ``CAST(CONVERT(k USING utf8mb4) AS BINARY)``), so ``10`` sorts before
  ``9`` between two rows of the same watermark; a NULL key reads as empty text.

What a pull does not read: a row whose watermark is NULL cannot be ordered, so it is never read
(a department's table needs its updated-at filled). Rows sharing both watermark and key are read
together in one page. A row committed after a pull passed its watermark with an *older* watermark
(a long transaction) is missed: the updated-at column should be set at commit time.

Each page is two short reads in autocommit (a watermark bound found on the watermark's index,
then the rows up to it), so a page costs its own rows even on a table without an index on the
key; the connection is closed when the pull ends, fails, or the caller stops reading.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from citybrain.core import extras
from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.aggregation.readers import RawRow
from citybrain.core.errors import ConfigError, DecodeError, StoreError

Dialect = Literal["mysql", "pg"]
_DIALECTS: dict[str, Dialect] = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "pg", "postgres": "pg"}
_PORTS: dict[Dialect, int] = {"mysql": 3306, "pg": 5432}
# one table or column name: letters (户编号 too), digits and _, not starting with a digit; nothing
# else (no quote, space, dot or semicolon) can reach the SQL
_IDENT = re.compile(r"(?!\d)\w{1,64}")
_DB_NAME = re.compile(r"[A-Za-z0-9_$-]{1,64}")
_PG_OPTION = re.compile(r"[a-z_]{1,40}")  # libpq keywords: sslmode, sslrootcert, options ...
_MYSQL_OPTIONS = {"ssl_ca", "ssl_cert", "ssl_key"}  # paths PyMySQL takes for TLS
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 600  # MySQL: a page query stuck longer than this fails the pull


class PullError(StoreError):
    """A departmental database could not be read (down, refused the login, no such table); the
    message names the dataset, the address without its password, and the database's reason."""


@dataclass(frozen=True)
class Mark:
    """Where a pull stopped: the last row's watermark value and key (JSON-able: the watermark as
    int, float or ISO text; datetimes as ISO 8601 text)."""

    value: int | float | str
    # the last row's key column values as text (ties on the watermark are broken by the key)
    key: tuple[str, ...]

    def as_json(self) -> str:
        return json.dumps({"value": self.value, "key": list(self.key)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Mark:
        """The mark :meth:`as_json` wrote; DecodeError if the text is not one."""
        try:
            raw = json.loads(text)
        except (ValueError, TypeError) as err:
            raise DecodeError(f"pull mark {text[:80]!r}: not JSON: {err}") from None
        value = raw.get("value") if isinstance(raw, dict) else None
        key = raw.get("key") if isinstance(raw, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DecodeError(f"pull mark {text[:80]!r}: 'value' must be a number or text")
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            raise DecodeError(f"pull mark {text[:80]!r}: 'key' must be a list of text")
        return cls(value, tuple(key))


@dataclass(frozen=True)
class Page:
    """One page of a pull: its rows (numbered from 1 across the whole pull, values by source
    column name), the mark after its last row, and where they came from ("mariadb test.dibao")."""

    rows: list[RawRow]
    mark: Mark
    where: str


@dataclass(frozen=True)
class _Source:
    """A checked pull: how to connect, and the SQL pieces, every name validated and quoted."""

    ds: Dataset
    dialect: Dialect
    connect: dict[str, Any] = field(repr=False)  # holds the password: never printed
    password: str = field(repr=False)
    label: str  # the address without the password
    where: str
    table: str
    headers: list[str]  # the columns read, by source name
    wm: str  # the quoted watermark column
    wm_at: int  # its index in a row
    keys: list[str]  # the key columns as text expressions (the tie-breaker)

    @property
    def select(self) -> str:
        quote = _quote(self.dialect)
        cols = [quote(h) for h in self.headers] + [f"{k} AS cb_key{i}" for i, k in enumerate(self.keys)]
        return f"SELECT {', '.join(cols)} FROM {self.table}"

    @property
    def order(self) -> str:
        return f"ORDER BY {', '.join([self.wm, *self.keys])}"

    def after(self, m: Mark | None) -> tuple[str, list[Any]]:
        """Rows sorting after ``m`` (all rows with a watermark when None)."""
        if m is None:
            return f"{self.wm} IS NOT NULL", []
        keys = ", ".join(self.keys)
        places = ", ".join(["%s"] * len(self.keys))
        sql = f"{self.wm} >= %s AND ({self.wm} > %s OR ({keys}) > ({places}))"
        return sql, [m.value, m.value, *m.key]

    def upto(self, m: Mark) -> tuple[str, list[Any]]:
        """Rows sorting at or before ``m``."""
        keys = ", ".join(self.keys)
        places = ", ".join(["%s"] * len(self.keys))
        sql = f"{self.wm} <= %s AND ({self.wm} < %s OR ({keys}) <= ({places}))"
        return sql, [m.value, m.value, *m.key]

    def at(self, m: Mark) -> tuple[str, list[Any]]:
        """Rows sorting exactly at ``m``."""
        keys = ", ".join(self.keys)
        places = ", ".join(["%s"] * len(self.keys))
        return f"{self.wm} = %s AND ({keys}) = ({places})", [m.value, *m.key]


def _quote(dialect: Dialect) -> Callable[[str], str]:
    q = "`" if dialect == "mysql" else '"'
    return lambda name: ".".join(f"{q}{part}{q}" for part in name.split("."))


def _key_text(dialect: Dialect, quoted: str) -> str:
    """A key column as text in code-point order (binary UTF-8 compares as code points)."""
    if dialect == "mysql":
        return f"COALESCE(CAST(CONVERT({quoted} USING utf8mb4) AS BINARY), '')"
    return f"(COALESCE(CAST({quoted} AS TEXT), '') COLLATE \"C\")"


@dataclass(frozen=True)
class _Address:
    """A dsn taken apart, user and password URL-decoded."""

    scheme: str
    user: str
    password: str = field(repr=False)
    host: str
    port: int
    db: str
    options: dict[str, str]


def _address(dsn: str) -> _Address | None:
    """The parts of a ``scheme://user:password@host:port/db?options`` address; None when it does not
    parse (a password with an unencoded ``/``, ``#`` or ``?`` spills into the rest)."""
    try:
        u = urlsplit(dsn)
        port, host = u.port, u.hostname or ""
    except ValueError:
        return None
    scheme, db = u.scheme.lower(), unquote(u.path[1:])
    if scheme not in _DIALECTS or not _DB_NAME.fullmatch(db) or u.fragment:
        return None
    options = dict(parse_qsl(u.query, keep_blank_values=True))
    return _Address(scheme, unquote(u.username or ""), unquote(u.password or ""), host,
                    port or _PORTS[_DIALECTS[scheme]], db, options)  # fmt: skip


def connect_label(dsn: str) -> str:
    """The database's address for messages, without any password: "mariadb://root@127.0.0.1:3306/test"."""
    a = _address(dsn)
    if a is None:
        scheme = dsn.partition("://")[0].lower()
        shown = scheme if scheme in _DIALECTS else "?"
        return f"{shown}://(an address that does not parse: percent-encode the password's special characters)"
    host = f"[{a.host}]" if ":" in a.host else a.host
    at = f"{a.user}@" if a.user else ""
    return f"{a.scheme}://{at}{f'{host}:{a.port}' if host else ''}/{a.db}"


def _source(ds: Dataset) -> _Source:
    """The dataset's pull checked (ConfigError naming the dataset), before any connection."""
    ds.check()
    name = f"dataset {ds.name!r}"
    if ds.origin != "pull":
        raise ConfigError(f"{name}: it is a {ds.origin} dataset, not a pull")
    parts = ds.table.split(".")
    if len(parts) > 2 or not all(_IDENT.fullmatch(p) for p in parts):
        raise ConfigError(
            f"{name}: table {ds.table!r} must be 'table' or 'schema.table' (letters, digits, _)"
        )
    headers = list(dict.fromkeys(c.header for c in ds.columns))
    for h in headers:
        if not _IDENT.fullmatch(h):
            raise ConfigError(f"{name}: source column {h!r} must be letters, digits and _ (at most 64)")
    label = connect_label(ds.dsn)
    a = _address(ds.dsn)
    if a is None:
        raise ConfigError(f"{name}: its dsn is not scheme://user:password@host:port/database ({label})")
    dialect = _DIALECTS[a.scheme]
    connect: dict[str, Any]
    if dialect == "mysql":
        if unknown := set(a.options) - _MYSQL_OPTIONS:
            raise ConfigError(
                f"{name}: a mysql dsn takes only {sorted(_MYSQL_OPTIONS)}, not {sorted(unknown)}"
            )
        connect = {"host": a.host or "localhost", "port": a.port, "user": a.user or None,
                   "password": a.password, "database": a.db, "charset": "utf8mb4", "autocommit": True,
                   "connect_timeout": CONNECT_TIMEOUT_S, "read_timeout": READ_TIMEOUT_S,
                   "write_timeout": READ_TIMEOUT_S}  # fmt: skip
    else:
        connect = {"dbname": a.db, "port": a.port, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S,
                   "client_encoding": "utf8", "application_name": "citybrain pull"}  # fmt: skip
        for opt in a.options:
            if not _PG_OPTION.fullmatch(opt) or opt in connect or opt in ("host", "user", "password"):
                raise ConfigError(f"{name}: the dsn option {opt!r} is not allowed")
        connect |= {k: v for k, v in (("host", a.host), ("user", a.user), ("password", a.password)) if v}
    connect |= a.options
    quote = _quote(dialect)
    wm = ds.column(ds.watermark).header
    return _Source(
        ds=ds, dialect=dialect, connect=connect, password=a.password, label=label,
        where=f"{a.scheme} {a.db}.{ds.table}", table=quote(ds.table), headers=headers, wm=quote(wm),
        wm_at=headers.index(wm), keys=[_key_text(dialect, quote(ds.column(k).header)) for k in ds.key],
    )  # fmt: skip


class _Reader:
    """An open connection to the source: ``rows(sql, params)``; errors become PullError."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.errors: tuple[type[BaseException], ...]
        if src.dialect == "mysql":
            import pymysql

            self.errors = (pymysql.err.MySQLError, OSError)  # OSError: a TLS file that cannot be read
            connect: Callable[..., Any] = pymysql.connect
        else:
            extras.require("scaleout", "pulls from PostgreSQL")
            import psycopg

            self.errors = (psycopg.Error, OSError)
            connect = psycopg.connect
        try:
            self.conn = connect(**src.connect)
        except self.errors as err:
            raise self._error(err, "cannot connect") from None

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            cur = self.conn.cursor()
            try:
                cur.execute(sql, list(params))
                return list(cur.fetchall())
            finally:
                cur.close()
        except self.errors as err:
            raise self._error(err, f"cannot read table {self.src.ds.table}") from None

    def close(self) -> None:
        with contextlib.suppress(*self.errors):  # already broken: nothing to release
            self.conn.close()

    def _error(self, err: BaseException, what: str) -> PullError:
        args = err.args
        if self.src.dialect == "mysql" and len(args) == 2:
            reason = f"{args[1]} (error {args[0]})"
        else:
            reason = " ".join(str(err).split()) or type(err).__name__
        if self.src.password:
            reason = reason.replace(self.src.password, "***")
        return PullError(f"dataset {self.src.ds.name!r}: {what} at {self.src.label}: {reason}")


def _mark_value(src: _Source, v: Any) -> int | float | str:
    if v is None or isinstance(v, bool | bytes | bytearray | memoryview):
        raise PullError(f"dataset {src.ds.name!r}: watermark {src.ds.watermark!r} holds {type(v).__name__}, "
                        "which cannot order rows (use an updated-at time or a growing number)")  # fmt: skip
    if isinstance(v, int | float | str):
        return v
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    return str(v)  # decimals, uuids: text the database reads back as the column's type


def _key_values(row: tuple[Any, ...], start: int) -> tuple[str, ...]:
    out = []
    for v in row[start:]:
        out.append(v.decode("utf-8") if isinstance(v, bytes | bytearray) else str(v))
    return tuple(out)


def pull_pages(ds: Dataset, after: Mark | None, page_size: int = 5_000) -> Generator[Page, None, None]:
    """The rows of ``ds``'s table that sort after ``after`` (from the start when None), page by
    page (a page holds ``page_size`` rows, more when rows tying on watermark and key straddle its
    end), up to the table's end. The dataset is checked first, before any connection
    (ConfigError); the database failing is a PullError. ``close()`` the generator to stop early:
    its connection is closed then."""
    src = _source(ds)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ConfigError(f"dataset {ds.name!r}: page_size must be a whole number >= 1, not {page_size!r}")
    if after is not None and len(after.key) != len(src.keys):
        raise ConfigError(
            f"dataset {ds.name!r}: the mark has {len(after.key)} key values but the key has "
            f"{len(src.keys)} columns {ds.key} (was the key changed? start a new pull)"
        )
    return _pages(src, after, page_size)


_EMPTY_ROUNDS = 10  # empty pages in a row before a pull gives up (a watermark that cannot be compared)


def _pages(src: _Source, after: Mark | None, page_size: int) -> Generator[Page, None, None]:
    n_cols = len(src.headers)

    def sort_key(row: tuple[Any, ...]) -> tuple[Any, tuple[str, ...]]:
        return row[src.wm_at], _key_values(row, n_cols)

    db = _Reader(src)
    try:
        no, mark, empty = 0, after, 0
        while True:
            # the watermark of the page_size-th row after the mark's watermark (index-only on the
            # watermark); the page's rows lie at or below it, so the page sorts only its own rows
            beyond = f"{src.wm} > %s" if mark else f"{src.wm} IS NOT NULL"
            bound = f"SELECT {src.wm} FROM {src.table} WHERE {beyond} ORDER BY {src.wm} LIMIT 1 OFFSET %s"
            found = db.rows(bound, ([mark.value] if mark else []) + [page_size - 1])
            where, params = src.after(mark)
            if found:
                where, params = f"{where} AND {src.wm} <= %s", [*params, found[0][0]]
            rows = db.rows(f"{src.select} WHERE {where} {src.order} LIMIT %s", [*params, page_size + 1])
            if not rows:
                if not found:
                    return
                empty += 1  # rows deleted between the two reads: look again, a few times
                if empty > _EMPTY_ROUNDS:
                    raise PullError(f"{src.where}: the watermark {src.wm} does not order its rows (a float?)")
                continue
            empty = 0
            more = len(rows) > page_size
            if more:
                last, following = sort_key(rows[page_size - 1]), sort_key(rows[page_size])
                rows = rows[:page_size]
                if following == last:  # rows tying on watermark and key straddle the page end: take them all
                    at, at_params = src.at(_mark(src, last))
                    rows = [r for r in rows if sort_key(r) != last] + db.rows(
                        f"{src.select} WHERE {at}", at_params
                    )
            out = []
            for r in rows:
                no += 1
                out.append(RawRow(no=no, values=dict(zip(src.headers, r[:n_cols], strict=True))))
            mark = _mark(src, sort_key(rows[-1]))
            yield Page(rows=out, mark=mark, where=src.where)
            if not found and not more:
                return
    finally:
        db.close()


def _mark(src: _Source, key: tuple[Any, tuple[str, ...]]) -> Mark:
    return Mark(_mark_value(src, key[0]), key[1])


def source_count(ds: Dataset, after: Mark | None, upto: Mark) -> int:
    """How many rows the source holds in (``after``, ``upto``] by the pull's order (the run
    report's reconciliation figure: it equals the rows a pull read there unless rows changed)."""
    src = _source(ds)
    for m in (after, upto):
        if m is not None and len(m.key) != len(src.keys):
            raise ConfigError(f"dataset {ds.name!r}: a mark has {len(m.key)} key values, the key {ds.key}")
    low, low_params = src.after(after)
    high, high_params = src.upto(upto)
    db = _Reader(src)
    try:
        got = db.rows(f"SELECT COUNT(*) FROM {src.table} WHERE {low} AND {high}", [*low_params, *high_params])
    finally:
        db.close()
    return int(got[0][0])

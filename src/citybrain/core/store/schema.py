"""The store's tables, in the SQL subset that both DuckDB and PostgreSQL run.

Times are BIGINT epoch milliseconds (portable, and DuckDB's TIMESTAMPTZ fetch needs pytz);
bucketing is ``ts - ts % bucket``. Placeholders are ``?``; the PostgreSQL store rewrites them.
"""

from collections.abc import Sequence

from citybrain.core.store.base import AuditSearch

TABLES: dict[str, str] = {
    "events": """CREATE TABLE IF NOT EXISTS events (
        partition INTEGER NOT NULL, poff BIGINT NOT NULL, id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        key VARCHAR NOT NULL, source VARCHAR NOT NULL, ts BIGINT NOT NULL, ingest_ts BIGINT NOT NULL,
        payload VARCHAR NOT NULL)""",
    "metrics": """CREATE TABLE IF NOT EXISTS metrics (
        name VARCHAR NOT NULL, key VARCHAR NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, key, ts))""",
    "states": """CREATE TABLE IF NOT EXISTS states (
        scene VARCHAR NOT NULL, key VARCHAR NOT NULL, ts BIGINT NOT NULL, data VARCHAR NOT NULL,
        PRIMARY KEY (scene, key))""",
    "alerts": """CREATE TABLE IF NOT EXISTS alerts (
        id VARCHAR PRIMARY KEY, rule VARCHAR NOT NULL, scene VARCHAR NOT NULL, key VARCHAR NOT NULL,
        dedupe_key VARCHAR NOT NULL, severity VARCHAR NOT NULL, status VARCHAR NOT NULL,
        title VARCHAR NOT NULL, message VARCHAR NOT NULL, data VARCHAR NOT NULL,
        opened_ts BIGINT NOT NULL, last_ts BIGINT NOT NULL, count BIGINT NOT NULL,
        acked_by VARCHAR, acked_ts BIGINT, ack_note VARCHAR,
        resolved_by VARCHAR, resolved_ts BIGINT, resolve_note VARCHAR)""",
    "checkpoints": """CREATE TABLE IF NOT EXISTS checkpoints (
        processor VARCHAR NOT NULL, partition INTEGER NOT NULL, poff BIGINT NOT NULL, state BYTEA NOT NULL,
        updated_ts BIGINT NOT NULL, PRIMARY KEY (processor, partition))""",
    # the entries of processors' keyed state fields (core/keyed.py), committed with the checkpoint
    "processor_entries": """CREATE TABLE IF NOT EXISTS processor_entries (
        processor VARCHAR NOT NULL, partition INTEGER NOT NULL, field VARCHAR NOT NULL, key VARCHAR NOT NULL,
        data BYTEA NOT NULL, PRIMARY KEY (processor, partition, field, key))""",
    "late_events": """CREATE TABLE IF NOT EXISTS late_events (
        processor VARCHAR NOT NULL, partition INTEGER NOT NULL, poff BIGINT NOT NULL, id VARCHAR NOT NULL,
        ts BIGINT NOT NULL, watermark BIGINT NOT NULL, recorded_ts BIGINT NOT NULL)""",
    "quarantine": """CREATE TABLE IF NOT EXISTS quarantine (
        stage VARCHAR NOT NULL, processor VARCHAR NOT NULL, partition INTEGER NOT NULL, poff BIGINT NOT NULL,
        id VARCHAR NOT NULL, kind VARCHAR NOT NULL, key VARCHAR NOT NULL, source VARCHAR NOT NULL,
        ts BIGINT NOT NULL, reason VARCHAR NOT NULL, payload VARCHAR NOT NULL,
        recorded_ts BIGINT NOT NULL)""",
    "tokens": """CREATE TABLE IF NOT EXISTS tokens (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, scopes VARCHAR NOT NULL, hash VARCHAR NOT NULL,
        created_ts BIGINT NOT NULL, revoked_ts BIGINT)""",
    "audit": """CREATE TABLE IF NOT EXISTS audit (
        ts BIGINT NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL, target VARCHAR NOT NULL,
        detail VARCHAR NOT NULL)""",
    # people and their console sessions: documents the identity package owns (citybrain.identity)
    "users": """CREATE TABLE IF NOT EXISTS users (
        id VARCHAR PRIMARY KEY, username VARCHAR NOT NULL UNIQUE, doc VARCHAR NOT NULL,
        updated_ts BIGINT NOT NULL)""",
    "sessions": """CREATE TABLE IF NOT EXISTS sessions (
        id VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, doc VARCHAR NOT NULL, last_ts BIGINT NOT NULL)""",
    # work orders: each case's current row and its log, one entry per version (core/cases)
    "cases": """CREATE TABLE IF NOT EXISTS cases (
        id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, scene VARCHAR NOT NULL, state VARCHAR NOT NULL,
        version BIGINT NOT NULL, opened_ts BIGINT NOT NULL, updated_ts BIGINT NOT NULL,
        department VARCHAR NOT NULL, area VARCHAR NOT NULL, category VARCHAR NOT NULL,
        due_ts BIGINT, step_due_ts BIGINT, closed_ts BIGINT, doc VARCHAR NOT NULL)""",
    "case_log": """CREATE TABLE IF NOT EXISTS case_log (
        case_id VARCHAR NOT NULL, version BIGINT NOT NULL, ts BIGINT NOT NULL,
        command_id VARCHAR NOT NULL UNIQUE, doc VARCHAR NOT NULL, PRIMARY KEY (case_id, version))""",
    # data subjects' erasures: asked, then done by the pipeline (``Erasures`` in base.py)
    "erasures": """CREATE TABLE IF NOT EXISTS erasures (
        id VARCHAR PRIMARY KEY, scene VARCHAR NOT NULL, key VARCHAR NOT NULL, reason VARCHAR NOT NULL,
        requested_by VARCHAR NOT NULL, requested_ts BIGINT NOT NULL, done_ts BIGINT,
        deleted VARCHAR NOT NULL)""",
    # data aggregation (core/aggregation): each run of a dataset, its refused rows, where pulls stand
    "agg_runs": """CREATE TABLE IF NOT EXISTS agg_runs (
        id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, started_ts BIGINT NOT NULL, status VARCHAR NOT NULL,
        doc VARCHAR NOT NULL)""",
    "agg_rejects": """CREATE TABLE IF NOT EXISTS agg_rejects (
        run_id VARCHAR NOT NULL, row_no BIGINT NOT NULL, doc VARCHAR NOT NULL,
        PRIMARY KEY (run_id, row_no))""",
    # the double-entry ledger (core/ledger.py): postings only ever inserted, with the processor
    # commit that caused them; (txn, line) unique so a movement cannot be written twice
    "ledger": """CREATE TABLE IF NOT EXISTS ledger (
        txn VARCHAR NOT NULL, line INTEGER NOT NULL, account VARCHAR NOT NULL, amount BIGINT NOT NULL,
        ts BIGINT NOT NULL, kind VARCHAR NOT NULL, ref VARCHAR NOT NULL, scene VARCHAR NOT NULL,
        memo VARCHAR NOT NULL, recorded_ts BIGINT NOT NULL, PRIMARY KEY (txn, line))""",
    "agg_marks": """CREATE TABLE IF NOT EXISTS agg_marks (
        dataset VARCHAR PRIMARY KEY, mark VARCHAR NOT NULL, updated_ts BIGINT NOT NULL)""",
}

ALERT_COLUMNS = (
    "id, rule, scene, key, dedupe_key, severity, status, title, message, data, opened_ts, last_ts, count, "
    "acked_by, acked_ts, ack_note, resolved_by, resolved_ts, resolve_note"
)

UPSERT_METRICS = (
    "INSERT INTO metrics SELECT name, key, ts, value FROM {src} "
    "ON CONFLICT (name, key, ts) DO UPDATE SET value = excluded.value"
)
UPSERT_STATES = (
    "INSERT INTO states SELECT scene, key, ts, data FROM {src} "
    "ON CONFLICT (scene, key) DO UPDATE SET ts = excluded.ts, data = excluded.data"
)
UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?) ON CONFLICT (processor, partition) "
    "DO UPDATE SET poff = excluded.poff, state = excluded.state, updated_ts = excluded.updated_ts"
)
INSERT_ALERT = (
    f"INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ({', '.join('?' * 19)}) ON CONFLICT (id) DO NOTHING"
)
UPDATE_ALERT = (
    "UPDATE alerts SET severity = ?, title = ?, message = ?, data = ?, last_ts = ?, count = ? "
    "WHERE id = ? AND status <> 'resolved'"
)
RESOLVE_ALERT = (
    "UPDATE alerts SET status = 'resolved', resolved_by = ?, resolved_ts = ?, resolve_note = ?, last_ts = ? "
    "WHERE id = ? AND status <> 'resolved'"
)
ACK_ALERT = "UPDATE alerts SET status = 'acknowledged', acked_by = ?, acked_ts = ?, ack_note = ? WHERE id = ?"
# postings go in as one statement over the batch's columns; never an upsert: a (txn, line) already
# there fails the commit (a movement written twice is a bug, not a retry)
INSERT_POSTINGS = (
    "INSERT INTO ledger SELECT txn, line, account, amount, ts, kind, ref, scene, memo, recorded_ts FROM {src}"
)
INSERT_LATE = "INSERT INTO late_events VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_QUARANTINE = f"INSERT INTO quarantine VALUES ({', '.join('?' * 12)})"
INSERT_TOKEN = "INSERT INTO tokens (id, name, scopes, hash, created_ts, owner) VALUES (?, ?, ?, ?, ?, ?)"
INSERT_AUDIT = "INSERT INTO audit VALUES (?, ?, ?, ?, ?)"
UPSERT_USER = (
    "INSERT INTO users VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, "
    "updated_ts = excluded.updated_ts"
)
UPSERT_SESSION = (
    "INSERT INTO sessions VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, "
    "last_ts = excluded.last_ts"
)

# An event id is stored once whatever its time (schema version 2): an append claims its ids in
# ``event_ids`` (its primary key) and stores only the events whose id it claimed, so the first
# stored version of an id wins. Sorted, so concurrent PostgreSQL writers take the keys in one order.
CLAIM_EVENT_IDS = (
    "INSERT INTO event_ids SELECT id, ts FROM {src} ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id"
)
# ids go with their events at retention (the ts of an id is its stored event's)
PRUNE_EVENT_IDS = "DELETE FROM event_ids WHERE ts < ? AND id NOT IN (SELECT id FROM events WHERE ts < ?)"

# The columns of a batch upsert (``UPSERT_METRICS``, ``UPSERT_STATES``) with their SQL types; each
# backend turns them into its own bulk source (an Arrow table, ``unnest`` of arrays).
Columns = tuple[tuple[str, str], ...]
METRIC_COLUMNS: Columns = (("name", "text"), ("key", "text"), ("ts", "bigint"), ("value", "float8"))
STATE_COLUMNS: Columns = (("scene", "text"), ("key", "text"), ("ts", "bigint"), ("data", "text"))
ID_COLUMNS: Columns = (("id", "text"), ("ts", "bigint"))  # of CLAIM_EVENT_IDS
POSTING_COLUMNS: Columns = (("txn", "text"), ("line", "bigint"), ("account", "text"), ("amount", "bigint"),
                            ("ts", "bigint"), ("kind", "text"), ("ref", "text"), ("scene", "text"),
                            ("memo", "text"), ("recorded_ts", "bigint"))  # fmt: skip

# Reads
READ_LOG = (
    "SELECT poff, id, ingest_ts, payload, kind, key, source, ts FROM events "
    "WHERE partition = ? AND poff > ? ORDER BY poff LIMIT ?"
)
UPSERT_ENTRIES = (
    "INSERT INTO processor_entries SELECT processor, partition, field, key, data FROM {src} "
    "ON CONFLICT (processor, partition, field, key) DO UPDATE SET data = excluded.data"
)
ENTRY_COLUMNS: Columns = (
    ("processor", "text"), ("partition", "bigint"), ("field", "text"), ("key", "text"), ("data", "bytea"),
)  # fmt: skip
DELETE_ENTRIES = (
    "DELETE FROM processor_entries WHERE processor = ? AND partition = ? "
    "AND (field, key) IN (SELECT field, key FROM {src})"
)
ENTRY_KEY_COLUMNS: Columns = (("field", "text"), ("key", "text"))
READ_ENTRIES = "SELECT field, key, data FROM processor_entries WHERE processor = ? AND partition = ?"
READ_CHECKPOINT = "SELECT poff, state FROM checkpoints WHERE processor = ? AND partition = ?"
QUARANTINE_LIST = (
    "SELECT stage, processor, partition, poff, id, kind, key, source, ts, reason, payload, recorded_ts "
    "FROM quarantine ORDER BY recorded_ts DESC LIMIT ?"
)
METRIC_KEYS = "SELECT DISTINCT key FROM metrics WHERE name = ? ORDER BY key"
TOKEN_COLUMNS = "SELECT id, name, scopes, created_ts, revoked_ts, owner FROM tokens"
AUDIT_COLUMNS = "ts, actor, action, target, detail"
AUDIT_MAX = 10_000  # records one audit search returns at most


# Exportable tables and the time column used to filter them.
EXPORTABLE: dict[str, str] = {
    "events": "ts",
    "metrics": "ts",
    "states": "ts",
    "alerts": "opened_ts",
    "late_events": "ts",
    "quarantine": "recorded_ts",
    "audit": "ts",
}

AGGS: dict[str, str] = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)",
    "last": "max(value)",  # max of an upserted bucket (one value per name, key and ts)
}
METRIC_SERIES = (
    "SELECT b, {agg} FROM (SELECT ts - ts % ? AS b, value FROM metrics "
    "WHERE name = ? AND key = ? AND ts >= ? AND ts < ?) t GROUP BY b ORDER BY b"
)


def alerts_query(
    status: str | None,
    severity: str | None,
    scene: str | None,
    key: str | None,
    since: int | None,
    limit: int,
) -> tuple[str, list[object]]:
    """The filtered alert listing, newest first: SQL and its parameters."""
    where: list[str] = ["1 = 1"]
    params: list[object] = []
    for col, val in (("status", status), ("severity", severity), ("scene", scene), ("key", key)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if since is not None:
        where.append("last_ts >= ?")
        params.append(since)
    sql = (
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY opened_ts DESC, id LIMIT ?"
    )
    return sql, [*params, limit]


def _like(text: str) -> str:
    """``text`` as a LIKE pattern that matches it literally (with ``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def audit_query(q: AuditSearch, limit: int) -> tuple[str, list[object]]:
    """The audit log searched (``AuditSearch``), newest first, at most ``AUDIT_MAX`` records: SQL
    and its parameters (every value bound, none formatted into the SQL)."""
    conds: list[tuple[str, object]] = [
        (f"lower({col}) LIKE ? ESCAPE '\\'", f"%{_like(text.lower())}%")
        for col, text in (("actor", q.actor), ("target", q.target))
        if text
    ]
    if q.action:
        prefix = q.action.endswith(".")
        conds.append(
            ("action LIKE ? ESCAPE '\\'", _like(q.action) + "%") if prefix else ("action = ?", q.action)
        )
    conds += [(f"ts {op} ?", ts) for op, ts in ((">=", q.since), ("<", q.until)) if ts is not None]
    where = " AND ".join(["1 = 1", *(c for c, _ in conds)])
    sql = f"SELECT {AUDIT_COLUMNS} FROM audit WHERE {where} ORDER BY ts DESC LIMIT ?"
    return sql, [*(v for _, v in conds), max(0, min(limit, AUDIT_MAX))]


def find_events_query(
    kinds: Sequence[str],
    keys: Sequence[str] | None,
    start: int | None,
    end: int | None,
    contains: str | None,
    limit: int,
) -> tuple[str, list[object]]:
    """Raw events by kind (and key, time range, payload text), oldest first: SQL and parameters."""
    where = [f"kind IN ({', '.join('?' * len(kinds))})"]
    params: list[object] = list(kinds)
    if keys is not None:
        where.append(f"key IN ({', '.join('?' * len(keys))})" if keys else "1 = 0")
        params.extend(keys)
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts < ?")
        params.append(end)
    if contains is not None:
        where.append("payload LIKE ?")
        # "_" stays a one-character wildcard: a false match is possible, so callers check the events
        params.append("%" + contains.replace("%", "") + "%")
    sql = f"SELECT id, ingest_ts, payload FROM events WHERE {' AND '.join(where)} ORDER BY ts, id LIMIT ?"
    return sql, [*params, limit]


# What retention may delete besides age: never events some processor has not consumed yet, and
# only alerts that are resolved.
RETENTION_GUARDS: dict[str, str] = {
    "events": " AND poff <= coalesce((SELECT min(c.poff) FROM checkpoints c "
    "WHERE c.partition = events.partition), 0)",
    "alerts": " AND status = 'resolved'",
}


# What an erasure deletes of a subject (scene, key): per table, the column naming the scene and
# whether it holds the scene itself or a name prefixed "<scene>."; events only once every processor
# of their partition has passed them (the retention guard), so none vanishes under a processor.
ERASABLE: dict[str, tuple[str, bool]] = {
    "events": ("kind", True),
    "states": ("scene", False),
    "metrics": ("name", True),
    "alerts": ("scene", False),
    "quarantine": ("kind", True),
}
ERASURE_COLUMNS = "SELECT id, scene, key, reason, requested_by, requested_ts, done_ts, deleted FROM erasures"
# events of the subject that were stored by the time it was asked and are not erased yet
ERASURE_LEFT = "SELECT count(*) FROM events WHERE starts_with(kind, ?) AND key = ? AND ingest_ts <= ?"


def erase_where(table: str) -> str:
    """The WHERE clause (``?``: the scene or its "<scene>." prefix, then the key) of what an erasure
    deletes from ``table``."""
    column, prefixed = ERASABLE[table]
    scene = f"starts_with({column}, ?)" if prefixed else f"{column} = ?"
    guard = RETENTION_GUARDS["events"] if table == "events" else ""
    return f"{scene} AND key = ?{guard}"


def retention_where(table: str) -> str:
    """The WHERE clause (one ``?``: the cutoff, epoch ms) of rows retention deletes from ``table``."""
    return f"{EXPORTABLE[table]} < ?{RETENTION_GUARDS.get(table, '')}"


def export_range(table: str, since: int | None, until: int | None) -> tuple[str, int, int]:
    """An exportable table's time column and the range to export (open ends become far bounds)."""
    if table not in EXPORTABLE:
        from citybrain.core.errors import NotFoundError

        raise NotFoundError(f"table {table!r} cannot be exported; choose one of {sorted(EXPORTABLE)}")
    lo = since if since is not None else -(2**62)
    hi = until if until is not None else 2**62
    return EXPORTABLE[table], lo, hi

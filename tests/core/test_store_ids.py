"""An event id is stored once whatever its timestamp (issue 13 item 5), on both stores: the first
stored version of an id wins, within a batch, across batches, across restarts and through the
scale-out raw sink's append."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.core.store.base import Store
from citybrain.core.store.duck import DuckStore
from citybrain.core.store.postgres import PostgresStore
from citybrain.core.store.sql import SqlStore
from citybrain.scenes.pulse.events import PulseReport
from tests.core.test_store import BACKENDS, TS, close_backend, open_backend, part

DAY = 86_400_000


def _report(eid: str, ts: int, category: str = "x", key: str = "d0") -> PulseReport:
    return PulseReport(key=key, ts=ts, category=category, id=eid)


def _rows_by_id(store: Store) -> dict[str, list[tuple[int, str]]]:
    """Every stored event row as id -> [(ts, category)]."""
    assert isinstance(store, SqlStore)
    out: dict[str, list[tuple[int, str]]] = {}
    for ev in store.find_events(["pulse.report"]):
        assert isinstance(ev, PulseReport)
        out.setdefault(ev.id, []).append((ev.ts, ev.category))
    return out


def _reopen(store: Store, tmp: Path) -> Store:
    store.close()
    if isinstance(store, DuckStore):
        return DuckStore(store.path)
    assert isinstance(store, PostgresStore)
    return PostgresStore(store.dsn, store.schema)


def test_a_resent_id_with_another_timestamp_is_a_duplicate(store: Store) -> None:
    """The defect: the duplicate check looked only within the batch's event-time range."""
    assert store.append_events([_report("same", TS)], part).duplicates == 0
    again = store.append_events([_report("same", TS + 3 * DAY, category="changed")], part)
    assert (len(again.accepted), again.duplicates) == (0, 1)
    assert store.count_events() == 1
    assert _rows_by_id(store) == {"same": [(TS, "x")]}


def test_the_raw_sink_append_keeps_one_row_per_id(tmp_path: Path) -> None:
    """What the JetStream raw sink calls (``append_partitioned`` with bus sequences): a re-sent id in
    a later message, with another time and partition, is not copied again; the sequence still moves."""
    store = open_backend("postgres", tmp_path)
    try:
        assert isinstance(store, PostgresStore)
        store.append_partitioned([(0, _report("s1", TS)), (1, _report("s2", TS))], {0: 5, 1: 7})
        res = store.append_partitioned([(2, _report("s1", TS - 2 * DAY, key="d9"))], {2: 3})
        assert (len(res.accepted), res.duplicates) == (0, 1)
        assert store.count_events() == 2 and store.sink_positions() == {0: 5, 1: 7, 2: 3}
        assert _rows_by_id(store)["s1"] == [(TS, "x")]
    finally:
        close_backend(store)


# -- properties ------------------------------------------------------------------------------------
# A sending history: batches of (id, ts shift in days, category), with a restart of the store
# before some batches. Ids come from a small pool so that they repeat, with altered fields and times.
_EVENT = st.tuples(st.sampled_from([f"e{i}" for i in range(6)]), st.integers(-40, 40), st.sampled_from("abc"))
_HISTORY = st.lists(
    st.tuples(st.booleans(), st.lists(_EVENT, min_size=1, max_size=8)), min_size=1, max_size=5
)


def _check_history(backend: str, history: list[tuple[bool, list[tuple[str, int, str]]]]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cb-ids-"))
    store = open_backend(backend, tmp)
    first: dict[str, tuple[int, str]] = {}
    try:
        for restart, batch in history:
            if restart:
                store = _reopen(store, tmp)
            events = [_report(eid, TS + shift * DAY + shift, cat) for eid, shift, cat in batch]
            new_ids = {eid for eid, _, _ in batch} - set(first)
            for ev in events:
                first.setdefault(ev.id, (ev.ts, ev.category))
            res = store.append_events(events, part)
            assert {ev.id for _, _, ev in res.accepted} == new_ids
            assert len(res.accepted) + res.duplicates == len(events)
        assert _rows_by_id(store) == {eid: [v] for eid, v in first.items()}  # one row each, the first
        assert store.count_events() == len(first)
    finally:
        close_backend(store)


_PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(history=_HISTORY)
def test_property_one_row_per_id_first_wins_duckdb(history: Any) -> None:
    _check_history("duckdb", history)


@_PROPERTY
@given(history=_HISTORY)
def test_property_one_row_per_id_first_wins_postgres(history: Any) -> None:
    _check_history("postgres", history)


def test_concurrent_postgres_writers_store_an_id_once(tmp_path: Path) -> None:
    """Two PostgreSQL writers (two stores on one schema, as two workers) send the same ids with
    different times at once: each id is stored by exactly one of them."""
    import threading

    a = open_backend("postgres", tmp_path)
    assert isinstance(a, PostgresStore)
    b = PostgresStore(a.dsn, a.schema)
    ids = [f"c{i}" for i in range(300)]
    results: list[int] = []

    def send(s: Store, shift: int) -> None:
        results.append(len(s.append_events([_report(i, TS + shift) for i in ids], part).accepted))

    try:
        threads = [threading.Thread(target=send, args=(s, k * DAY)) for k, s in enumerate((a, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(results) == len(ids) and a.count_events() == len(ids)
        with psycopg.connect(a.dsn) as conn:
            n = conn.execute(f'SELECT count(DISTINCT id) FROM "{a.schema}".events').fetchone()
        assert n == (len(ids),)
    finally:
        b.close()
        close_backend(a)


def test_retention_forgets_the_ids_of_deleted_events_only(tmp_path: Path) -> None:
    for backend in BACKENDS:
        (tmp_path / backend).mkdir()
        store = open_backend(backend, tmp_path / backend)
        try:
            assert isinstance(store, SqlStore)
            store.append_events([_report("old", TS - 10 * DAY), _report("new", TS)], part)
            for p in range(4):  # every event processed: retention may delete the old one
                store.commit("proc", p, store.heads().get(p, 0), b"", _empty_outputs())
            store.apply_retention({"events": TS - DAY})
            ids = {r[0] for r in store._rows("SELECT id FROM event_ids")}
            assert ids == {"new"}
            assert store.append_events([_report("new", TS - 5 * DAY)], part).duplicates == 1
        finally:
            close_backend(store)


def _empty_outputs() -> Any:
    from citybrain.core.outputs import Outputs

    return Outputs()

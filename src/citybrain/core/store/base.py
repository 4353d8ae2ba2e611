"""The store's interfaces, one per kind of user, and the values they pass.

* ``EventLog``: the embedded bus's durable log. ``append_events`` assigns each new event its partition
  offset inside the same write that makes it durable; the bus reads it back with ``read_events``.
* ``Checkpoints``: a processor's state and offset, committed with its outputs in one transaction.
* ``ReadModel``: what scenes, reports and the API read (states, metrics, alerts, look-back events,
  late and quarantined events). A scene is handed only this.
* ``Tokens`` and ``Audit``: API credentials and the record of who did what.

``Store`` is their union plus the platform's own writes (alert lifecycle, quarantine, retention,
export): what the platform holds. The SQL both backends share is in ``sql.SqlStore``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import pyarrow as pa

from citybrain.core.aggregation.facts import CurrentRow, Fact, Reject, RunReport
from citybrain.core.cases.records import Case, CaseChange, CaseEntry, CaseQuery
from citybrain.core.errors import CitybrainError
from citybrain.core.events import Event
from citybrain.core.ledger import Posting, TrialBalance
from citybrain.core.outputs import Alert, AlertOp, Outputs, Quarantined

Agg = Literal["avg", "min", "max", "sum", "count", "last"]


@dataclass
class AppendResult:
    """Events made durable by one append, with their (partition, offset), and the duplicates skipped."""

    accepted: list[tuple[int, int, Event]] = field(default_factory=list)
    duplicates: int = 0
    # the same events by partition: first offset and the events in offset order (a store that
    # assigns offsets fills it as it goes; else it is derived from ``accepted``)
    groups: dict[int, tuple[int, list[Event]]] = field(default_factory=dict)

    def by_partition(self) -> dict[int, tuple[int, list[Event]]]:
        if not self.groups:
            for p, off, ev in self.accepted:
                self.groups.setdefault(p, (off, []))[1].append(ev)
        return self.groups


@dataclass(frozen=True)
class AlertQuery:
    status: str | None = None
    severity: str | None = None
    scene: str | None = None
    key: str | None = None
    since: int | None = None
    limit: int = 200


@dataclass(frozen=True)
class AuditSearch:
    """Which audit records: ``actor`` and ``target`` case-insensitive substrings, ``action`` exact or
    a prefix ending in "." ("user."), ``since`` <= ts < ``until`` (epoch ms); empty: any."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: int | None = None
    until: int | None = None


EVERY_RECORD = AuditSearch()


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_ts: int
    revoked_ts: int | None
    owner: str = ""  # who made it: "user:<id>", "token:<id>", "cli", or empty (before owners)


@dataclass(frozen=True)
class Erasure:
    """A data subject's erasure: every record of entity ``key`` in ``scene`` (its events, state,
    metrics, alerts, quarantined events) and what the scene's processors hold of it. ``done_ts``
    stays None until nothing of it stored by ``requested_ts`` is left; ``deleted`` counts rows per
    table. The request and the audit trail are kept."""

    id: str
    scene: str
    key: str
    reason: str
    requested_by: str
    requested_ts: int
    done_ts: int | None = None
    deleted: dict[str, int] = field(default_factory=dict)


class EventLog(ABC):
    """Raw events: the durable log of the embedded bus, partitioned, with contiguous offsets."""

    @abstractmethod
    def heads(self) -> dict[int, int]:
        """Highest offset per partition ever written (0 where none)."""

    @abstractmethod
    def append_events(self, events: Sequence[Event], partition_of: Callable[[str], int]) -> AppendResult:
        """Store new events durably (skipping ids already stored); return their offsets.

        Each event's payload is the JSON encoding of that event object itself, so a stored payload is
        always its own event's content, whatever the order or the duplicates of the batch.
        """

    @abstractmethod
    def read_events(self, partition: int, after: int, limit: int) -> list[tuple[int, Event]]:
        """Events of one partition with offset > ``after``, in offset order."""

    @abstractmethod
    def count_events(self) -> int: ...


# the entries of processors' keyed state a commit changes (core/keyed.py): field -> key -> encoded
# entry, None: deleted
EntryChanges = Mapping[str, Mapping[str, bytes | None]]


class Checkpoints(ABC):
    """Processor checkpoints: state and offset, committed with the batch's outputs."""

    @abstractmethod
    def load_checkpoint(self, processor: str, partition: int) -> tuple[int, bytes] | None: ...

    @abstractmethod
    def load_entries(self, processor: str, partition: int) -> dict[str, dict[str, bytes]]:
        """The committed entries of the processor's keyed state fields (core/keyed.py):
        field -> key -> encoded entry."""

    @abstractmethod
    def commit(
        self,
        processor: str,
        partition: int,
        poff: int,
        state: bytes,
        out: Outputs,
        entries: EntryChanges | None = None,
    ) -> list[Alert]:
        """Outputs and the checkpoint in one transaction; returns the alerts as they now stand.
        ``entries``: the keyed entries the batch changed (field -> key -> entry, None: deleted)."""


class Ledger(ABC):
    """The double-entry ledger as written by processor commits (core/ledger.py); read only."""

    @abstractmethod
    def ledger_postings(
        self,
        *,
        account: str | None = None,
        ref: str | None = None,
        txn: str | None = None,
        prefix: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 1_000,
    ) -> list[Posting]:
        """Postings of an account, a reference, a transaction or the accounts starting with
        ``prefix``, in ``[since, until)``, oldest first."""

    @abstractmethod
    def ledger_balances(self, prefix: str = "", until: int | None = None) -> dict[str, int]:
        """The balance (fen, debits positive) of every account starting with ``prefix``, from the
        postings before ``until``."""

    @abstractmethod
    def ledger_summary(self, since: int, until: int, scene: str = "") -> list[tuple[str, str, int, int]]:
        """The movements of ``[since, until)`` (of ``scene``) summed: (transaction kind, account
        type (the name's prefix: payer, lot, channel ...), net fen, transactions), sorted."""

    @abstractmethod
    def trial_balance(self) -> TrialBalance:
        """The whole ledger summed: debits, credits, and any transaction that does not balance."""


class ReadModel(Ledger):
    """What scenes, reports and the API read; nothing here writes."""

    @abstractmethod
    def find_events(
        self,
        kinds: Sequence[str],
        *,
        keys: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        contains: str | None = None,
        limit: int = 100_000,
    ) -> list[Event]:
        """Stored events of ``kinds`` (of ``keys``, in ``[start, end)``, whose JSON contains the
        text ``contains``), oldest first: for scenes that look back (genealogy, replay)."""

    @abstractmethod
    def states(self, scene: str, key: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]: ...

    @abstractmethod
    def metric_keys(self, name: str) -> list[str]: ...

    @abstractmethod
    def metric_series(
        self, name: str, key: str, start: int, end: int, bucket_ms: int, agg: Agg
    ) -> list[tuple[int, float]]: ...

    @abstractmethod
    def alerts(self, q: AlertQuery) -> list[Alert]: ...

    @abstractmethod
    def alert(self, alert_id: str) -> Alert:
        """One alert; ``NotFoundError`` when there is none of that id."""

    @abstractmethod
    def late_count(self) -> int: ...

    @abstractmethod
    def quarantined(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest quarantined events with their stage and reason."""

    @abstractmethod
    def quarantine_count(self) -> int: ...


class Tokens(ABC):
    """API tokens, stored by the hash of their secret."""

    @abstractmethod
    def add_token(
        self, token_id: str, name: str, scopes: Sequence[str], digest: str, now: int, owner: str = ""
    ) -> None: ...

    @abstractmethod
    def token_by_hash(self, digest: str) -> Token | None: ...

    @abstractmethod
    def tokens(self) -> list[Token]: ...

    @abstractmethod
    def revoke_token(self, token_id: str, now: int) -> None:
        """Mark a token revoked; ``NotFoundError`` when there is none of that id."""


class Audit(ABC):
    """Who did what, newest first."""

    @abstractmethod
    def audit(self, ts: int, actor: str, action: str, target: str, detail: dict[str, Any]) -> None: ...

    @abstractmethod
    def audit_log(self, limit: int = 200, search: AuditSearch = EVERY_RECORD) -> list[dict[str, Any]]:
        """The records ``search`` finds, newest first."""


class People(ABC):
    """People and their console sessions, as documents the identity package reads and writes
    (``citybrain.identity.directory``); usernames are unique, a user's sessions go with them."""

    @abstractmethod
    def put_user(self, user_id: str, username: str, doc: str, now: int) -> None: ...

    @abstractmethod
    def user_doc(self, user_id: str = "", username: str = "") -> str | None:
        """The document of the user with that id (or, given instead, that username)."""

    @abstractmethod
    def user_docs(self) -> list[str]: ...

    @abstractmethod
    def put_session(self, session_id: str, user_id: str, doc: str, last_ts: int) -> None: ...

    @abstractmethod
    def session_doc(self, session_id: str) -> str | None: ...

    @abstractmethod
    def delete_sessions(self, *, user_id: str = "", session_id: str = "") -> int:
        """End one session, or every session of a user; how many ended."""


class Erasures(ABC):
    """Erasures of data subjects, asked through the API or the CLI and done by the pipeline, which
    first makes the scene's processors forget the subject (``Processor.forget``)."""

    @abstractmethod
    def request_erasure(self, erasure: Erasure) -> None: ...

    @abstractmethod
    def erasures(self, pending: bool = False, limit: int = 200) -> list[Erasure]:
        """The newest erasures (only those not done yet, when ``pending``)."""

    @abstractmethod
    def erase_subject(self, erasure: Erasure, now: int) -> Erasure:
        """Delete the subject's rows in one transaction (events only where every processor has
        passed them); done when none it had by the request is left. Returns it as it now stands."""


class Cases(ABC):
    """Work orders (``core.cases``): each case's row and its log, changed under optimistic
    concurrency with client command ids (store/sql_cases.py)."""

    @abstractmethod
    def save_cases(self, changes: Sequence[CaseChange], audit: bool = True) -> list[CitybrainError | None]:
        """Write many changes, in order, in one transaction (group commit): each case row, its log
        entry and (with ``audit``) its audit record together. The answer of each change: None when
        written, else what stopped it, the others written all the same: ``CommandSeen`` when its
        command id was applied before (earlier in the list too), ``ConflictError`` when the stored
        case is at another version than ``expected`` (or exists, for a new case), ``NotFoundError``
        when it is gone. Several changes of one case chain: each expects the version the one
        before made."""

    @abstractmethod
    def case(self, case_id: str) -> Case:
        """One case; ``NotFoundError`` when there is none of that id."""

    @abstractmethod
    def cases_of(self, case_ids: Sequence[str]) -> dict[str, Case]:
        """The cases of those ids that exist, by id."""

    @abstractmethod
    def cases_by_commands(self, command_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """The case and version each of those command ids made, for those applied."""

    def case_by_command(self, command_id: str) -> tuple[str, int] | None:
        """The case and version a command id made, if it was applied."""
        return self.cases_by_commands([command_id]).get(command_id)

    @abstractmethod
    def case_entries(self, case_id: str) -> list[CaseEntry]:
        """A case's log, oldest first (its timeline)."""

    @abstractmethod
    def case_entries_since(self, ts: int, limit: int = 10_000) -> list[CaseEntry]:
        """Log entries of every case from ``ts`` on, oldest first (the bus relay)."""

    @abstractmethod
    def last_case_change(self) -> int | None:
        """When the newest log entry of any case was made (None: no case yet)."""

    @abstractmethod
    def find_cases(self, q: CaseQuery) -> list[Case]: ...

    @abstractmethod
    def count_cases(self) -> int: ...

    @abstractmethod
    def case_kpi_rows(
        self, scene: str, start: int, end: int, follow_until: int, open_cases: bool = False
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """What the KPIs of ``[start, end)`` are computed from (core/cases/kpi.py), as plain tuples
        (a month of a big city is some 10^5 rows: no objects per row). ``scene`` "" means every scene.

        1. log entries made in ``[start, follow_until)`` (the entries after ``end`` say whether a
           dispatch or a reply of the month was answered): ``(case_id, version, ts, area, doc)``, the
           area the case's now, ``doc`` the entry as stored (JSON of a ``CaseEntry``), in no order;
        2. cases opened, due or closed in ``[start, end)``, and open cases without a deadline (those in
           a pause: their deadline is counted again when they resume): ``(id, type, state, department,
           area, category, opened_ts, due_ts, closed_ts, paused_since, left_ms)``;
        3. with ``open_cases``, every case not closed: ``(id, type, state, department, area, opened_ts,
           due_ts, step_due_ts, lon, lat)`` (the big screen's map and counts), else empty."""


class CurrentView(NamedTuple):
    """Some of a dataset's rows as they stand, as a table of a query (``Aggregation.current_query``):
    key, as_of and ``columns``; only the rows whose column ``where[0]`` holds one of ``where[1]``."""

    dataset: str
    columns: tuple[str, ...]
    where: tuple[str, Sequence[str]] | None = None


class Aggregation(ABC):
    """Data aggregation's bookkeeping (``core.aggregation``): each run of a dataset with its report,
    its refused rows, where a pull stands, and each dataset's rows as they stand, typed
    (store/sql_aggregation.py)."""

    @abstractmethod
    def declare_dataset(self, dataset: str, columns: Mapping[str, str], indexed: Sequence[str] = ()) -> None:
        """Make ``dataset``'s table of current rows hold ``columns`` (name -> column type: text,
        int, float, bool, date, id_number, area); a column added to a declaration is added to the
        table, one whose type changed is refused (StoreError). ``indexed`` columns are read one
        subject at a time (an index where the backend needs one). Every dataset a run saves rows
        of, or a read names, is declared first, in each process."""

    @abstractmethod
    def save_run(
        self,
        report: RunReport,
        rejects: Sequence[Reject] = (),
        mark: str | None = None,
        current: Sequence[Fact] = (),
        replaces: bool = False,
    ) -> None:
        """The run's report, refused rows, (a pull) the watermark reached and the facts (of the
        run's dataset) that now stand for their keys (``current``; a fact older than the row it
        would replace does not), in one transaction; ``replaces``: the run delivered the whole
        table, so the keys of older deliveries it does not hold are gone."""

    @abstractmethod
    def current_rows(self, dataset: str, keys: Sequence[str] | None = None) -> list[CurrentRow]:
        """A dataset's rows as they stand (of ``keys``, or every one), by key."""

    @abstractmethod
    def current_table(
        self, dataset: str, columns: Sequence[str], where: tuple[str, Sequence[str]] | None = None
    ) -> pa.Table:
        """A dataset's rows as they stand, as an Arrow table by key: key, as_of and ``columns``,
        typed as declared (dates, ID numbers and areas as text), a missing value null; only the
        rows whose column ``where[0]`` holds one of the values ``where[1]``, when given."""

    @abstractmethod
    def current_query(self, views: Mapping[str, CurrentView], *queries: str) -> list[pa.Table]:
        """The answers of DuckDB ``queries`` over datasets' current rows, each view a table of the
        queries by its name: how a whole population's features are built where the rows are."""

    @abstractmethod
    def run(self, run_id: str) -> RunReport | None: ...

    @abstractmethod
    def runs(self, dataset: str = "", limit: int = 100) -> list[RunReport]:
        """The newest runs (of ``dataset``, or of every one)."""

    @abstractmethod
    def rejects(self, run_id: str, limit: int = 1_000) -> list[Reject]:
        """A run's refused rows, in row order."""

    @abstractmethod
    def mark(self, dataset: str) -> str | None:
        """Where the pulls of ``dataset`` stand (a ``Mark`` as JSON), None before the first."""


class Store(EventLog, Checkpoints, ReadModel, Tokens, Audit, People, Erasures, Cases, Aggregation):
    """Every table: what the platform holds. Writes outside a processor commit live here."""

    @abstractmethod
    def record_alerts(self, ops: Sequence[AlertOp]) -> list[Alert]:
        """Alert operations from outside a processor batch (a gateway's identity alerts), in one
        transaction of their own; returns the alerts as they now stand."""

    @abstractmethod
    def transition_alert(
        self, alert_id: str, action: Literal["ack", "resolve"], who: str, note: str
    ) -> Alert:
        """Acknowledge or resolve an alert (``ConflictError`` when it already is); returns it."""

    @abstractmethod
    def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep events set aside outside a processor commit (refused at ingest, unreadable)."""

    @abstractmethod
    def apply_retention(self, cutoffs: dict[str, int]) -> dict[str, int]:
        """Delete rows older than each table's cutoff (epoch ms); events only once processed."""

    @abstractmethod
    def export(
        self, table: str, fmt: Literal["parquet", "csv"], path: str, since: int | None, until: int | None
    ) -> int:
        """Write a table (optionally a time range) to a file; returns the row count."""

    @abstractmethod
    def close(self) -> None: ...

"""Running a dataset: read its rows (a file, a push, a pull), check each, publish the good ones as
facts, keep the refused ones, report the run, and raise an alert for a source that is late or
shrinks.

Rows go in chunks of ``CHUNK``: each chunk's facts are published (durable when ``publish``
returns), then the run's report, the chunk's refused rows and, for a pull, the watermark after the
chunk are saved in one transaction. A run killed at any point therefore resumes where its last
saved chunk ended; a chunk published but not saved is read again and adds nothing (a fact's id is
its content: the bus drops ids it has). A file or a push is one batch whose id is its content's
hash: delivering it again is answered with the first run's report (``status`` "already").
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec

from citybrain.core.aggregation.datasets import Dataset
from citybrain.core.aggregation.facts import Fact, Reject, RunReport, fact_id, row_digest
from citybrain.core.aggregation.readers import ERROR, RawRow, file_digest, read_file, read_json_body
from citybrain.core.aggregation.rows import KEY_MAX, check_row, key_of, masked_raw
from citybrain.core.clock import now_ms
from citybrain.core.errors import CitybrainError, ConflictError, NotFoundError, Problem, ValidationError
from citybrain.core.events import Event
from citybrain.core.fieldcrypt import FieldCipher
from citybrain.core.outputs import Alert, AlertOp, Severity
from citybrain.core.store.base import AlertQuery, Store

log = logging.getLogger(__name__)
BJT = timezone(timedelta(hours=8))
CHUNK = 5_000  # rows published and saved together
ALERT_SCENE = "platform"  # aggregation alerts belong to the platform, not to a scene
HOUR = 3_600_000
Publish = Callable[[list[Event]], int]  # publishes durably; returns how many were new
RETRY_MS = 5 * 60_000  # a failed pull is tried again this long after it ended
SETTLE_S = 10.0  # a dropped file untouched this long is read (one still being copied waits)
SUFFIXES = {
    "csv": (".csv", ".txt"),
    "xlsx": (".xlsx",),
    "parquet": (".parquet",),
    "ndjson": (".ndjson", ".jsonl"),
}


def today(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, BJT).date().isoformat()


def _as_of(text: str | None, now: int) -> str:
    if not text:
        return today(now)
    try:
        return datetime.strptime(text, "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise ValidationError([Problem(0, "as_of", f"{text!r} is not a date (YYYY-MM-DD)")]) from None


def declare(store: Store, datasets: Iterable[Dataset]) -> None:
    """Each dataset's table of current rows in ``store`` as the dataset declares it."""
    for ds in datasets:
        store.declare_dataset(
            ds.name, {c.name: c.type for c in ds.columns}, [c.name for c in ds.columns if c.indexed]
        )


class Aggregator:
    """The datasets of the platform and how to run each (``load_file``, ``push``, ``pull``)."""

    def __init__(
        self,
        store: Store,
        datasets: dict[str, Dataset],
        publish: Publish,
        record_alerts: Callable[[Sequence[AlertOp]], Any] | None = None,
        clock: Callable[[], int] = now_ms,
        cipher: FieldCipher | None = None,
    ) -> None:
        self.store, self.datasets, self._publish = store, datasets, publish
        self._record_alerts, self.clock = record_alerts, clock
        self.cipher = cipher  # seals sensitive values before they are stored (None: kept plain)
        self._seen: dict[Path, tuple[int, int]] = {}  # drop-folder files loaded: (size, mtime)
        self._busy: dict[str, threading.Lock] = {name: threading.Lock() for name in datasets}
        declare(store, datasets.values())
        # told of each chunk of facts saved as current rows (a scene re-screens whom they concern)
        self.listeners: list[Callable[[Dataset, Sequence[Fact]], None]] = []

    def dataset(self, name: str) -> Dataset:
        ds = self.datasets.get(name)
        if ds is None:
            raise NotFoundError(f"dataset {name!r} is not declared; declared: {sorted(self.datasets)}")
        return ds

    # -- the three ways in ---------------------------------------------------------------------------
    def load_file(self, name: str, path: Path, as_of: str | None = None) -> RunReport:
        """One file of a dataset (CSV, Excel, Parquet or NDJSON, by the dataset's format)."""
        ds = self.dataset(name)
        digest = file_digest(path)
        now = self.clock()
        day = _as_of(as_of, now)
        run = RunReport(id=f"{ds.name}:{day}:{digest[:24]}", dataset=ds.name, origin="file", where=path.name,
                        as_of=day, started_ts=now)  # fmt: skip
        return self._batch(ds, run, lambda: read_file(ds, path))

    def push(self, name: str, body: bytes, as_of: str | None = None) -> RunReport:
        """Rows sent over HTTP (NDJSON, or a JSON array of objects): one batch, its id the body's
        hash (a retry adds nothing)."""
        ds = self.dataset(name)
        now = self.clock()
        if ds.origin != "push":
            raise ConflictError(f"dataset {ds.name!r} arrives by {ds.origin}, not by a push")
        digest = hashlib.sha256(body).hexdigest()
        day = _as_of(as_of, now)
        run = RunReport(id=f"{ds.name}:{day}:{digest[:24]}", dataset=ds.name, origin="push", where="push",
                        as_of=day, started_ts=now)  # fmt: skip
        return self._batch(ds, run, lambda: read_json_body(body, "push"))

    def pull(self, name: str, page_size: int = CHUNK) -> RunReport:
        """Read a departmental table from where the last pull stopped (its watermark) to its end;
        ConflictError while another pull of it runs in this process."""
        ds = self.dataset(name)
        if ds.origin != "pull":
            raise ConflictError(f"dataset {ds.name!r} arrives by {ds.origin}, not by a pull")
        with self._only(ds):
            return self._pull(ds, page_size)

    def _pull(self, ds: Dataset, page_size: int) -> RunReport:
        from citybrain.core.aggregation.pull import Mark, connect_label, pull_pages, source_count

        now = self.clock()
        stored = self.store.mark(ds.name)
        after = Mark.from_json(stored) if stored else None
        if after is not None and self.cipher is not None:  # its key was stored sealed
            after = Mark(after.value, self.cipher.open_key(ds, after.key))
        for old in self.store.runs(ds.name, 20):  # a pull killed mid-way: this one resumes it
            if old.origin == "pull" and old.status == "running":
                old.status, old.error = (
                    "failed",
                    "interrupted; the next pull resumed from its last saved page",
                )
                self.store.save_run(old)
        run = RunReport(id=f"{ds.name}:pull:{now}:{secrets.token_hex(3)}", dataset=ds.name, origin="pull",
                        where=f"{connect_label(ds.dsn)} {ds.table}", as_of=today(now), started_ts=now,
                        mark_from=stored or "")  # fmt: skip
        self.store.save_run(run)
        total, mark = 0, after
        try:
            for page in pull_pages(ds, after, page_size):
                rejects, facts = self._chunk(ds, run, page.rows, total)
                total += len(page.rows)
                mark = page.mark
                kept = mark if self.cipher is None else Mark(mark.value, self.cipher.seal_key(ds, mark.key))
                run.mark_to = kept.as_json()  # stored: a sensitive key column's value sealed
                self.store.save_run(run, rejects, run.mark_to, current=facts)
                if facts:
                    self._notify(ds, facts)
            if mark is not None and mark is not after:
                run.source_rows = source_count(ds, after, mark)
        except CitybrainError as err:
            return self._failed(run, err)
        return self._finish(ds, run)

    def load_folder(self, name: str) -> list[RunReport]:
        """The files of a dataset's drop folder not loaded yet, in name order (a file loaded
        before is recognised by its content, whatever its name). A file written to in the last
        ``SETTLE_S`` seconds waits for the next round: it may still be being copied in."""
        ds = self.dataset(name)
        folder = Path(ds.folder)
        if not folder.is_dir():
            raise NotFoundError(f"dataset {ds.name}: the drop folder {folder} does not exist")
        out: list[RunReport] = []
        for path in sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES[ds.format]
        ):
            stat = path.stat()
            if self._seen.get(path) == (stat.st_size, stat.st_mtime_ns):
                continue  # loaded, or failed: again only once the file changes
            if time.time() - stat.st_mtime < SETTLE_S:  # perhaps still being copied in: next round
                continue
            with self._only(ds):
                run = self.load_file(name, path)
            self._seen[path] = (stat.st_size, stat.st_mtime_ns)
            if run.status != "already":
                out.append(run)
        return out

    def tick(self) -> list[RunReport]:
        """One round of the platform's loop: the pulls that are due (a cadence since the last good
        one; a failed one again after ``RETRY_MS``), the drop folders, then lateness. A dataset
        that fails is logged; the others go on."""
        now = self.clock()
        out: list[RunReport] = []
        for ds in self.datasets.values():
            try:
                if ds.origin == "pull" and self._pull_due(ds, now):
                    out.append(self.pull(ds.name))
                elif ds.origin == "file":
                    out.extend(self.load_folder(ds.name))
            except Exception as err:  # one dataset's trouble must not stop the others' round
                log.warning("dataset %s: %s", ds.name, err)
        self.check_late()
        return out

    def _pull_due(self, ds: Dataset, now: int) -> bool:
        pulls = [r for r in self.store.runs(ds.name, 50) if r.origin == "pull"]
        last_good = next((r for r in pulls if r.status == "done"), None)
        if last_good is not None and now - last_good.started_ts < ds.cadence_h * HOUR:
            return False
        last = pulls[0] if pulls else None
        return (
            last is None or last.status == "done" or now - (last.finished_ts or last.started_ts) >= RETRY_MS
        )

    def _only(self, ds: Dataset) -> _Held:
        lock = self._busy.setdefault(ds.name, threading.Lock())
        if not lock.acquire(blocking=False):
            raise ConflictError(f"dataset {ds.name!r} is being read now; try again when that run is done")
        return _Held(lock)

    # -- the work --------------------------------------------------------------------------------
    def _batch(self, ds: Dataset, run: RunReport, rows: Callable[[], Iterator[RawRow]]) -> RunReport:
        before = self.store.run(run.id)
        if before is not None and before.status == "done":
            return msgspec.structs.replace(before, status="already")
        self.store.save_run(run)
        late = self._superseded(ds, run)
        try:
            it = iter(rows())
            done = 0
            while chunk := list(islice(it, CHUNK)):
                rejects, facts = self._chunk(ds, run, chunk, done)
                done += len(chunk)
                self.store.save_run(run, rejects, current=() if late else facts)
                if facts and not late:
                    self._notify(ds, facts)
        except CitybrainError as err:
            return self._failed(run, err)
        return self._finish(ds, run)

    def _chunk(
        self, ds: Dataset, run: RunReport, rows: Sequence[RawRow], offset: int
    ) -> tuple[list[Reject], list[Fact]]:
        """Check a chunk, publish its facts, count it into ``run``; returns its refused rows and
        its facts (to stand as the dataset's current rows when the chunk is saved)."""
        now = self.clock()
        facts: list[Fact] = []
        rejects: list[Reject] = []
        checksum = int(run.checksum, 16)
        for r in rows:
            error = r.values.get(ERROR)
            values, problems = (
                (None, [Problem(r.no, "", str(error))]) if error else check_row(ds, r.no, r.values)
            )
            if values is None:
                named = [{"field": p.field, "reason": p.reason} for p in problems]
                rejects.append(Reject(run_id=run.id, row=r.no, raw=masked_raw(ds, r.values), problems=named))
                continue
            digest = row_digest(values)  # of the plain values: a department computes the same
            as_of = str(values.get(ds.as_of_column) or run.as_of) if ds.as_of_column else run.as_of
            if self.cipher is not None:  # sensitive values are stored sealed only, in the key too
                values = self.cipher.seal_row(ds, values)
            key = key_of(ds, values)
            if len(key) > KEY_MAX:  # sealed parts are longer than the values they hold
                why = {"field": ds.column(ds.key[0]).header, "reason": f"the key is over {KEY_MAX} "
                       "characters once its sensitive values are sealed"}  # fmt: skip
                rejects.append(Reject(run_id=run.id, row=r.no, raw=masked_raw(ds, r.values), problems=[why]))
                continue
            # a pull's row is new when its watermark moved, a file's or push's in each new batch: a
            # value that changes back (A, B, A) is a fact again, a batch read twice is not
            stamp = str(values.get(ds.watermark)) if run.origin == "pull" else run.id
            facts.append(Fact(key=key, ts=now, source=ds.owner, id=fact_id(ds.name, key, stamp, values),
                              dataset=ds.name, batch=run.id, as_of=as_of, row=r.no, data=values))  # fmt: skip
            checksum = (checksum + digest) % (1 << 64)
        run.facts_new += self._publish(list[Event](facts)) if facts else 0
        run.rows_read += len(rows)
        run.rows_good += len(facts)
        run.rows_bad += len(rejects)
        run.checksum = f"{checksum:016x}"
        return rejects, facts

    def publish(self, events: Sequence[Event]) -> int:
        """Events onto the bus through the platform's durable publish (a scene's conclusions from
        the facts, e.g. a household screened); how many were new."""
        return self._publish(list(events))

    def _notify(self, ds: Dataset, facts: Sequence[Fact]) -> None:
        for listen in self.listeners:
            try:  # a listener's trouble is its own: the run goes on
                listen(ds, facts)
            except Exception:
                log.exception("a listener of dataset %s failed", ds.name)

    def _finish(self, ds: Dataset, run: RunReport) -> RunReport:
        run.status, run.finished_ts = "done", self.clock()
        previous = next(
            (r for r in self.store.runs(ds.name, 20) if r.status == "done" and r.id != run.id), None
        )
        shrank = previous is not None and run.rows_good < ds.shrink_alert * previous.rows_good
        # a whole table delivered replaces the rows it no longer holds; one that shrank abnormally,
        # held a refused row (perhaps of a key still there) or none good, does not: the rows stay
        whole = ds.snapshot and ds.origin != "pull" and run.rows_good > 0 and not run.rows_bad and not shrank
        whole = whole and not self._superseded(ds, run)
        self.store.save_run(run, mark=run.mark_to or None, replaces=whole)
        if run.rows_good:  # a delivery of nothing usable does not end the wait
            self._resolve(ds, "aggregation.late", f"delivered: {run.id}")
        log.info("dataset %s: run %s read %d rows, kept %d, refused %d (%d new facts)", ds.name, run.id,
                 run.rows_read, run.rows_good, run.rows_bad, run.facts_new)  # fmt: skip
        if ds.snapshot and ds.origin != "pull" and previous is not None and shrank:
            title = f"{ds.title}: 数据量异常减少 / the delivery shrank"
            self._alert(ds, "aggregation.shrunk", "major", title,
                            f"{run.where}: {run.rows_good:,} good rows, the last delivery had "
                            f"{previous.rows_good:,} (below {ds.shrink_alert:.0%})",
                            {"run": run.id, "previous": previous.id, "rows_good": run.rows_good,
                             "previous_rows_good": previous.rows_good})  # fmt: skip
        return run

    def _superseded(self, ds: Dataset, run: RunReport) -> bool:
        """A delivery of a date before one already taken (a late file): its facts are kept as
        history, but it neither stands as the current rows nor replaces them."""
        return any(
            r.status == "done" and r.id != run.id and r.as_of > run.as_of
            for r in self.store.runs(ds.name, 200)
        )

    def _failed(self, run: RunReport, err: CitybrainError) -> RunReport:
        run.status, run.finished_ts, run.error = "failed", self.clock(), str(err)
        self.store.save_run(run)
        log.warning("dataset %s: run %s failed: %s", run.dataset, run.id, err)
        return run

    # -- alerts ----------------------------------------------------------------------------------
    def check_late(self) -> list[str]:
        """Raise an alert for each dataset whose last good run is older than ``late_after``
        cadences; returns their names. A dataset that never delivered is not judged (there is no
        date to be late against yet)."""
        now = self.clock()
        late: list[str] = []
        for ds in self.datasets.values():
            last = next((r for r in self.store.runs(ds.name, 50) if r.status == "done"), None)
            if last is None:
                continue  # never delivered: nothing to be late against yet (a new dataset)
            due = (last.finished_ts or last.started_ts) + int(ds.cadence_h * ds.late_after * HOUR)
            if now > due:
                late.append(ds.name)
                hours = (now - (last.finished_ts or last.started_ts)) / HOUR
                title = f"{ds.title}: 数据未按期报送 / the data is late"
                message = (f"no delivery for {hours:,.0f} h (every {ds.cadence_h:g} h expected); "
                           f"the last was {last.id}")  # fmt: skip
                self._alert(ds, "aggregation.late", "warning", title, message,
                            {"last_run": last.id, "hours": round(hours, 1)})  # fmt: skip
        return late

    def _unresolved(self, ds: Dataset, rule: str) -> Alert | None:
        found = self.store.alerts(AlertQuery(scene=ALERT_SCENE, key=ds.name, limit=100))
        return next((a for a in found if a.rule == rule and a.status != "resolved"), None)

    def _alert(
        self, ds: Dataset, rule: str, severity: Severity, title: str, message: str, data: dict[str, Any]
    ) -> None:
        """Open the alert of (rule, dataset), or count a repeat into the one still unresolved."""
        log.warning("%s %s: %s", rule, ds.name, message)
        if self._record_alerts is None:
            return
        now = self.clock()
        data = {"dataset": ds.name, "owner": ds.owner, **data}
        old = self._unresolved(ds, rule)
        if old is not None:
            again = msgspec.structs.replace(old, message=message, data=data, last_ts=now, count=old.count + 1)
            self._record_alerts([AlertOp("update", again)])
            return
        alert = Alert(id=secrets.token_hex(8), rule=rule, scene=ALERT_SCENE, key=ds.name,
                      dedupe_key=f"{rule}:{ds.name}", severity=severity, title=title, message=message,
                      data=data, opened_ts=now, last_ts=now)  # fmt: skip
        self._record_alerts([AlertOp("open", alert)])

    def _resolve(self, ds: Dataset, rule: str, note: str) -> None:
        old = self._unresolved(ds, rule) if self._record_alerts is not None else None
        if old is not None and self._record_alerts is not None:
            now = self.clock()
            done = msgspec.structs.replace(old, status="resolved", resolved_by="system", resolved_ts=now,
                                           resolve_note=note, last_ts=now)  # fmt: skip
            self._record_alerts([AlertOp("resolve", done)])


class _Held:
    """A dataset's lock, held for one run."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self.lock.release()

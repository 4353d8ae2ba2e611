"""The processing runtime: one task per (processor, partition), run on one thread.

Each task reads its partition after its checkpointed offset, runs the processor on the batch, and
commits outputs + state + new offset in one store transaction. Only then are the outputs pushed to
the live feed. After a crash the task restarts from the last committed offset with the state of
that moment, so no event is counted twice and none is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from citybrain.core.bus import Bus
from citybrain.core.bus.base import partition_for
from citybrain.core.events import Event, stamp
from citybrain.core.keyed import StateKeeper
from citybrain.core.outputs import Alert, Outputs, Quarantined
from citybrain.core.processor import AlertBook, Emitter, Processor
from citybrain.core.store.base import Erasure, Store

log = logging.getLogger(__name__)

OnCommit = Callable[[str, Outputs, list[Alert]], None]

# A batch with none of a task's event kinds changes nothing, so it is not worth a transaction; its
# offset is checkpointed at most this often. After a crash the task re-reads at most that much of
# other kinds' events, which it ignores again: no effect is repeated.
IDLE_CHECKPOINT_S = 5.0
# A batch whose commit failed this many times in a row is taken apart: committed event by event,
# and an event that cannot be committed is quarantined with the reason, so one bad event (e.g. an
# output the store refuses) can never stop its partition.
ISOLATE_AFTER = 3
# A task with events waiting that has not advanced for this long is "stalled" (readyz says so).
STALL_AFTER_S = 30.0


@dataclass(frozen=True)
class ProcessorSpec:
    name: str
    factory: Callable[[int], Processor[Any]]


@dataclass
class _Task:
    spec: ProcessorSpec
    partition: int
    proc: Processor[Any]
    book: AlertBook
    pos: int
    keeper: StateKeeper  # the state as of ``pos``: what a failed batch rolls back to
    kinds: tuple[type[Event], ...] = field(default=())
    committed_at: float = 0.0  # monotonic time of the last commit
    failures: int = 0  # commits of the current batch that failed in a row
    progressed_at: float = field(default_factory=time.monotonic)  # last advance, or last seen caught up


@dataclass
class PipelineStats:
    batches: int = 0
    events: int = 0
    errors: int = 0
    late: int = 0
    quarantined: int = 0
    failed_rounds: int = 0  # rounds in a row that raised
    last_commit_s: float = 0.0


class Pipeline:
    def __init__(
        self,
        bus: Bus,
        store: Store,
        specs: Sequence[ProcessorSpec],
        on_commit: OnCommit | None = None,
        batch_max: int = 5_000,
        tick_ms: int = 1_000,
    ) -> None:
        self.bus, self.store = bus, store
        self.on_commit = on_commit
        self.batch_max, self.tick_ms = batch_max, tick_ms
        self.stats = PipelineStats()
        self._tasks: list[_Task] = []
        for spec in specs:
            for p in range(bus.partitions):
                proc = spec.factory(p)
                task = _Task(spec, p, proc, AlertBook(), 0, StateKeeper(proc), tuple(proc.kinds))
                self._load(task, fresh=False)
                self._tasks.append(task)
        self._round = threading.Lock()  # the thread and drain() must never run a task at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_tick = 0.0

    def _load(self, task: _Task, fresh: bool = True) -> None:
        """The task's last checkpoint (offset, state, alert book), on a new processor if ``fresh``."""
        if fresh:
            task.proc = task.spec.factory(task.partition)
        task.book, task.pos = AlertBook(), 0
        keeper = task.keeper = StateKeeper(task.proc)
        saved = self.store.load_checkpoint(task.spec.name, task.partition)
        entries = self.store.load_entries(task.spec.name, task.partition) if keeper.fields else {}
        if saved is None:
            task.book = keeper.load(task.proc, None, entries)
        else:
            task.pos = saved[0]
            try:
                task.book = keeper.load(task.proc, saved[1], entries)
            except msgspec.DecodeError as err:
                # the processor's state type changed with an upgrade: go on from the checkpointed
                # offset with fresh state (windows open at the upgrade start over) rather than
                # refuse to start or re-count what was committed
                log.error(
                    "processor %s/%d: its checkpointed state no longer decodes (%s); continuing "
                    "from offset %d with fresh state", task.spec.name, task.partition, err, task.pos,
                )  # fmt: skip
                task.proc, task.book = task.spec.factory(task.partition), AlertBook()
                keeper.start_fresh(task.proc, task.book)
        self.bus.report_position(task.spec.name, task.partition, task.pos)

    def reload(self, partitions: Iterable[int]) -> None:
        """Restart the tasks of ``partitions`` from their checkpoints, between two rounds.

        For a scaled-out worker that just took a partition over: its tasks hold stale state and
        must continue from what the previous owner committed.
        """
        wanted = set(partitions)
        with self._round:
            for task in self._tasks:
                if task.partition in wanted:
                    self._load(task)

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="citybrain-pipeline", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                progressed = self.run_once()
                self.stats.failed_rounds = 0
                if not progressed:
                    self.bus.wait(0.05)
            except Exception:  # keep the pipeline alive; the failing batch is retried, then isolated
                self.stats.errors += 1
                self.stats.failed_rounds += 1
                log.exception("pipeline round failed; retrying")
                time.sleep(0.5)

    def run_once(self) -> bool:
        """One round over every task; True when any events were processed. Thread-safe."""
        with self._round:
            return self._round_unlocked()

    def _round_unlocked(self) -> bool:
        progressed = False
        for task in self._tasks:
            batch = self.bus.fetch(task.partition, task.pos, self.batch_max)
            if batch:
                progressed = True
                self._step(task, batch)
            else:
                task.progressed_at = time.monotonic()
        now = time.time()
        if now >= self._next_tick:
            self._next_tick = now + self.tick_ms / 1000
            for task in self._tasks:
                self._tick(task, int(now * 1000))
            self._erase_unlocked(int(now * 1000))
        return progressed

    # -- erasures ---------------------------------------------------------------------------------
    def erase_pending(self) -> list[Erasure]:
        """Carry out the erasures asked for (run once a second; tests call it). Thread-safe."""
        with self._round:
            return self._erase_unlocked(int(time.time() * 1000))

    def _erase_unlocked(self, now_ms: int) -> list[Erasure]:
        """For each pending erasure of a partition this process owns: the scene's processors forget
        the subject (checkpointed at their position, so no replay brings it back), then the store
        deletes its rows. An erasure whose events are not all processed yet stays pending and is
        taken up again next time; it is done (and audited) once none stored before it is left."""
        done: list[Erasure] = []
        for req in self.store.erasures(pending=True):
            partition = partition_for(req.key, self.bus.partitions)
            if not self.bus.owns(partition):
                continue
            for task in self._tasks:
                mine = task.partition == partition and task.spec.name.startswith(f"{req.scene}.")
                if mine and task.proc.forget(req.key) | task.book.forget(req.key):
                    self._commit(task, task.pos, Outputs())
            now = self.store.erase_subject(req, now_ms)
            if now.done_ts is not None:
                self.store.audit(
                    now_ms, "system", "subject.erased", f"{req.scene}:{req.key}",
                    {"erasure": req.id, "deleted": now.deleted},
                )  # fmt: skip
                done.append(now)
        return done

    def drain(self, timeout: float = 30.0) -> None:
        """Process until every task has caught up with the bus (tests, replay, shutdown)."""
        deadline = time.time() + timeout
        while any(t.pos < self.bus.head(t.partition) for t in self._tasks):
            if time.time() > deadline:
                raise TimeoutError("pipeline did not catch up in time")
            self.run_once()

    # -- one batch --------------------------------------------------------------------------------
    def _step(self, task: _Task, batch: list[tuple[int, Event]]) -> None:
        out = Outputs()
        em = Emitter(task.spec.name, task.partition, task.book, out)
        mine = [(o, e) for o, e in batch if isinstance(e, task.kinds)]
        if mine:
            try:
                task.proc.process(mine, em)
            except Exception:
                # isolate the poison event(s): roll back, rerun one by one, skip those that fail
                out = Outputs()
                task.book = task.keeper.rollback(task.proc)
                for item in mine:
                    before = task.keeper.image(task.proc, task.book)
                    em = Emitter(task.spec.name, task.partition, task.book, out)
                    mark = (
                        len(out.metrics),
                        len(out.states),
                        len(out.alerts),
                        len(out.late),
                        len(out.events),
                        len(out.postings),
                    )
                    try:
                        task.proc.process([item], em)
                    except Exception as err:
                        task.book = task.keeper.rollback(task.proc, before)
                        del (
                            out.metrics[mark[0] :],
                            out.states[mark[1] :],
                            out.alerts[mark[2] :],
                            out.late[mark[3] :],
                            out.events[mark[4] :],
                            out.postings[mark[5] :],
                        )
                        self.stats.errors += 1
                        out.quarantined.append(_quarantined("process", task, item, err))
                        log.exception(
                            "processor %s failed on event %s; quarantined", task.spec.name, item[1].id
                        )
        if mine or not out.empty() or time.monotonic() - task.committed_at >= IDLE_CHECKPOINT_S:
            try:
                self._commit(task, batch[-1][0], out)
            except Exception as err:
                task.failures += 1
                if task.failures < ISOLATE_AFTER:
                    raise
                log.error(
                    "processor %s: the batch after %d/%d failed to commit %d times (%s); "
                    "committing it event by event",
                    task.spec.name, task.partition, task.pos, task.failures, err,
                )  # fmt: skip
                self._isolate(task, batch)
        else:  # nothing of this task's kinds: move on without a transaction (see IDLE_CHECKPOINT_S)
            task.pos = batch[-1][0]
            self.bus.report_position(task.spec.name, task.partition, task.pos)
        self.stats.batches += 1
        self.stats.events += len(batch)
        self.stats.late += len(out.late)

    def _isolate(self, task: _Task, batch: list[tuple[int, Event]]) -> None:
        """Commit ``batch`` one event at a time; an event whose commit still fails is quarantined
        (its own effects dropped, its offset committed with the quarantine record). Raises only if
        even that cannot be committed: then the store itself is failing, and readyz says so."""
        for item in batch:
            out = Outputs()
            if isinstance(item[1], task.kinds):
                try:
                    task.proc.process([item], Emitter(task.spec.name, task.partition, task.book, out))
                except Exception as err:
                    out = Outputs(quarantined=[_quarantined("process", task, item, err)])
                    task.book = task.keeper.rollback(task.proc)
            try:
                self._commit(task, item[0], out)
            except Exception as err:
                self.stats.errors += 1
                self._commit(task, item[0], Outputs(quarantined=[_quarantined("commit", task, item, err)]))

    def stalled(self, after_s: float = STALL_AFTER_S) -> list[str]:
        """Tasks (``processor/partition``) with events waiting that have not advanced for ``after_s``."""
        cutoff = time.monotonic() - after_s
        return [
            f"{t.spec.name}/{t.partition}"
            for t in self._tasks
            if t.progressed_at < cutoff and t.pos < self.bus.head(t.partition)
        ]

    def _tick(self, task: _Task, now_ms: int) -> None:
        out = Outputs()
        task.proc.tick(now_ms, Emitter(task.spec.name, task.partition, task.book, out))
        if not out.empty():
            self._commit(task, task.pos, out)

    def _commit(self, task: _Task, pos: int, out: Outputs) -> None:
        if out.events:  # durable before the commit that consumes their cause (see Emitter.event)
            stamp(out.events, int(time.time() * 1000))
            self.bus.publish(out.events, internal=True)
        t0 = time.perf_counter()
        keeper = task.keeper
        try:
            image = keeper.image(task.proc, task.book)  # an encoding error rolls back as well
            alerts = self.store.commit(task.spec.name, task.partition, pos, image.blob, out, image.delta)
        except Exception:
            # nothing was committed: the batch will be retried from the committed state
            task.book = keeper.rollback(task.proc)
            raise
        keeper.committed_as(task.proc, image)
        self.stats.last_commit_s = time.perf_counter() - t0
        self.stats.quarantined += len(out.quarantined)
        task.pos, task.committed_at = pos, time.monotonic()
        task.failures, task.progressed_at = 0, task.committed_at
        self.bus.report_position(task.spec.name, task.partition, pos)
        if self.on_commit is not None and not out.empty():
            self.on_commit(task.spec.name, out, alerts)

    def positions(self) -> dict[tuple[str, int], int]:
        return {(t.spec.name, t.partition): t.pos for t in self._tasks}


def _quarantined(stage: str, task: _Task, item: tuple[int, Event], err: BaseException) -> Quarantined:
    reason = f"{type(err).__name__}: {err}"
    return Quarantined.of(stage, item[1], reason, task.spec.name, task.partition, item[0])

"""Group commit: many threads' writes made durable by one transaction, each answered after it.

A thread hands its items to :meth:`GroupCommit.submit` and waits. Whoever finds nobody committing
becomes the committer: it takes everything pending (at most ``most``), commits it with the one
function it was given, answers every item, and lets the next waiting thread take over. One
transaction then carries the writes of every request that arrived while the last one ran: on a
single writer (DuckDB's lock, a PostgreSQL fsync per commit) throughput grows with concurrency
instead of stopping at one commit per request, and nothing is answered before it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class _Slot(Generic[In, Out]):
    __slots__ = ("answer", "done", "error", "item")

    def __init__(self, item: In) -> None:
        self.item = item
        self.answer: Out | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[In, Out]):
    """``commit`` takes a batch of items and answers each, in order (or raises: every item of the
    batch gets that error)."""

    def __init__(self, commit: Callable[[Sequence[In]], Sequence[Out]], most: int = 1_000) -> None:
        self._commit, self._most = commit, most
        self._cond = threading.Condition()
        self._pending: list[_Slot[In, Out]] = []
        self._busy = False
        self.batches = 0  # how many commits were made (what benchmarks and tests look at)

    def submit(self, items: Sequence[In]) -> list[Out]:
        """Commit ``items`` (with whatever else is pending); their answers, in order."""
        slots: list[_Slot[In, Out]] = [_Slot(i) for i in items]
        with self._cond:
            self._pending.extend(slots)
            while not all(s.done for s in slots):
                if self._busy:
                    self._cond.wait()
                    continue
                self._busy = True
                batch, self._pending = self._pending[: self._most], self._pending[self._most :]
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        for s in slots:
            if s.error is not None:
                raise s.error
        return [s.answer for s in slots]  # type: ignore[misc]  # every slot is answered when done

    def _run(self, batch: list[_Slot[In, Out]]) -> None:
        try:
            answers = list(self._commit([s.item for s in batch]))
            if len(answers) != len(batch):
                raise RuntimeError(f"a group commit answered {len(answers)} of {len(batch)} items")
        except BaseException as err:  # the whole batch failed: each waiting caller hears why
            for s in batch:
                s.error, s.done = err, True
            return
        finally:
            self.batches += 1
        for s, a in zip(batch, answers, strict=True):
            s.answer, s.done = a, True

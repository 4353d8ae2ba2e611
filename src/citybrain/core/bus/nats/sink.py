"""The raw sink of a JetStream worker: it copies each owned partition's messages into the store's
event log (COPY, ids already stored dropped) and records the last stream sequence in the same
transaction; then it acks the messages (which removes them from the work queue). Redelivery after
a crash re-copies nothing: a sequence at or below the recorded one is skipped.

What was copied is told to a :class:`SinkListener` (the bus: it makes the events visible to the
local pipeline), so the sink knows nothing of the bus or of leases.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import nats.errors
from nats.aio.msg import Msg

from citybrain.core.bus.nats.loop import EventLoopThread
from citybrain.core.errors import StoreError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.store.base import AppendResult
from citybrain.core.store.postgres import FencedError, PostgresStore

log = logging.getLogger(__name__)
PULL_MSGS = 64  # messages per pull per partition (x max_events_per_msg events)


class SinkListener(Protocol):
    def observe(self, events: int, messages: int) -> None:
        """``events`` arrived in ``messages`` messages (for the mean events per message)."""

    def sunk(self, accepted: list[tuple[int, int, Event]], partitions: Sequence[int]) -> None:
        """Events copied into the store as (partition, offset, event)."""


class RawSink:
    """Copies the partitions attached to it; ``fenced(p)`` is called for a partition the store
    says this process no longer owns (another worker took it over)."""

    def __init__(
        self,
        store: PostgresStore,
        io: EventLoopThread,
        listener: SinkListener,
        fenced: Callable[[int], None],
        stop: threading.Event,
    ) -> None:
        self.store, self.io, self.listener = store, io, listener
        self._fenced, self._stop = fenced, stop
        self._subs: dict[int, Any] = {}  # pull subscription per attached partition
        self._sunk: dict[int, int] = {}  # last stream sequence copied to the store
        self._lock = threading.Lock()

    def attach(self, partition: int, subscription: Any, sunk: int) -> None:
        with self._lock:
            self._subs[partition], self._sunk[partition] = subscription, sunk

    def detach(self, partition: int) -> Any:
        """Stop copying ``partition``; returns its subscription (None if it was not attached)."""
        with self._lock:
            self._sunk.pop(partition, None)
            return self._subs.pop(partition, None)

    def run(self) -> None:
        pending: dict[int, list[Msg]] = {}  # fetched, not yet copied (kept across a failed copy)
        delay = 0.1
        while not self._stop.is_set():
            with self._lock:
                subs = dict(self._subs)
            for p in [p for p in pending if p not in subs]:
                del pending[p]  # lost the partition: its new owner gets these messages again
            if not subs:
                self._stop.wait(0.05)
                continue
            want = {p: s for p, s in subs.items() if p not in pending}
            if want:
                try:
                    pending.update({p: m for p, m in self.io.run(_pull(want), timeout=10).items() if m})
                except Exception as err:
                    log.debug("pull: %s", err)
                    self._stop.wait(0.2)
            if not pending:
                continue
            try:
                self._copy(pending)
                delay = 0.1
            except StoreError as err:
                log.warning("raw sink: %s; retrying in %.1f s", err, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)
                continue
            msgs = [m for ms in pending.values() for m in ms]
            pending.clear()
            try:
                self.io.run(_ack(msgs), timeout=10)
            except Exception as err:  # not acked: delivered again, skipped by sequence
                log.debug("ack: %s", err)

    def _copy(self, pending: dict[int, list[Msg]]) -> None:
        items: list[tuple[int, Event]] = []
        sink: dict[int, int] = {}
        messages = 0
        for p, msgs in pending.items():
            floor = self._sunk.get(p, 0)
            for m in msgs:
                seq = m.metadata.sequence.stream
                if seq <= floor:
                    continue  # copied before (redelivered after a crash or an ack lost)
                batch = REGISTRY.decode_json_array(m.data)
                if batch.problems:
                    log.error("partition %d message %d: %d events of unknown kinds dropped: %s",
                              p, seq, len(batch.problems), batch.problems[0].reason)  # fmt: skip
                items.extend((p, ev) for ev in batch.events)
                sink[p] = max(sink.get(p, 0), seq)
                messages += 1
        if not sink:
            return
        try:
            res = self.store.append_partitioned(items, sink)
        except FencedError:
            for p in list(pending):
                if not self.store.owns(p):
                    self._fenced(p)
            raise
        self.listener.observe(len(items), messages)
        with self._lock:
            for p, seq in sink.items():
                if p in self._sunk:
                    self._sunk[p] = seq
        self.listener.sunk(res.accepted if isinstance(res, AppendResult) else [], list(sink))


async def _pull(subs: dict[int, Any]) -> dict[int, list[Msg]]:
    async def one(p: int, sub: Any) -> tuple[int, list[Msg]]:
        # Never let one partition's error fail the gather: the other partitions' messages
        # would be dropped unacked and only come back after ack_wait.
        try:
            return p, list(await sub.fetch(PULL_MSGS, timeout=0.25))
        except (TimeoutError, nats.errors.TimeoutError):
            return p, []  # nothing queued
        except Exception as err:  # e.g. 409 consumer deleted (a takeover): the owner resubscribes
            log.warning("pull of partition %d: %r", p, err)
            return p, []

    return dict(await asyncio.gather(*(one(p, s) for p, s in subs.items())))


async def _ack(msgs: list[Msg]) -> None:
    for m in msgs:
        await m.ack()

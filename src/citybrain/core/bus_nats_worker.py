"""Partition ownership and the raw sink of a JetStream worker.

Leases live in the JetStream key-value bucket ``<stream>_leases`` whose TTL is ``nats.lease_ttl_s``:
``p.<N>`` holds the owner of partition N, ``w.<worker>`` is each worker's heartbeat. Every TTL/3 a
worker renews its leases (compare-and-set on the revision it holds), counts the live workers, gives
back partitions above its fair share (ceil(partitions / workers)) and takes free ones up to it. A
killed worker stops renewing; its keys expire after the TTL and the others take its partitions.

Taking partition N over, in this order, so that nothing is counted twice or skipped:
1. create ``p.<N>`` (fails while another worker holds it);
2. claim N in the store: this bumps the partition's fencing epoch and waits for the previous owner's
   open transaction, so from now on a late commit of the previous owner is refused;
3. recreate the partition's JetStream consumer, delivering from the oldest message still queued
   (messages the previous owner had fetched but not copied are delivered again at once);
4. reload the pipeline's tasks of N from their checkpoints (state as of the last commit);
5. only then serve N to the pipeline and the sink.

The sink copies each owned partition's messages into the store's event log (COPY, ids already stored
dropped) and records the last stream sequence in the same transaction; then it acks the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import threading
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.kv import KeyValue

from citybrain.core.errors import StoreError
from citybrain.core.events import REGISTRY, Event
from citybrain.core.store.base import AppendResult
from citybrain.core.store.postgres import FencedError

if TYPE_CHECKING:
    from citybrain.core.bus_nats import JetStreamBus

log = logging.getLogger(__name__)
_PULL_MSGS = 64  # messages per pull per partition (x max_events_per_msg events)
# A message fetched but neither copied nor acked (its pull was lost) comes back after this long;
# coming back is harmless (sequence floor + id dedupe), so it is short.
_ACK_WAIT_S = 10.0
_LOST = (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError)


class PartitionWorker:
    def __init__(self, bus: JetStreamBus, pipeline: Callable[[], Any] | None) -> None:
        self.bus, self.store, self.io = bus, bus.store, bus.io
        self.pipeline = pipeline
        self.ttl = bus.settings.lease_ttl_s
        self.me = re.sub(r"[^-_=a-zA-Z0-9]", "_", bus.worker_id)
        self.active: frozenset[int] = frozenset()  # served to the pipeline; replaced, never mutated
        self._revs: dict[int, int] = {}  # lease revision held, per owned partition
        self._renewed: dict[int, float] = {}  # monotonic time a renewal was *sent* (conservative)
        self._subs: dict[int, Any] = {}
        self._sunk: dict[int, int] = {}  # last stream sequence copied to the store
        self._lock = threading.Lock()
        self._started = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._kv: KeyValue | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
        loops = ((self._renew_loop, "citybrain-lease-renew"), (self._balance_loop, "citybrain-lease-balance"),
                 (self._sink_loop, "citybrain-sink"))  # fmt: skip
        for target, name in loops:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Give every partition back at once (no TTL wait for the others) and stop."""
        self._stop.set()
        for t in self._threads:
            t.join(10)
        for p in list(self._revs):
            self._lose(p, voluntary=True)
        if self._kv is not None:
            try:
                self.io.run(self._kv.delete(f"w.{self.me}"), timeout=2)
            except Exception as err:  # expiry removes it anyway
                log.debug("heartbeat delete: %s", err)

    async def _bucket(self) -> KeyValue:
        name = f"{self.bus.settings.stream}_leases"
        kv: KeyValue
        try:
            kv = await self.bus.js.key_value(name)
        except nats.js.errors.BucketNotFoundError:
            kv = await self.bus.js.create_key_value(
                bucket=name, ttl=self.ttl, history=1, replicas=self.bus.settings.replicas
            )
        return kv

    # -- leases -----------------------------------------------------------------------------------
    def _renew_loop(self) -> None:
        """Heartbeat and renewals on their own thread: a slow takeover (waiting for the previous
        owner's transaction, or for the pipeline's round) must never delay them past the TTL."""
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self._renew()
            except Exception as err:  # NATS restarting: keep what we hold until it expires locally
                log.warning("lease renewal failed: %s", err)
            now = time.monotonic()
            for p, sent in list(self._renewed.items()):
                if now - sent > 0.9 * self.ttl:  # the server has expired it (or is about to)
                    log.warning("lease of partition %d not renewed in time; letting it go", p)
                    self._lose(p, voluntary=False)
            self._stop.wait(max(0.0, self.ttl / 3 - (time.monotonic() - t0)))

    def _balance_loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self._balance()
            except Exception as err:
                log.warning("partition balancing failed: %s", err)
            self._stop.wait(max(0.0, self.ttl / 3 - (time.monotonic() - t0)))

    def _kv_ready(self) -> KeyValue:
        with self._lock:
            if self._kv is None:
                self._kv = self.io.run(self._bucket(), timeout=self.ttl)
            return self._kv

    def _renew(self) -> None:
        kv, run, me = self._kv_ready(), self.io.run, self.me.encode()
        run(kv.put(f"w.{self.me}", me), timeout=self.ttl)
        with self._lock:
            held = dict(self._revs)
        for p, rev in held.items():
            sent = time.monotonic()
            try:
                new = run(kv.update(f"p.{p}", me, last=rev), timeout=self.ttl)
            except _LOST:
                log.warning("partition %d was taken over by another worker", p)
                self._lose(p, voluntary=False)
                continue
            with self._lock:
                if self._revs.get(p) == rev:
                    self._revs[p], self._renewed[p] = new, sent

    def _balance(self) -> None:
        kv, run, me = self._kv_ready(), self.io.run, self.me.encode()
        try:
            keys = run(kv.keys(), timeout=self.ttl)
        except nats.js.errors.NoKeysError:
            keys = []
        workers = max(1, sum(1 for k in keys if k.startswith("w.")))
        n = self.bus.partitions
        fair = math.ceil(n / workers)
        for p in sorted(self._revs, reverse=True)[: max(0, len(self._revs) - fair)]:
            self._lose(p, voluntary=True)  # rebalance: a new worker joined
        start = zlib.crc32(me) % n  # workers start their search at different partitions
        for p in ((start + i) % n for i in range(n)):
            if len(self._revs) >= fair or self._stop.is_set():
                break
            if p in self._revs:
                continue
            sent = time.monotonic()
            try:
                rev = run(kv.create(f"p.{p}", me), timeout=self.ttl)
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # held by someone else
            self._gain(p, rev, sent)

    def _gain(self, p: int, rev: int, sent: float) -> None:
        try:
            self.store.claim_partition(p, self.me)
            sub = self.io.run(self._subscribe(p), timeout=self.ttl)
            sunk = self.store.sink_positions().get(p, 0)
            self.bus.reset_partition(p)
            pipeline = self.pipeline() if self.pipeline is not None else None
            if pipeline is not None:
                pipeline.reload([p])
        except Exception as err:
            log.warning("taking over partition %d failed (%s); giving it back", p, err)
            self.store.release_partition(p)
            try:
                self.io.run(self._kv.delete(f"p.{p}", last=rev), timeout=2)  # type: ignore[union-attr]
            except Exception as err2:  # it expires anyway
                log.debug("lease delete: %s", err2)
            return
        with self._lock:
            self._revs[p], self._renewed[p], self._subs[p], self._sunk[p] = rev, sent, sub, sunk
            self.active = self.active | {p}
        log.info("worker %s owns partition %d (stream sequence %d copied)", self.me, p, sunk)

    def _lose(self, p: int, *, voluntary: bool) -> None:
        with self._lock:
            self.active = self.active - {p}
            rev = self._revs.pop(p, None)
            self._renewed.pop(p, None)
            sub = self._subs.pop(p, None)
            self._sunk.pop(p, None)
        self.store.release_partition(p)
        if sub is not None:
            try:
                self.io.run(sub.unsubscribe(), timeout=2)
            except Exception as err:  # the connection may be gone; nothing to clean then
                log.debug("unsubscribe: %s", err)
        if voluntary and rev is not None and self._kv is not None:
            try:
                self.io.run(self._kv.delete(f"p.{p}", last=rev), timeout=2)
            except Exception as err:  # it expires anyway
                log.debug("lease delete: %s", err)

    async def _subscribe(self, p: int) -> Any:
        stream, js = self.bus.stream(p), self.bus.js
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(stream, "sink")
        cfg = ConsumerConfig(
            durable_name="sink",
            deliver_policy=DeliverPolicy.ALL,  # a work queue holds only what is not yet copied
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=self.bus.subject(p),
            ack_wait=_ACK_WAIT_S,
            max_ack_pending=4 * _PULL_MSGS,
        )
        await js.add_consumer(stream, cfg)
        return await js.pull_subscribe_bind(consumer="sink", stream=stream)

    # -- the raw sink ---------------------------------------------------------------------------
    def _sink_loop(self) -> None:
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
                    pending.update({p: m for p, m in self.io.run(self._pull(want), timeout=10).items() if m})
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
                    self._lose(p, voluntary=False)
            raise
        self.bus.observe(len(items), messages)
        with self._lock:
            for p, seq in sink.items():
                if p in self._sunk:
                    self._sunk[p] = seq
        self.bus.sunk(res.accepted if isinstance(res, AppendResult) else [], list(sink))

    @staticmethod
    async def _pull(subs: dict[int, Any]) -> dict[int, list[Msg]]:
        async def one(p: int, sub: Any) -> tuple[int, list[Msg]]:
            # Never let one partition's error fail the gather: the other partitions' messages
            # would be dropped unacked and only come back after ack_wait.
            try:
                return p, list(await sub.fetch(_PULL_MSGS, timeout=0.25))
            except (TimeoutError, nats.errors.TimeoutError):
                return p, []  # nothing queued
            except Exception as err:  # e.g. 409 consumer deleted (a takeover): the owner resubscribes
                log.warning("pull of partition %d: %r", p, err)
                return p, []

        return dict(await asyncio.gather(*(one(p, s) for p, s in subs.items())))


async def _ack(msgs: list[Msg]) -> None:
    for m in msgs:
        await m.ack()

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
5. only then serve N to the pipeline and the sink (``sink.RawSink``).

The worker knows the bus only through :class:`LeaseHost`, so this module does not import it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.kv import KeyValue

from citybrain.core.bus.nats.loop import EventLoopThread
from citybrain.core.bus.nats.sink import PULL_MSGS, RawSink, SinkListener
from citybrain.core.config import NatsSettings
from citybrain.core.store.postgres import PostgresStore

log = logging.getLogger(__name__)
# A message fetched but neither copied nor acked (its pull was lost) comes back after this long;
# coming back is harmless (sequence floor + id dedupe), so it is short.
_ACK_WAIT_S = 10.0
_LOST = (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError)


class LeaseHost(SinkListener, Protocol):
    """What a worker uses of the bus it runs in (``bus.JetStreamBus``)."""

    partitions: int
    settings: NatsSettings
    worker_id: str
    store: PostgresStore
    io: EventLoopThread
    js: JetStreamContext

    def stream(self, p: int) -> str: ...

    def subject(self, p: int) -> str: ...

    def reset_partition(self, partition: int) -> None: ...


class PartitionWorker:
    def __init__(self, bus: LeaseHost, pipeline: Callable[[], Any] | None) -> None:
        self.bus, self.store, self.io = bus, bus.store, bus.io
        self.pipeline = pipeline
        self.ttl = bus.settings.lease_ttl_s
        self.me = re.sub(r"[^-_=a-zA-Z0-9]", "_", bus.worker_id)
        self.active: frozenset[int] = frozenset()  # served to the pipeline; replaced, never mutated
        self._revs: dict[int, int] = {}  # lease revision held, per owned partition
        self._renewed: dict[int, float] = {}  # monotonic time a renewal was *sent* (conservative)
        self._lock = threading.Lock()  # before the sink's own lock, never after it
        self._started = False
        self._stop = threading.Event()
        self.sink = RawSink(bus.store, bus.io, bus, lambda p: self._lose(p, voluntary=False), self._stop)
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
                 (self.sink.run, "citybrain-sink"))  # fmt: skip
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
            self._revs[p], self._renewed[p] = rev, sent
            self.sink.attach(p, sub, sunk)
            self.active = self.active | {p}
        log.info("worker %s owns partition %d (stream sequence %d copied)", self.me, p, sunk)

    def _lose(self, p: int, *, voluntary: bool) -> None:
        with self._lock:
            self.active = self.active - {p}
            rev = self._revs.pop(p, None)
            self._renewed.pop(p, None)
            sub = self.sink.detach(p)
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
            max_ack_pending=4 * PULL_MSGS,
        )
        await js.add_consumer(stream, cfg)
        return await js.pull_subscribe_bind(consumer="sink", stream=stream)

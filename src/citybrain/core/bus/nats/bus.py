"""The scale-out bus: NATS JetStream carries events from gateways and API nodes to workers.

Layout: partition N is stream ``<stream>_P<N>`` with the one subject ``<subject>.p<N>``; an event
goes to ``partition_for(key)``. One stream per partition (not one stream for all) so that in a
cluster each partition has its own RAFT group and leader, spread over the servers.

Publishing: the events of a batch are grouped by partition and sent many per message (a JSON
array, ``Nats-Msg-Id`` = a hash of the event ids so a retried publish is dropped by the server),
all messages in flight at once; ``publish`` returns after every publish ack, i.e. once JetStream
has stored them (on a quorum of replicas in a cluster). The streams are work queues with a bound
(``nats.max_pending_msgs``, discard new): when workers fall behind, the server refuses publishes
and ingest answers 429 -- backpressure that holds across any number of publishers.

Offsets: processors never see JetStream sequences. The partition's owner copies its stream into
the store's ``events`` table (the raw sink) with COPY, dropping ids already stored, and records the
last copied stream sequence in the same transaction; only then does it ack the messages (which
removes them from the work queue). Events get their processor offsets there, contiguous per
partition exactly as with the embedded bus, so the pipeline, its checkpoints (offset + state +
outputs in one transaction) and its restart logic are the same on both buses. Redelivery after a
crash re-copies nothing (sequence <= recorded is skipped) and re-counts nothing (the checkpoint).

Ownership: see ``worker``; the copy into the store: ``sink``. The Bus interface is synchronous (the
pipeline runs on a thread), so the asyncio nats-py client runs on its own event-loop thread
(``loop``) inside the bus.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from citybrain.core.bus.base import partition_for
from citybrain.core.bus.nats.loop import EventLoopThread
from citybrain.core.bus.nats.worker import PartitionWorker
from citybrain.core.bus.tail import TailedBus
from citybrain.core.config import NatsSettings
from citybrain.core.errors import BackpressureError, ConfigError, StoreError
from citybrain.core.events import Event
from citybrain.core.store.base import AppendResult
from citybrain.core.store.postgres import PostgresStore

log = logging.getLogger(__name__)
_ENC = msgspec.json.Encoder()
_FULL = (10077, 10047)  # JetStream: maximum messages / bytes exceeded (discard-new bound reached)


MONITOR_EVERY_S = 0.25


class JetStreamBus(TailedBus):
    store: PostgresStore

    def __init__(
        self,
        store: PostgresStore,
        settings: NatsSettings,
        partitions: int = 4,
        *,
        tail: int = 65_536,
        max_lag: int = 2_000_000,
        consume: bool = True,
        pipeline: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(store, partitions, tail)
        self.settings = settings
        self.max_lag = max_lag
        # every process on this bus commits only partitions it owns (an API node: none)
        store.enable_fencing()
        self.worker_id = settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.io = EventLoopThread("citybrain-nats")
        self._closed = False
        try:
            self.nc = self.io.run(self._connect(), timeout=15)
        except Exception as err:
            self.io.close()
            raise ConfigError(f"cannot connect to NATS at {settings.url}: {err}") from err
        self.js = self.nc.jetstream(timeout=10)
        self.io.run(self._ensure_streams())
        self._cluster_lag: dict[str, int] = {}
        self._backlog = 0  # events published but not yet copied to the store (estimate), all partitions
        self.events_per_msg = float(settings.max_events_per_msg)  # running mean, seen here; for ``$bus`` lag
        self._stop = threading.Event()
        self._monitor = threading.Thread(
            target=self._monitor_loop, name="citybrain-nats-monitor", daemon=True
        )
        self._monitor.start()
        self.worker = PartitionWorker(self, pipeline) if consume else None

    # -- connection and layout -----------------------------------------------------------------
    async def _connect(self) -> NATS:
        async def on_error(err: Exception) -> None:
            log.warning("NATS: %s", err)

        async def on_disconnect() -> None:
            if not self._closed:
                log.warning("NATS: disconnected; reconnecting")

        async def on_reconnect() -> None:
            log.info("NATS: reconnected")

        return await nats.connect(
            servers=[u.strip() for u in self.settings.url.split(",")],
            name=f"citybrain-{self.worker_id}",
            max_reconnect_attempts=-1,  # a server restart must never end the process's connection
            reconnect_time_wait=0.25,
            connect_timeout=5,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
        )

    def stream(self, p: int) -> str:
        return f"{self.settings.stream}_P{p}"

    def subject(self, p: int) -> str:
        return f"{self.settings.subject}.p{p}"

    async def _ensure_streams(self) -> None:
        for p in range(self.partitions):
            cfg = StreamConfig(
                name=self.stream(p),
                subjects=[self.subject(p)],
                retention=RetentionPolicy.WORK_QUEUE,  # the store keeps history; the stream is the buffer
                discard=DiscardPolicy.NEW,
                max_msgs=self.settings.max_pending_msgs,
                storage=StorageType.FILE,
                num_replicas=self.settings.replicas,
                duplicate_window=120.0,
            )
            try:
                await self.js.add_stream(cfg)
            except nats.js.errors.BadRequestError:
                await self.js.update_stream(cfg)  # settings changed (e.g. the bound): apply them

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, events: Sequence[Event], *, internal: bool = False) -> AppendResult:
        """Durable in JetStream when this returns.
        ``internal`` (events derived by the pipeline) skips the lag check and waits out a full bus:
        the raw sink drains it independently of the processors."""
        worst = 0 if internal else max(self._cluster_lag.values(), default=0)
        if worst > self.max_lag:
            raise BackpressureError(
                f"processing lags {worst} events behind ingest (limit bus.max_lag={self.max_lag}); "
                "retry later",
                retry_after=1.0,
            )
        if not internal:
            return self._publish(events)
        deadline = time.monotonic() + 30
        while True:
            try:
                return self._publish(events)
            except BackpressureError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _publish(self, events: Sequence[Event]) -> AppendResult:
        unique: dict[str, Event] = {}
        for ev in events:
            unique.setdefault(ev.id, ev)
        per: dict[int, list[Event]] = {}
        for ev in unique.values():
            per.setdefault(partition_for(ev.key, self.partitions), []).append(ev)
        step = max(1, self.settings.max_events_per_msg)
        chunks = [(p, evs[i : i + step]) for p, evs in per.items() for i in range(0, len(evs), step)]
        try:
            acks = self.io.run(self._publish_all(chunks), timeout=30)
        except nats.js.errors.APIError as err:
            if err.err_code in _FULL:
                raise BackpressureError(
                    "the bus is full: workers are behind (nats.max_pending_msgs reached); retry later",
                    retry_after=1.0,
                ) from err
            raise StoreError(f"publishing to JetStream failed: {err}") from err
        except (nats.errors.Error, TimeoutError, OSError) as err:
            raise StoreError(f"publishing to JetStream failed ({type(err).__name__}: {err}); retry") from err
        self.observe(len(unique), len(chunks))
        result = AppendResult(duplicates=len(events) - len(unique))
        for (p, evs), (seq, duplicate) in zip(chunks, acks, strict=True):
            if duplicate:  # the very same message was stored before (a retried request)
                result.duplicates += len(evs)
            else:
                result.accepted.extend((p, seq, ev) for ev in evs)
        return result

    async def _publish_all(self, chunks: list[tuple[int, list[Event]]]) -> list[tuple[int, bool]]:
        async def one(p: int, evs: list[Event]) -> tuple[int, bool]:
            msg_id = hashlib.blake2b("\n".join(e.id for e in evs).encode(), digest_size=16).hexdigest()
            ack = await self.js.publish(
                self.subject(p), _ENC.encode(evs), headers={"Nats-Msg-Id": msg_id, "Cb-Count": str(len(evs))}
            )
            return ack.seq, bool(ack.duplicate)

        return list(await asyncio.gather(*(one(p, evs) for p, evs in chunks)))

    # -- consuming -------------------------------------------------------------------------------
    def owns(self, partition: int) -> bool:
        w = self.worker
        if w is None:
            return False
        w.start()  # the worker side starts with the first fetch: then a pipeline exists to reload
        return bool(partition in w.active)

    def fetch(self, partition: int, after: int, limit: int, timeout: float = 0.0) -> list[tuple[int, Event]]:
        if not self.owns(partition):
            return []
        return super().fetch(partition, after, limit, timeout)

    def observe(self, events: int, messages: int) -> None:
        if messages:
            self.events_per_msg = 0.8 * self.events_per_msg + 0.2 * (events / messages)

    def sunk(self, accepted: list[tuple[int, int, Event]], partitions: Sequence[int]) -> None:
        """The worker copied events into the store: make them visible to the local pipeline."""
        per: dict[int, tuple[int, list[Event]]] = {}
        for p, off, ev in accepted:
            per.setdefault(p, (off, []))[1].append(ev)
        self._advance(per)

    def reset_partition(self, partition: int) -> None:
        """A partition was (re)acquired: its head comes from the store, its tail starts empty."""
        self._reset(partition, self.store.heads().get(partition, 0))

    def wait(self, timeout: float) -> None:
        if self.worker is not None:
            self.worker.start()
        super().wait(timeout)

    def lag(self) -> dict[str, int]:
        """Cluster-wide: events stored but not processed, per processor (from the store's checkpoints,
        refreshed every second, with this worker's own fresher positions), and ``$bus``: events
        published but not yet copied to the store (messages pending x mean events per message)."""
        out = dict(self._cluster_lag)
        w = self.worker
        for g, local in self._lag_over(w.active if w is not None else ()).items():
            out[g] = max(out.get(g, 0), local)
        out["$bus"] = self._backlog
        return out

    def _monitor_loop(self) -> None:
        """Four times a second: heads of partitions owned elsewhere, cluster lag (what backpressure
        reads: a stale view lets publishers overshoot bus.max_lag), JetStream backlog."""
        while not self._stop.wait(MONITOR_EVERY_S):
            try:
                heads = self.store.heads()
                mine = set(self.worker.active) if self.worker is not None else set()
                with self._cond:
                    for p in range(self.partitions):
                        if p not in mine:
                            self._heads[p] = heads.get(p, 0)
                self._cluster_lag = self.store.cluster_lag()
                # a short wait: the client's loop is busy while publishers push hard, and a slow
                # probe here would leave the lag that backpressure reads seconds old
                pending = self.io.run(self._pending_messages(), timeout=0.5)
                self._backlog = round(pending * self.events_per_msg)
            except Exception as err:  # a probe: report, keep going (NATS or PostgreSQL restarting)
                log.debug("bus monitor: %s", err)

    async def _pending_messages(self) -> int:
        total = 0
        for p in range(self.partitions):
            info = await self.js.stream_info(self.stream(p))
            total += info.state.messages
        return total

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self.worker is not None:
            self.worker.stop()
        try:
            self.io.run(self.nc.drain(), timeout=5)
        except Exception as err:  # closing anyway
            log.debug("NATS drain: %s", err)
        self.io.close()

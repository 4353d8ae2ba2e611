"""The bus: an ordered log partitioned by entity key.

``publish`` returns only once the events are durable (that is when ingest may acknowledge), and
gives each event a per-partition offset. Consumers read a partition after a position they keep in
their own checkpoint, so a restart resumes exactly where the last committed batch ended.

The embedded bus keeps its durable log in the store's ``events`` table and a bounded in-memory
tail of each partition for live consumers; a consumer that falls behind the tail reads from the
store. Memory is bounded by ``partitions x tail`` whatever the consumers do; ingest is refused with
backpressure when a consumer lags more than ``max_lag`` events. A JetStream bus (``nats/``)
implements the same interface with one subject per partition.

Modules: ``base`` (the interface), ``tail`` (in-memory tails, heads and consumer positions, shared
by both buses), ``embedded``, ``nats/`` (imported only when configured: it needs nats-py).
"""

from citybrain.core.bus.base import Bus, partition_for
from citybrain.core.bus.embedded import EmbeddedBus

__all__ = ["Bus", "EmbeddedBus", "partition_for"]

"""The scale-out bus on NATS JetStream: ``bus`` (publishing, consuming, lag), ``worker`` (partition
leases and takeover), ``sink`` (copying owned partitions into the store), ``loop`` (the asyncio
client's thread). Imported only when ``bus.backend = "nats"``."""

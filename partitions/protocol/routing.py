"""Which partition a message goes to: its correlation key, hashed onto fixed hash slots.

One pure function shared by the engine (a subscription is registered on the partition of its
correlation key), the Ray cluster's router and the gRPC gateway (a PUBLISH goes there):
they must agree byte for byte, so the hash is CRC32 of the UTF-8 key — stable across processes
and Python versions, unlike the salted `hash()`.

Why slots: the key is hashed onto `HASH_SLOTS` slots, a number fixed for the life of a cluster,
and the slot, not the hash, is mapped to a partition. Today the map is `slot % partition_count`
(partitions numbered from 1). When partitions can be added while a cluster runs, a slot map kept
in the topology replaces that modulo: moving a slot moves only the messages and subscriptions of
that slot, and a correlation key never changes slot. Callers pass the partition count they know;
only this module changes when the map arrives.
"""

import zlib

# Fixed for the life of a cluster: changing it moves every correlation key.
HASH_SLOTS = 16_384
# Partitions are numbered from 1 (partition 1 takes deployments).
FIRST_PARTITION_ID = 1


def hash_slot_of(correlation_key: str) -> int:
    """The hash slot of a correlation key, in [0, HASH_SLOTS)."""
    return zlib.crc32(correlation_key.encode("utf-8")) % HASH_SLOTS


def partition_for_slot(slot: int, partition_count: int) -> int:
    """The partition that owns a hash slot (today `slot % partition_count`, from 1)."""
    assert 0 <= slot < HASH_SLOTS, slot
    if partition_count < 1:
        raise ValueError(f"partition_count must be at least 1, got {partition_count}")
    return FIRST_PARTITION_ID + slot % partition_count


def partition_for_correlation_key(correlation_key: str, partition_count: int) -> int:
    """The partition (numbered from 1) where messages with this correlation key are published
    and where subscriptions waiting for them are registered."""
    if not isinstance(correlation_key, str):
        raise TypeError(f"correlation_key must be a str, got {type(correlation_key).__name__}")
    return partition_for_slot(hash_slot_of(correlation_key), partition_count)

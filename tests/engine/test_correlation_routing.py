"""partition_for_correlation_key: stable (CRC32 onto fixed hash slots), spread, 1-based."""

import collections
import random

import pytest

from raybee.partitions.protocol import (
    HASH_SLOTS,
    hash_slot_of,
    partition_for_correlation_key,
    partition_for_slot,
)

# CRC-32's published check value: crc32(b"123456789") == 0xCBF43926.
CRC32_CHECK_VALUE = 0xCBF43926


def test_the_slot_is_crc32_of_the_utf8_key():
    assert hash_slot_of("123456789") == CRC32_CHECK_VALUE % HASH_SLOTS
    assert hash_slot_of("") == 0  # crc32 of nothing is 0


def test_partitions_are_numbered_from_one_and_follow_the_slot():
    slot = CRC32_CHECK_VALUE % HASH_SLOTS
    for count in (1, 2, 3, 7):
        assert partition_for_correlation_key("123456789", count) == 1 + slot % count
    assert partition_for_correlation_key("anything", 1) == 1


def test_keys_spread_over_partitions():
    seed = 8
    print("seed", seed)
    rng = random.Random(seed)
    keys = [f"order-{rng.getrandbits(40)}" for _ in range(3000)]
    counts = collections.Counter(partition_for_correlation_key(k, 3) for k in keys)
    assert set(counts) == {1, 2, 3}
    assert min(counts.values()) > 800, counts


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="partition_count"):
        partition_for_correlation_key("a", 0)
    with pytest.raises(TypeError, match="correlation_key must be a str"):
        partition_for_correlation_key(12, 3)
    with pytest.raises(AssertionError):
        partition_for_slot(HASH_SLOTS, 3)

"""The memory and RocksDB stores end byte-identical after the same transactions."""

import random
from pathlib import Path

import pytest

from raybee.state import MemoryStore, RocksDBStore
from raybee.state.testing import BY_INSTANCE, BY_NAME, FAMILIES, NUMBERS, PAIRS, Abort, seeds


def _random_key_value(rng: random.Random, family):
    if family is NUMBERS:
        return rng.randrange(-50, 50), rng.randrange(-(2**63), 2**63)
    if family is BY_INSTANCE:
        return (rng.randrange(8), rng.choice(["", "a", "a\x00", "b"])), rng.randbytes(3)
    if family is BY_NAME:
        return (rng.choice(["x", "xy", "\x00"]), rng.randrange(-3, 3)), rng.randrange(9)
    return (rng.randrange(4), rng.randrange(4)), {"n": rng.randrange(5)}


@pytest.mark.parametrize("seed", seeds(range(5)))
def test_same_transactions_same_bytes(tmp_path: Path, seed: int) -> None:
    print(f"seed={seed} (replay with RAYBEE_SEED={seed})")
    rng = random.Random(seed)
    stores = [MemoryStore(FAMILIES), RocksDBStore(tmp_path / "db", FAMILIES)]
    aborted = 0
    try:
        for _ in range(60):
            ops = []
            for _ in range(rng.randrange(1, 30)):
                family = rng.choice((NUMBERS, BY_INSTANCE, BY_NAME, PAIRS))
                key, value = _random_key_value(rng, family)
                ops.append((rng.random() < 0.25, family, key, value))
            abort = rng.random() < 0.2
            aborted += abort
            for store in stores:
                try:
                    with store.transaction() as txn:
                        for is_delete, family, key, value in ops:
                            if is_delete:
                                txn.delete(family, key)
                            else:
                                txn.put(family, key, value)
                        if abort:
                            raise Abort
                except Abort:
                    pass
        assert aborted > 0, "the run should include aborted transactions"
        assert list(stores[0].dump()) == list(stores[1].dump())
        assert stores[0].digest() == stores[1].digest()
        for family in FAMILIES:
            assert list(stores[0].view().items(family)) == list(stores[1].view().items(family))
    finally:
        for store in stores:
            store.close()

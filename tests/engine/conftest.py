import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.testing import FakeClock
from raybee.state import MemoryStore, RocksDBStore


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(params=["rocksdb", "memory"])
def partition(request, tmp_path, clock):
    if request.param == "rocksdb":
        store = RocksDBStore(tmp_path / "state", ENGINE_FAMILIES)
    else:
        store = MemoryStore(ENGINE_FAMILIES)
    p = LocalPartition(store, MemoryLogStream(), partition_id=1, clock=clock)
    yield p
    p.close()

from pathlib import Path

import pytest

from raybee.state import MemoryStore
from raybee.state.testing import NUMBERS, MemoryStoreFactory, StoreConformance


class TestMemoryStore(StoreConformance):
    stateful_examples = 100

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> MemoryStoreFactory:
        return MemoryStoreFactory(tmp_path)


def test_checkpoint_is_one_file_and_leaves_no_partial(tmp_path: Path) -> None:
    store = MemoryStore([NUMBERS])
    with store.transaction() as txn:
        txn.put(NUMBERS, 1, 1)
    store.checkpoint(tmp_path / "checkpoint")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    assert [p.name for p in (tmp_path / "checkpoint").iterdir()] == ["memory-store.pickle"]

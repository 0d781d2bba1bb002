from pathlib import Path

import pytest

from raybee.state.testing import RocksDBStoreFactory, StoreConformance


class TestRocksDBStore(StoreConformance):
    stateful_examples = 60

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> RocksDBStoreFactory:
        return RocksDBStoreFactory(tmp_path)

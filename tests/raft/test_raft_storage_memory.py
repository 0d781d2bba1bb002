"""The storage conformance suite against MemoryStorage."""

from raybee.raft import MemoryStorage
from raybee.raft.storage_testing import StorageConformance


class TestMemoryStorage(StorageConformance):
    checks_snapshot_chunks = False

    def make_storage(self, tmp_path):
        return MemoryStorage()

    def reopen(self, storage, tmp_path):
        return storage

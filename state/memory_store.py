"""The in-memory store: same protocol and conformance suite as RocksDBStore, no disk.

Each family is a dict plus a sorted key list (bisect), enough for tests and simulations; a
checkpoint is one pickle file written atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import os
import pickle
import shutil
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from pathlib import Path

from raybee.state.errors import CheckpointError, SchemaError
from raybee.state.family import ColumnFamily
from raybee.state.store import Changes, Store, schema_record

_checkpoint_file = "memory-store.pickle"
_checkpoint_format = 1


class MemoryStore(Store):
    """MemoryStore(families): an empty store."""

    def __init__(self, families: Iterable[ColumnFamily]) -> None:
        super().__init__(families)
        self._data: dict[str, dict[bytes, bytes]] = {f.name: {} for f in self._families}
        self._keys: dict[str, list[bytes]] = {f.name: [] for f in self._families}
        # Like RocksDBStore's schema records: every family ever declared, kept in checkpoints.
        self._schema = {f.name: schema_record(f) for f in self._families}

    @classmethod
    def open_checkpoint(
        cls, checkpoint: str | Path, families: Iterable[ColumnFamily]
    ) -> MemoryStore:
        """A store holding the checkpoint's contents (families not declared are dropped)."""
        file = Path(checkpoint) / _checkpoint_file
        if not file.is_file():
            raise CheckpointError(f"{checkpoint} is not a memory store checkpoint (no {file.name})")
        with file.open("rb") as handle:
            contents = pickle.load(handle)
        if contents.get("format") != _checkpoint_format:
            raise CheckpointError(f"{file}: unknown checkpoint format {contents.get('format')!r}")
        store = cls(families)
        mismatches = store._schema_mismatches(contents["schema"])
        if mismatches:
            raise SchemaError(f"checkpoint {checkpoint}: column families changed: {mismatches}")
        store._schema.update(contents["schema"])
        for name, items in contents["families"].items():
            if name in store._data:
                store._data[name] = dict(items)
                store._keys[name] = sorted(store._data[name])
        return store

    def _get(self, family_name: str, key: bytes) -> bytes | None:
        return self._data[family_name].get(key)

    def _scan(
        self, family_name: str, low: bytes, high: bytes | None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        data = self._data[family_name]
        keys = self._keys[family_name]
        # Continue from the last key itself, not an index: robust if the list changed since.
        if reverse:
            index = (len(keys) if high is None else bisect_left(keys, high)) - 1
            while index >= 0 and keys[index] >= low:
                key = keys[index]
                yield key, data[key]
                index = bisect_left(keys, key) - 1
            return
        index = bisect_left(keys, low)
        while index < len(keys):
            key = keys[index]
            if high is not None and key >= high:
                return
            yield key, data[key]
            index = bisect_right(keys, key)

    def _write(self, changes: Changes) -> None:
        for family_name, family_changes in changes.items():
            data = self._data[family_name]
            keys = self._keys[family_name]
            for key, value in family_changes.items():
                if value is None:
                    if data.pop(key, None) is not None:
                        index = bisect_left(keys, key)
                        assert keys[index] == key
                        del keys[index]
                else:
                    if key not in data:
                        insort(keys, key)
                    data[key] = value
            assert len(keys) == len(data)

    def _checkpoint(self, directory: Path) -> None:
        contents = {
            "format": _checkpoint_format,
            "families": {name: sorted(data.items()) for name, data in self._data.items()},
            "schema": dict(self._schema),
        }
        partial = directory.with_name(directory.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # a leftover of a crashed checkpoint
        partial.mkdir()
        with (partial / _checkpoint_file).open("wb") as handle:
            pickle.dump(contents, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(directory)

    def _close(self) -> None:
        self._data = {}
        self._keys = {}

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._families)} families)"

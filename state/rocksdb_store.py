"""The RocksDB store (rocksdict, raw bytes mode).

Layout decision — physical RocksDB column families, one per declared ColumnFamily. Measured by
`.venv/bin/python -m raybee.workloads.bench_state --layouts --repeats 3` (raw rocksdict, WAL off:
1M puts of 16-byte keys / 64-byte values in write batches of 100 round-robin over 10 families,
100k random point gets, 10k prefix scans of 10 keys each, then flush + checkpoint; best of 3 on
the 2-core machine shared with other engineers' test runs, 2026-11-26):

  layout                               puts/s   gets/s  scan keys/s  checkpoint s (SSTs)
  physical CFs, default buffers         2.20M     297k     1.36M      0.28  (10)
  key prefixes, default buffers         0.90M     195k     0.89M      0.17  (2)
  physical CFs, 64 MiB shared budget    1.66M     177k     0.97M      0.08  (30)
  key prefixes, 64 MiB shared budget    0.74M     111k     0.52M      0.006 (3)

(An earlier run gave the same ranking: 1.83M/1.06M puts/s, 279k/212k gets/s physical/prefix.)
Physical families are faster for puts (~2x), gets and scans (~1.5x): keys are shorter and each
family's memtable is smaller. The prefix layout wins only the checkpoint, because a checkpoint
flushes every non-empty memtable; with a shared write-buffer budget (db_write_buffer_size) the
physical layout's checkpoint of 1M keys stays far below the 1 s target and its memory no longer
grows with the number of families. So: physical column families with a shared 64 MiB budget.
Cost of the choice: the family set is fixed per open (new families are created at open;
undeclared ones found on disk are opened and left alone).

Durability: RocksDB's WAL is off for every write (WriteOptions.disable_wal). The replicated log
is our write-ahead log; after a crash the state is rebuilt from the last checkpoint plus the
log. atomic_flush is on so that all families are always flushed together: with the WAL off and
non-atomic flushes a crash could leave family A flushed at a later batch than family B.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import rocksdict

from raybee.state import constants
from raybee.state.errors import CheckpointError, SchemaError, StateError
from raybee.state.family import ColumnFamily
from raybee.state.store import Changes, Store, schema_record

_default_family = "default"
_schema_key_prefix = b"raybee.schema."
# Immutable RocksDB files a checkpoint can share with a working copy by hard link; everything
# else (MANIFEST, CURRENT, OPTIONS, WAL) is small and copied, since RocksDB may rewrite it.
_hard_linkable_suffixes = (".sst", ".blob")


def _options() -> rocksdict.Options:
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    options.set_atomic_flush(True)
    options.set_db_write_buffer_size(constants.write_buffer_bytes_total)
    options.set_max_background_jobs(constants.background_jobs_max)
    return options


class RocksDBStore(Store):
    """RocksDBStore(path, families): opens (creating when missing) the database at path.

    Column families found on disk but not declared are opened (RocksDB requires it) and left
    untouched; they are invisible to reads and not part of dump() or digest().
    """

    def __init__(self, path: str | Path, families: Iterable[ColumnFamily]) -> None:
        super().__init__(families)
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise StateError(f"RocksDB path {self.path} exists and is not a directory")
        names = {family.name for family in self._families}
        if (self.path / "CURRENT").exists():
            names |= set(rocksdict.Rdict.list_cf(str(self.path), _options()))
        names.discard(_default_family)
        try:
            self._db = rocksdict.Rdict(
                str(self.path), _options(), column_families={name: _options() for name in names}
            )
        except Exception as error:  # rocksdict raises bare Exception (e.g. LOCK held)
            raise StateError(f"cannot open RocksDB at {self.path}: {error}") from error
        self._write_options = rocksdict.WriteOptions()
        self._write_options.disable_wal = True
        self._record_schema()
        self._readers = {f.name: self._db.get_column_family(f.name) for f in self._families}
        self._handles = {f.name: self._db.get_column_family_handle(f.name) for f in self._families}

    def _record_schema(self) -> None:
        # The default column family holds only these records, one per family ever declared.
        stored = {}
        for family in self._families:
            raw = self._db.get(_schema_key_prefix + family.name.encode())
            if raw is not None:
                stored[family.name] = raw.decode()
        mismatches = self._schema_mismatches(stored)
        if mismatches:
            self._db.close()
            raise SchemaError(f"RocksDB at {self.path}: column families changed: {mismatches}")
        batch = rocksdict.WriteBatch(raw_mode=True)
        for family in self._families:
            if family.name not in stored:
                batch.put(_schema_key_prefix + family.name.encode(), schema_record(family).encode())
        if len(batch):
            self._db.write(batch, self._write_options)

    @classmethod
    def open_checkpoint(
        cls, checkpoint: str | Path, path: str | Path, families: Iterable[ColumnFamily]
    ) -> RocksDBStore:
        """Opens a working copy of a checkpoint at path (which must not exist).

        SST files are hard-linked (copied across file systems); the checkpoint stays intact,
        so it can be opened again or sent to another replica.
        """
        checkpoint, path = Path(checkpoint), Path(path)
        if not (checkpoint / "CURRENT").is_file():
            raise CheckpointError(f"{checkpoint} is not a RocksDB checkpoint (no CURRENT file)")
        if path.exists():
            raise CheckpointError(f"cannot open checkpoint {checkpoint} at {path}: it exists")
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for source in sorted(checkpoint.iterdir()):
            if not source.is_file():
                raise CheckpointError(f"unexpected entry {source} in checkpoint {checkpoint}")
            target = partial / source.name
            if source.suffix in _hard_linkable_suffixes:
                try:
                    os.link(source, target)
                    continue
                except OSError as error:
                    if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                        raise
            shutil.copyfile(source, target)
        partial.rename(path)
        return cls(path, families)

    def _get(self, family_name: str, key: bytes) -> bytes | None:
        return self._readers[family_name].get(key)

    def _scan(
        self, family_name: str, low: bytes, high: bytes | None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        read_options = rocksdict.ReadOptions()
        if high is not None:
            read_options.set_iterate_upper_bound(high)
        # A generator, so read_options (and the upper bound it holds) stays referenced while
        # the RocksDB iterator runs: rocksdict does not keep it alive, and once it was garbage
        # the iterator stopped early at whatever the freed bound's memory then held.
        reader = self._readers[family_name]
        if not reverse:
            yield from reader.items(from_key=low, read_opt=read_options)
            return
        # Backwards from the last key below the upper bound; the low end is checked here
        # instead of with iterate_lower_bound (seeking below it is undefined in RocksDB).
        for key, value in reader.items(backwards=True, read_opt=read_options):
            if key < low:
                return
            yield key, value

    def _write(self, changes: Changes) -> None:
        batch = rocksdict.WriteBatch(raw_mode=True)
        for family_name, family_changes in changes.items():
            handle = self._handles[family_name]
            for key, value in family_changes.items():
                if value is None:
                    batch.delete(key, handle)
                else:
                    batch.put(key, value, handle)
        self._db.write(batch, self._write_options)

    def _flush(self) -> None:
        # The WAL is off, so memtables hold the only copy of recent writes: flush them before a
        # checkpoint links the SST files. atomic_flush makes every family flush together.
        self._db.flush(True)  # the default family: schema records
        for reader in self._readers.values():
            reader.flush(True)

    def _checkpoint(self, directory: Path) -> None:
        self._flush()
        try:
            rocksdict.Checkpoint(self._db).create_checkpoint(str(directory))
        except Exception as error:
            raise CheckpointError(f"RocksDB checkpoint into {directory} failed: {error}") from error

    def _close(self) -> None:
        self._flush()
        # The per-family Rdicts share the database; while any is alive RocksDB keeps its LOCK
        # and the path cannot be opened again in this process.
        self._readers.clear()
        self._handles.clear()
        self._db.close()

    def __repr__(self) -> str:
        return f"RocksDBStore({str(self.path)!r})"

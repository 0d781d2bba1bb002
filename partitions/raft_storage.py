"""Raft storage on the journal: the log in `journal/`, term and vote in a small atomic file.

Layout under `path`:
  journal/         the Raft log; one journal entry per Raft entry (same index and term)
  hard_state.json  term, vote and commit; written to a temp file, fsynced, renamed, dir fsynced
  snapshot.json    which snapshot Raft holds: its meta and its position in the snapshot store
                   (same atomic write, with a CRC32)
  conf_entries.json  where the membership entries are, so a restart needs no log scan
  snapshots/       the snapshot store (`partitions/snapshots.py`), unless the host names another

One snapshot type: a Raft snapshot IS a snapshot of the store - a RocksDB checkpoint with its
manifest, whose "raft" section names the entry it stands for. Raft holds it as `Snapshot(meta,
data=<partitions.snapshots.Snapshot>)` and never reads it: the leader streams its files in
checksummed chunks (`snapshot_chunk`), a follower writes each chunk as it arrives and renames
the verified snapshot into the store (`receive_snapshot_chunk`), then installs it through the
Ready (`apply_snapshot`: snapshot.json, then the journal reset; older snapshots are dropped, the
log after them is gone). On open, a damaged or missing snapshot falls back to an older valid
one that the log still continues (the journal is compacted only below the OLDEST kept
snapshot, and not below `retain_from_index`, which the host sets for its exporters).

Entry data is opaque to Raft. Here a normal entry's data is a pyarrow.RecordBatch of the
journal's schema; a no-op or membership entry is a 0-row batch whose metadata says which
(membership as JSON). Schema-metadata pairs of a normal entry's batch whose key starts with
`ENTRY_METADATA_PREFIX` travel with it (stored as the journal entry's metadata): the partition
flags which records answer a client there (`partitions/replica/entries.py`).

The hard state: term and vote are written (atomically, fsynced) before `set_hard_state`
returns, as Raft requires. A change of the commit index alone is written only every
`COMMIT_WRITES_EVERY` changes and on close: the commit index is volatile in Raft (a restarted
node learns it again), and a stored one that lags only means entries are applied later; one
that led the durable log would be a bug, and entries are flushed before the hard state.

Crash order: the host appends and flushes the journal before it writes the hard state, so
commit never points past the durable log. Installing a snapshot writes the snapshot file first
and then resets the journal; `open` repairs a crash in between by resetting the journal when it
does not continue the snapshot.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import deque
from collections.abc import Sequence

import pyarrow as pa

from raybee.journal import Journal
from raybee.journal import constants as journal_constants
from raybee.partitions.files import write_atomically
from raybee.partitions.snapshots import CorruptedSnapshotError, SnapshotStore
from raybee.partitions.snapshots import Snapshot as SnapshotFiles
from raybee.raft import (
    CompactedError,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMeta,
    StorageError,
    UnavailableError,
    check_append,
)

HARD_STATE_FILE = "hard_state.json"
SNAPSHOT_FILE = "snapshot.json"
SNAPSHOTS_DIR = "snapshots"
CONF_INDEX_FILE = "conf_entries.json"
JOURNAL_DIR = "journal"
KIND_KEY = b"raft.kind"
CONF_KEY = b"raft.conf"
ENTRY_METADATA_PREFIX = b"entry:"
# A hard state that differs from the stored one in its commit index alone is written once
# every this many changes (and on close); term and vote changes are written at once.
COMMIT_WRITES_EVERY = 256
# Bytes of a segment not available to one entry's batch: the segment's schema header, a flush
# marker, and the entry's own framing and metadata (index, term, CRC, response flags).
ENTRY_FRAMING_BYTES_RESERVED = 64 * 1024
# Recently appended entries are kept in memory: a leader re-reads them to send to followers.
cached_entries_max = 8192


def conf_to_json(conf: ConfState) -> dict:
    return {
        "voters": sorted(conf.voters),
        "learners": sorted(conf.learners),
        "priorities": [list(p) for p in conf.priorities],
    }


def conf_from_json(doc: dict) -> ConfState:
    return ConfState(
        voters=frozenset(doc["voters"]),
        learners=frozenset(doc["learners"]),
        priorities=tuple((int(m), int(p)) for m, p in doc["priorities"]),
    )


def _checksummed(doc: dict) -> bytes:
    body = json.dumps(doc, sort_keys=True).encode()
    return json.dumps({"doc": doc, "crc32": zlib.crc32(body)}, sort_keys=True).encode()


def _unchecksummed(raw: bytes, path: str) -> dict:
    try:
        outer = json.loads(raw)
        doc = outer["doc"]
        ok = zlib.crc32(json.dumps(doc, sort_keys=True).encode()) == outer["crc32"]
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise StorageError(f"{path}: damaged (unreadable or CRC mismatch)")
    return doc


def raft_section(index: int, term: int, conf: ConfState, log_position: int) -> dict:
    """The "raft" section of a snapshot manifest: which entry the snapshot stands for."""
    return {"index": index, "term": term, "conf": conf_to_json(conf), "log_position": log_position}


def _meta_of(section: dict) -> SnapshotMeta:
    return SnapshotMeta(section["index"], section["term"], conf_from_json(section["conf"]))


class JournalStorage:
    """raybee.raft.Storage backed by raybee.journal.Journal. Not thread-safe."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use JournalStorage.open(path, schema=...)")

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        schema: pa.Schema,
        segment_size_bytes_max: int | None = None,
        snapshots: SnapshotStore | None = None,
    ) -> JournalStorage:
        self = object.__new__(cls)
        self._dir = os.fspath(path)
        os.makedirs(self._dir, exist_ok=True)
        self._snapshots = snapshots or SnapshotStore(os.path.join(self._dir, SNAPSHOTS_DIR))
        # The host keeps entries from here on for its exporters (compaction stops below it).
        self.retain_from_index: int | None = None
        # What open had to repair: a damaged snapshot replaced by an older one (a message).
        self.recovery_notes: list[str] = []
        self._schema = schema
        self._empty_batch = pa.RecordBatch.from_pylist([], schema=schema)
        self._segment_size_bytes_max = (
            segment_size_bytes_max or journal_constants.segment_size_bytes_max_default
        )
        self._hard_state = self._stored_hard_state = self._load_hard_state()
        self._commit_changes = 0
        self._snapshot = self._load_snapshot()
        kwargs = (
            {}
            if segment_size_bytes_max is None
            else {"segment_size_bytes_max": segment_size_bytes_max}
        )
        journal_dir = os.path.join(self._dir, JOURNAL_DIR)
        fresh = not os.path.exists(journal_dir)
        self._journal = Journal.open(
            journal_dir,
            schema=schema,
            first_index=self._snapshot.meta.index + 1 if fresh else None,
            **kwargs,
        )
        self._reconcile_with_snapshot()
        rescan = self._check_snapshot_files()
        self._pin()
        # Snapshots taken but never handed to Raft (a crash in between) would crowd the one it
        # holds out of the store: they go.
        for leftover in self._snapshots.remove_newer_than(self._snapshots.pinned):
            self.recovery_notes.append(f"removed snapshot {leftover.position}, never held")
        self._cache: deque[Entry] = deque()
        self._confs = self._load_conf_index(rescan)
        return self

    # ------------------------------------------------------------------ files

    def _load_hard_state(self) -> HardState:
        path = os.path.join(self._dir, HARD_STATE_FILE)
        if not os.path.exists(path):
            return HardState()
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        body = json.dumps(doc["hard_state"], sort_keys=True).encode()
        if zlib.crc32(body) != doc["crc32"]:
            raise StorageError(f"{path}: hard state is damaged (CRC mismatch)")
        hs = doc["hard_state"]
        return HardState(term=hs["term"], vote=hs["vote"], commit=hs["commit"])

    def _load_snapshot(self) -> Snapshot:
        path = os.path.join(self._dir, SNAPSHOT_FILE)
        if not os.path.exists(path):
            return Snapshot()
        with open(path, "rb") as f:
            doc = _unchecksummed(f.read(), path)
        position = doc["position"]
        files = SnapshotFiles(position, self._snapshots.root / f"{position:020d}")
        return Snapshot(meta=_meta_of(doc["meta"]), data=files)

    def _pin(self) -> None:
        """The store must never prune the snapshot Raft holds (a newer one taken but not yet
        handed to Raft - a crash in between - must not push it out)."""
        data = self._snapshot.data
        self._snapshots.pinned = data if isinstance(data, SnapshotFiles) else None

    def _write_snapshot_file(self, meta: SnapshotMeta, files: SnapshotFiles) -> None:
        doc = {
            "meta": {"index": meta.index, "term": meta.term, "conf": conf_to_json(meta.conf)},
            "position": files.position,
        }
        write_atomically(os.path.join(self._dir, SNAPSHOT_FILE), _checksummed(doc))

    def _check_snapshot_files(self) -> bool:
        """The snapshot Raft holds must be whole: otherwise fall back to an older one the log
        continues, or refuse to open. Returns whether it fell back (the conf index is stale)."""
        snap = self._snapshot
        if snap.meta.index == 0:
            return False
        try:
            self._snapshots.verify(snap.data)
            return False
        except (CorruptedSnapshotError, OSError) as error:
            damage = error
        journal = self._journal
        for older in self._snapshots.snapshots():
            try:
                self._snapshots.verify(older)
                section = self._snapshots.manifest(older).get("raft")
            except (CorruptedSnapshotError, OSError, ValueError):
                continue
            if section is None or section["index"] >= snap.meta.index:
                continue
            index = section["index"]
            continues = journal.first_index <= index + 1 and journal.last_index >= index
            if continues and index >= journal.first_index:
                continues = journal.term_at(index) == section["term"]
            if continues:
                meta = _meta_of(section)
                self._write_snapshot_file(meta, older)
                self._snapshot = Snapshot(meta=meta, data=older)
                self.recovery_notes.append(
                    f"snapshot at index {snap.meta.index} is damaged ({damage}); fell back to "
                    f"the snapshot at index {index} (position {older.position})"
                )
                return True
        raise StorageError(
            f"{self._dir}: the snapshot at index {snap.meta.index} is damaged ({damage}) and no "
            f"older snapshot is continued by the log: this replica cannot recover alone"
        )

    def _load_conf_index(self, rescan: bool = False) -> list[tuple[int, int, ConfState]]:
        """(index, term, conf) of the conf entries after the snapshot, without a log scan.

        The side file is written *before* conf entries reach the journal, so it names a
        superset of them; each named entry is read back from the journal and kept only if it
        is still a conf entry there. Without the file (older layout) the log is scanned."""
        path = os.path.join(self._dir, CONF_INDEX_FILE)
        snap, journal = self._snapshot.meta.index, self._journal
        if rescan or not os.path.exists(path):
            confs = []
            if journal.last_index > snap:
                for je in journal.read_from(snap + 1):
                    if je.metadata.get(KIND_KEY) == b"conf":
                        confs.append((je.index, je.term, self._from_journal(je).data))
            self._write_conf_index(confs)
            return confs
        with open(path, "rb") as f:
            raw = f.read()
        doc = json.loads(raw)
        body = json.dumps(doc["entries"]).encode()
        if zlib.crc32(body) != doc["crc32"]:
            raise StorageError(f"{path}: conf index is damaged (CRC mismatch)")
        confs = {}
        for index, term, _ in doc["entries"]:  # may name an index twice (old and new entry)
            if not snap < index <= journal.last_index or journal.term_at(index) != term:
                continue
            je = journal.entry(index)  # conf entries are rare: read each to be exact
            if je.metadata.get(KIND_KEY) == b"conf":
                confs[index] = (index, term, conf_from_json(json.loads(je.metadata[CONF_KEY])))
        return [confs[i] for i in sorted(confs)]

    def _write_conf_index(self, confs: list[tuple[int, int, ConfState]]) -> None:
        entries = [[i, t, conf_to_json(c)] for i, t, c in confs]
        body = json.dumps(entries).encode()
        raw = json.dumps({"entries": entries, "crc32": zlib.crc32(body)}).encode()
        write_atomically(os.path.join(self._dir, CONF_INDEX_FILE), raw)

    def conf_entries(self) -> list[tuple[int, ConfState]]:
        snap = self._snapshot.meta.index
        return [(i, c) for i, _, c in self._confs if i > snap]

    def _reconcile_with_snapshot(self) -> None:
        """After a crash between writing a snapshot and resetting the journal, reset it now."""
        meta, j = self._snapshot.meta, self._journal
        if meta.index == 0:
            return
        continues = j.first_index <= meta.index + 1 and j.last_index >= meta.index
        if continues and meta.index >= j.first_index:
            continues = j.term_at(meta.index) == meta.term
        if not continues:
            j.reset(meta.index + 1)

    # ------------------------------------------------------------------ read side

    def hard_state(self) -> HardState:
        return self._hard_state

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def snapshot_meta(self) -> SnapshotMeta:
        return self._snapshot.meta

    def first_index(self) -> int:
        return self._snapshot.meta.index + 1

    def last_index(self) -> int:
        return max(self._journal.last_index, self._snapshot.meta.index)

    def term(self, index: int) -> int:
        snap = self._snapshot.meta
        if index == snap.index:
            return snap.term
        if index < snap.index:
            raise CompactedError(f"term({index}): compacted, snapshot is at {snap.index}")
        if index > self.last_index():
            raise UnavailableError(f"term({index}): after last index {self.last_index()}")
        return self._journal.term_at(index)

    def entries(self, lo: int, hi: int) -> list[Entry]:
        snap = self._snapshot.meta.index
        if lo <= snap:
            raise CompactedError(f"entries({lo}, {hi}): compacted, snapshot is at {snap}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"entries({lo}, {hi}): after last index {self.last_index()}")
        if lo >= hi:
            return []
        cache = self._cache
        if cache and lo >= cache[0].index:
            start = lo - cache[0].index
            return [cache[i] for i in range(start, start + hi - lo)]
        out = []
        for je in self._journal.read_from(lo):
            if je.index >= hi:
                break
            out.append(self._from_journal(je))
        return out

    def _from_journal(self, je) -> Entry:
        kind = je.metadata.get(KIND_KEY)
        if kind is None:
            batch = je.batch
            carried = {k: v for k, v in je.metadata.items() if k.startswith(ENTRY_METADATA_PREFIX)}
            if carried:
                batch = batch.replace_schema_metadata({**(batch.schema.metadata or {}), **carried})
            return Entry(je.index, je.term, EntryKind.NORMAL, batch)
        if kind == b"noop":
            return Entry(je.index, je.term, EntryKind.NOOP, None)
        if kind == b"conf":
            return Entry(
                je.index, je.term, EntryKind.CONF, conf_from_json(json.loads(je.metadata[CONF_KEY]))
            )
        raise StorageError(f"journal entry {je.index}: unknown raft entry kind {kind!r}")

    # ------------------------------------------------------------------ write side

    def append(self, entries: Sequence[Entry]) -> None:
        check_append(self, entries)
        if not entries:
            return
        for e in entries:
            if e.kind == EntryKind.NORMAL and not isinstance(e.data, pa.RecordBatch):
                raise StorageError(
                    f"append: entry {e.index} data must be a pyarrow.RecordBatch, "
                    f"got {type(e.data).__name__}"
                )
        first = entries[0].index
        new_confs = [(e.index, e.term, e.data) for e in entries if e.kind == EntryKind.CONF]
        if new_confs:
            # Before the journal: the file must name every conf entry the log may hold.
            self._write_conf_index(self._confs + new_confs)
        self._confs = [c for c in self._confs if c[0] < first] + new_confs
        if first <= self._journal.last_index:
            self._journal.truncate_after(first - 1)
            while self._cache and self._cache[-1].index >= first:
                self._cache.pop()
        journal = self._journal
        for e in entries:
            if e.kind == EntryKind.NORMAL:
                carried = {
                    k: v
                    for k, v in (e.data.schema.metadata or {}).items()
                    if k.startswith(ENTRY_METADATA_PREFIX)
                }
                index = journal.append(e.term, e.data, carried or None)
            elif e.kind == EntryKind.NOOP:
                index = journal.append(e.term, self._empty_batch, {KIND_KEY: b"noop"})
            else:
                conf = json.dumps(conf_to_json(e.data)).encode()
                index = journal.append(
                    e.term, self._empty_batch, {KIND_KEY: b"conf", CONF_KEY: conf}
                )
            assert index == e.index, (index, e.index)
        cache = self._cache
        if cache and cache[-1].index != first - 1:
            cache.clear()
        cache.extend(entries)
        while len(cache) > cached_entries_max:
            cache.popleft()

    def set_hard_state(self, hard_state: HardState) -> None:
        if hard_state == self._hard_state:
            return
        stored = self._stored_hard_state
        commit_only = (hard_state.term, hard_state.vote) == (stored.term, stored.vote)
        self._hard_state = hard_state
        if commit_only and hard_state.commit >= stored.commit:
            self._commit_changes += 1
            if self._commit_changes < COMMIT_WRITES_EVERY:
                return
        self._write_hard_state(hard_state)

    def _write_hard_state(self, hard_state: HardState) -> None:
        self._commit_changes = 0
        doc = {"term": hard_state.term, "vote": hard_state.vote, "commit": hard_state.commit}
        body = json.dumps(doc, sort_keys=True).encode()
        raw = json.dumps({"hard_state": doc, "crc32": zlib.crc32(body)}).encode()
        write_atomically(os.path.join(self._dir, HARD_STATE_FILE), raw)
        self._stored_hard_state = hard_state

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.meta.index <= self._snapshot.meta.index:
            raise StorageError(
                f"apply_snapshot: index {snapshot.meta.index} is not after the current "
                f"snapshot at {self._snapshot.meta.index}"
            )
        files = self._files_of(snapshot.meta, snapshot.data, "apply_snapshot")
        self._write_snapshot_file(snapshot.meta, files)
        self._snapshot = snapshot
        self._pin()
        self._journal.reset(snapshot.meta.index + 1)
        self._cache.clear()
        self._confs = []
        self._snapshots.remove_all_but(files)

    def create_snapshot(self, index: int, conf: ConfState, data: SnapshotFiles) -> Snapshot:
        """Raft's snapshot becomes `data`, a snapshot the host took into the store with a
        "raft" section naming entry `index`; the journal is compacted below it."""
        snap = self._snapshot.meta.index
        if not snap < index <= self.last_index():
            raise StorageError(
                f"create_snapshot: index {index} must lie in ({snap}, {self.last_index()}]"
            )
        if index > self._journal.last_flushed_index:
            raise StorageError(f"create_snapshot: entry {index} is not flushed yet")
        meta = SnapshotMeta(index=index, term=self.term(index), conf=conf)
        files = self._files_of(meta, data, "create_snapshot")
        self._write_snapshot_file(meta, files)
        snapshot = Snapshot(meta=meta, data=files)
        self._snapshot = snapshot
        self._pin()
        self._compact()
        while self._cache and self._cache[0].index <= index:
            self._cache.popleft()
        self._confs = [c for c in self._confs if c[0] > index]
        return snapshot

    def _files_of(self, meta: SnapshotMeta, data: object, what: str) -> SnapshotFiles:
        if not isinstance(data, SnapshotFiles):
            raise StorageError(
                f"{what}: snapshot data must be a snapshot of the store "
                f"(partitions.snapshots.Snapshot), got {type(data).__name__}"
            )
        try:
            section = self._snapshots.manifest(data).get("raft")
        except (OSError, ValueError) as error:
            raise StorageError(f"{what}: snapshot {data.path} is unreadable: {error}") from None
        if section is None or (section["index"], section["term"]) != (meta.index, meta.term):
            raise StorageError(
                f"{what}: snapshot {data.path} stands for Raft entry {section and section['index']}"
                f" (term {section and section['term']}), not {meta.index} (term {meta.term})"
            )
        return data

    def _compact(self) -> None:
        """Drop journal segments below what every reader still needs: the OLDEST kept
        snapshot (recovery falls back to it) and the host's exporters."""
        floor = self._snapshot.meta.index + 1
        for kept in self._snapshots.snapshots():
            try:
                section = self._snapshots.manifest(kept).get("raft")
            except (OSError, ValueError):
                continue
            if section is not None:
                floor = min(floor, section["index"] + 1)
        if self.retain_from_index is not None:
            floor = min(floor, self.retain_from_index)
        if floor > self._journal.first_index:
            self._journal.compact_before(floor)

    @property
    def first_retained_index(self) -> int:
        """The first entry still on disk (at or below first_index())."""
        return self._journal.first_index

    @property
    def snapshot_store(self) -> SnapshotStore:
        return self._snapshots

    # ------------------------------------------------------------------ snapshot transfer

    def snapshot_chunk(self, meta: SnapshotMeta, offset: int, max_bytes: int) -> tuple[bytes, bool]:
        if meta != self._snapshot.meta or meta.index == 0:
            raise StorageError(
                f"snapshot_chunk: snapshot {meta.index} is not the current one "
                f"({self._snapshot.meta.index})"
            )
        return self._snapshots.read_chunk(self._snapshot.data, offset, max_bytes)

    def receive_snapshot_chunk(
        self, meta: SnapshotMeta, offset: int, data: bytes, done: bool
    ) -> tuple[int, Snapshot | None]:
        key = (meta.index, meta.term)
        try:
            next_offset, files = self._snapshots.receive(key, offset, data, done)
        except CorruptedSnapshotError as error:
            raise StorageError(f"receive_snapshot_chunk: {error}") from error
        if files is None:
            return next_offset, None
        try:
            self._files_of(meta, files, "receive_snapshot_chunk")
        except StorageError:
            self._snapshots.remove(files)
            raise
        return next_offset, Snapshot(meta=meta, data=files)

    def flush(self) -> None:
        self._journal.flush()

    @property
    def entry_bytes_max(self) -> int:
        """The largest batch (Arrow IPC size) one entry may hold, with room for its metadata."""
        size = self._segment_size_bytes_max
        return max(size // 2, size - ENTRY_FRAMING_BYTES_RESERVED)

    def retained_entries(self, lo: int, hi: int) -> list[Entry]:
        """Entries in [lo, hi) still on disk, also below the snapshot (compaction drops whole
        segments, and only below what every reader still needs)."""
        if lo >= hi:
            return []
        if lo < self._journal.first_index or hi > self.last_index() + 1:
            raise CompactedError(
                f"retained_entries({lo}, {hi}): the journal holds {self._journal.first_index}.."
                f"{self.last_index()}"
            )
        if lo > self._snapshot.meta.index:
            return self.entries(lo, hi)
        out = []
        for je in self._journal.read_from(lo):
            if je.index >= hi:
                break
            out.append(self._from_journal(je))
        return out

    def close(self) -> None:
        if self._hard_state != self._stored_hard_state:
            self._write_hard_state(self._hard_state)
        self._journal.close()

    def crash(self) -> None:
        """Release the files as a killed process would: nothing more is written (tests)."""
        self._journal.crash()

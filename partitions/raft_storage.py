"""Raft storage on the journal: the log in `journal/`, term and vote in a small atomic file.

Layout under `path`:
  journal/         the Raft log; one journal entry per Raft entry (same index and term)
  hard_state.json  term, vote and commit; written to a temp file, fsynced, renamed, dir fsynced
  snapshot.bin     the latest snapshot: header length, JSON meta, data, CRC32 (same atomic write)
  conf_entries.json  where the membership entries are, so a restart needs no log scan

Entry data is opaque to Raft. Here a normal entry's data is a pyarrow.RecordBatch of the
journal's schema; a no-op or membership entry is a 0-row batch whose metadata says which
(membership as JSON).

Crash order: the host appends and flushes the journal before it writes the hard state, so
commit never points past the durable log. Installing a snapshot writes the snapshot file first
and then resets the journal; `open` repairs a crash in between by resetting the journal when it
does not continue the snapshot.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections import deque
from collections.abc import Sequence

import pyarrow as pa

from raybee.journal import Journal
from raybee.partitions.files import write_atomically
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
SNAPSHOT_FILE = "snapshot.bin"
CONF_INDEX_FILE = "conf_entries.json"
JOURNAL_DIR = "journal"
KIND_KEY = b"raft.kind"
CONF_KEY = b"raft.conf"
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


def _encode_snapshot(snap: Snapshot) -> bytes:
    meta = json.dumps(
        {"index": snap.meta.index, "term": snap.meta.term, "conf": conf_to_json(snap.meta.conf)}
    ).encode()
    body = struct.pack("<I", len(meta)) + meta + snap.data
    return body + struct.pack("<I", zlib.crc32(body))


def _decode_snapshot(raw: bytes, path: str) -> Snapshot:
    if len(raw) < 8 or zlib.crc32(raw[:-4]) != struct.unpack("<I", raw[-4:])[0]:
        raise StorageError(f"{path}: snapshot file is damaged (CRC mismatch or too short)")
    (meta_len,) = struct.unpack("<I", raw[:4])
    doc = json.loads(raw[4 : 4 + meta_len])
    meta = SnapshotMeta(doc["index"], doc["term"], conf_from_json(doc["conf"]))
    return Snapshot(meta=meta, data=bytes(raw[4 + meta_len : -4]))


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
    ) -> JournalStorage:
        self = object.__new__(cls)
        self._dir = os.fspath(path)
        os.makedirs(self._dir, exist_ok=True)
        self._schema = schema
        self._empty_batch = pa.RecordBatch.from_pylist([], schema=schema)
        self._hard_state = self._load_hard_state()
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
        self._cache: deque[Entry] = deque()
        self._confs = self._load_conf_index()
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
            return _decode_snapshot(f.read(), path)

    def _load_conf_index(self) -> list[tuple[int, int, ConfState]]:
        """(index, term, conf) of the conf entries after the snapshot, without a log scan.

        The side file is written *before* conf entries reach the journal, so it names a
        superset of them; each named entry is read back from the journal and kept only if it
        is still a conf entry there. Without the file (older layout) the log is scanned."""
        path = os.path.join(self._dir, CONF_INDEX_FILE)
        snap, journal = self._snapshot.meta.index, self._journal
        if not os.path.exists(path):
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
            return Entry(je.index, je.term, EntryKind.NORMAL, je.batch)
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
                index = journal.append(e.term, e.data)
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
        doc = {"term": hard_state.term, "vote": hard_state.vote, "commit": hard_state.commit}
        body = json.dumps(doc, sort_keys=True).encode()
        raw = json.dumps({"hard_state": doc, "crc32": zlib.crc32(body)}).encode()
        write_atomically(os.path.join(self._dir, HARD_STATE_FILE), raw)
        self._hard_state = hard_state

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.meta.index <= self._snapshot.meta.index:
            raise StorageError(
                f"apply_snapshot: index {snapshot.meta.index} is not after the current "
                f"snapshot at {self._snapshot.meta.index}"
            )
        write_atomically(os.path.join(self._dir, SNAPSHOT_FILE), _encode_snapshot(snapshot))
        self._snapshot = snapshot
        self._journal.reset(snapshot.meta.index + 1)
        self._cache.clear()
        self._confs = []

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        snap = self._snapshot.meta.index
        if not snap < index <= self.last_index():
            raise StorageError(
                f"create_snapshot: index {index} must lie in ({snap}, {self.last_index()}]"
            )
        if index > self._journal.last_flushed_index:
            raise StorageError(f"create_snapshot: entry {index} is not flushed yet")
        meta = SnapshotMeta(index=index, term=self.term(index), conf=conf)
        snapshot = Snapshot(meta=meta, data=bytes(data))
        write_atomically(os.path.join(self._dir, SNAPSHOT_FILE), _encode_snapshot(snapshot))
        self._snapshot = snapshot
        self._journal.compact_before(index + 1)
        while self._cache and self._cache[0].index <= index:
            self._cache.popleft()
        self._confs = [c for c in self._confs if c[0] > index]
        return snapshot

    def flush(self) -> None:
        self._journal.flush()

    def close(self) -> None:
        self._journal.close()

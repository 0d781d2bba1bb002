"""The Storage protocol Raft reads from, and an in-memory implementation.

Raft only reads storage; the host writes it while handling a Ready (see `Ready`). A log holds
the entries after the last snapshot: first_index() == snapshot index + 1, and term(snapshot
index) is still answered from the snapshot's metadata.

Snapshots are the storage's business: Raft holds a `Snapshot` (its meta and an opaque handle,
`data`) and moves it between nodes in chunks it never assembles. A leader reads each chunk
from its storage by offset (`snapshot_chunk`); a follower hands each chunk to its storage as
it arrives (`receive_snapshot_chunk`, which checks it), and gets the snapshot back, verified,
with the last one - then installs it through the Ready like any snapshot. Offsets are the
storage's own (what it answers is what the follower asks for next): MemoryStorage slices its
bytes, `partitions/raft_storage.py` streams the files of a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from .errors import CompactedError, StorageError, UnavailableError
from .types import ConfState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta


@runtime_checkable
class Storage(Protocol):
    # -- read side (used by RaftNode) --
    def hard_state(self) -> HardState: ...
    def snapshot(self) -> Snapshot: ...
    def snapshot_meta(self) -> SnapshotMeta: ...
    def first_index(self) -> int: ...
    def last_index(self) -> int: ...
    def term(self, index: int) -> int: ...
    def entries(self, lo: int, hi: int) -> list[Entry]: ...
    def conf_entries(self) -> list[tuple[int, ConfState]]:
        """(index, membership) of every CONF entry after the snapshot, ascending."""
        ...

    # -- write side (used by the host while handling a Ready) --
    def append(self, entries: Sequence[Entry]) -> None: ...
    def set_hard_state(self, hard_state: HardState) -> None: ...
    def apply_snapshot(self, snapshot: Snapshot) -> None: ...
    def create_snapshot(self, index: int, conf: ConfState, data: Any) -> Snapshot: ...
    def flush(self) -> None: ...

    # -- snapshot transfer (used by RaftNode while stepping) --
    def snapshot_chunk(self, meta: SnapshotMeta, offset: int, max_bytes: int) -> tuple[bytes, bool]:
        """Sender: the chunk of the current snapshot (`meta`) at transfer offset `offset`, of
        about `max_bytes`, and whether it is the last."""
        ...

    def receive_snapshot_chunk(
        self, meta: SnapshotMeta, offset: int, data: bytes, done: bool
    ) -> tuple[int, Snapshot | None]:
        """Receiver: keep a chunk of the snapshot `meta` (offset 0 starts over). Returns the
        offset expected next and, after the last chunk, the complete and verified snapshot
        (to install through a Ready). StorageError if the chunk or the assembled snapshot
        fails its check: nothing is kept, and the transfer starts over."""
        ...


def bootstrap_entry(conf: ConfState) -> Entry:
    """The first entry of every founding member's log: the initial membership at (1, 1)."""
    return Entry(index=1, term=1, kind=EntryKind.CONF, data=conf)


def bootstrap(storage: Storage, conf: ConfState) -> None:
    """Make an empty storage a founding member's: the membership entry, committed, flushed."""
    if storage.last_index() != 0:
        raise StorageError(f"bootstrap: storage is not empty (last index {storage.last_index()})")
    storage.append([bootstrap_entry(conf)])
    storage.flush()
    storage.set_hard_state(HardState(term=1, vote=None, commit=1))


def check_append(storage: Storage, entries: Sequence[Entry]) -> None:
    """Raise StorageError unless `entries` may be appended to `storage` (no change on error)."""
    if not entries:
        return
    for prev, cur in zip(entries, entries[1:], strict=False):
        if cur.index != prev.index + 1 or cur.term < prev.term:
            raise StorageError(
                f"append: entries must be contiguous with non-decreasing terms, got "
                f"({prev.index},{prev.term}) then ({cur.index},{cur.term})"
            )
    first = entries[0].index
    snap = storage.snapshot_meta()
    if first <= snap.index:
        raise StorageError(f"append: index {first} is at or before the snapshot at {snap.index}")
    if first > storage.last_index() + 1:
        raise StorageError(
            f"append: index {first} would leave a gap after last index {storage.last_index()}"
        )
    if entries[0].term < storage.term(first - 1):
        raise StorageError(f"append: term of entry {first} is below the term of entry {first - 1}")


class MemoryStorage:
    """Storage held in memory; flush() is a no-op. Used by tests and the simulator.

    Its snapshot data are bytes; transfer offsets are byte offsets into them."""

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        self._entries: list[Entry] = []  # entries after the snapshot, contiguous
        # A snapshot being received: its meta and the bytes so far (lost with the process).
        self._incoming: tuple[SnapshotMeta, bytearray] | None = None

    @classmethod
    def bootstrap(cls, conf: ConfState) -> MemoryStorage:
        storage = cls()
        bootstrap(storage, conf)
        return storage

    # -- read side --
    def hard_state(self) -> HardState:
        return self._hard_state

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def snapshot_meta(self) -> SnapshotMeta:
        return self._snapshot.meta

    def first_index(self) -> int:
        return self._snapshot.meta.index + 1

    def last_index(self) -> int:
        return self._snapshot.meta.index + len(self._entries)

    def term(self, index: int) -> int:
        snap = self._snapshot.meta
        if index == snap.index:
            return snap.term
        if index < snap.index:
            raise CompactedError(f"term({index}): compacted, snapshot is at {snap.index}")
        if index > self.last_index():
            raise UnavailableError(f"term({index}): after last index {self.last_index()}")
        return self._entries[index - snap.index - 1].term

    def entries(self, lo: int, hi: int) -> list[Entry]:
        snap = self._snapshot.meta.index
        if lo <= snap:
            raise CompactedError(f"entries({lo}, {hi}): compacted, snapshot is at {snap}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"entries({lo}, {hi}): after last index {self.last_index()}")
        return self._entries[lo - snap - 1 : hi - snap - 1]

    def conf_entries(self) -> list[tuple[int, ConfState]]:
        return [(e.index, e.data) for e in self._entries if e.kind == EntryKind.CONF]

    # -- write side --
    def append(self, entries: Sequence[Entry]) -> None:
        check_append(self, entries)
        if not entries:
            return
        keep = entries[0].index - self._snapshot.meta.index - 1
        del self._entries[keep:]
        self._entries.extend(entries)

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.meta.index <= self._snapshot.meta.index:
            raise StorageError(
                f"apply_snapshot: index {snapshot.meta.index} is not after the current "
                f"snapshot at {self._snapshot.meta.index}"
            )
        self._snapshot = snapshot
        self._entries = []

    def create_snapshot(self, index: int, conf: ConfState, data: bytes) -> Snapshot:
        snap = self._snapshot.meta.index
        if not snap < index <= self.last_index():
            raise StorageError(
                f"create_snapshot: index {index} must lie in ({snap}, {self.last_index()}]"
            )
        meta = SnapshotMeta(index=index, term=self.term(index), conf=conf)
        self._snapshot = Snapshot(meta=meta, data=bytes(data))
        del self._entries[: index - snap]
        return self._snapshot

    def flush(self) -> None:
        return None

    def snapshot_chunk(self, meta: SnapshotMeta, offset: int, max_bytes: int) -> tuple[bytes, bool]:
        if meta != self._snapshot.meta:
            raise StorageError(
                f"snapshot_chunk: snapshot {meta.index} is not the current one "
                f"({self._snapshot.meta.index})"
            )
        data = self._snapshot.data
        chunk = data[offset : offset + max_bytes]
        return chunk, offset + len(chunk) >= len(data)

    def receive_snapshot_chunk(
        self, meta: SnapshotMeta, offset: int, data: bytes, done: bool
    ) -> tuple[int, Snapshot | None]:
        if offset == 0:
            self._incoming = (meta, bytearray())
        incoming = self._incoming
        if incoming is None or incoming[0] != meta or len(incoming[1]) != offset:
            self._incoming = None
            raise StorageError(
                f"receive_snapshot_chunk: offset {offset} of snapshot {meta.index} does not "
                f"continue what was received"
            )
        incoming[1].extend(data)
        if not done:
            return len(incoming[1]), None
        self._incoming = None
        return len(incoming[1]), Snapshot(meta=meta, data=bytes(incoming[1]))

    def truncate_from(self, index: int) -> None:
        """Drop entries at `index` and after (used to model a torn write)."""
        keep = max(0, index - self._snapshot.meta.index - 1)
        del self._entries[keep:]

    def copy(self) -> MemoryStorage:
        other = MemoryStorage()
        other._hard_state = self._hard_state
        other._snapshot = self._snapshot
        other._entries = list(self._entries)
        return other

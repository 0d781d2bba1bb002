"""The node's view of its log: what storage holds plus what is not yet persisted."""

from __future__ import annotations

from ..errors import CompactedError, UnavailableError
from ..storage import Storage
from ..types import Entry, Snapshot


class RaftLog:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # Entries not yet handed to storage, starting at `offset`. They shadow storage from
        # `offset` on (a follower may be overwriting a persisted but uncommitted suffix).
        self.unstable: list[Entry] = []
        self.offset = storage.last_index() + 1
        self.unstable_snapshot: Snapshot | None = None

    # -- positions --
    def snapshot_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index
        return self.storage.snapshot_meta().index

    def first_index(self) -> int:
        return self.snapshot_index() + 1

    def last_index(self) -> int:
        if self.unstable:
            return self.unstable[-1].index
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index
        return self.storage.last_index()

    def last_term(self) -> int:
        return self.term(self.last_index())

    def stable_last_index(self) -> int:
        """The last index that storage holds and the unstable part does not overwrite."""
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index - 1  # nothing after it is stable yet
        return min(self.storage.last_index(), self.offset - 1)

    # -- reads --
    def term(self, index: int) -> int:
        if self.unstable and index >= self.offset:
            if index > self.unstable[-1].index:
                raise UnavailableError(f"term({index}): after last index {self.last_index()}")
            return self.unstable[index - self.offset].term
        if self.unstable_snapshot is not None:
            meta = self.unstable_snapshot.meta
            if index == meta.index:
                return meta.term
            if index < meta.index:
                raise CompactedError(f"term({index}): compacted, snapshot is at {meta.index}")
            raise UnavailableError(f"term({index}): after last index {self.last_index()}")
        if index >= self.offset:
            raise UnavailableError(f"term({index}): after last index {self.last_index()}")
        return self.storage.term(index)

    def term_or_none(self, index: int) -> int | None:
        try:
            return self.term(index)
        except (CompactedError, UnavailableError):
            return None

    def matches(self, index: int, term: int) -> bool:
        return self.term_or_none(index) == term

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Entries in [lo, hi), at most `max_count` of them."""
        if max_count is not None:
            hi = min(hi, lo + max_count)
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise CompactedError(f"entries({lo}, {hi}): compacted before {self.first_index()}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"entries({lo}, {hi}): after last index {self.last_index()}")
        out: list[Entry] = []
        if lo < self.offset:
            out.extend(self.storage.entries(lo, min(hi, self.offset)))
        if hi > self.offset:
            out.extend(self.unstable[max(lo, self.offset) - self.offset : hi - self.offset])
        assert len(out) == hi - lo and out[0].index == lo, (lo, hi, len(out))
        return out

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a log ending at (last_index, last_term) is at least as new as ours."""
        ours = self.last_term()
        return last_term > ours or (last_term == ours and last_index >= self.last_index())

    # -- writes (to the unstable part) --
    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append, replacing everything from entries[0].index on."""
        if not entries:
            return
        first = entries[0].index
        assert self.first_index() <= first <= self.last_index() + 1, (first, self.last_index())
        if first == self.offset + len(self.unstable):
            self.unstable.extend(entries)
        elif first <= self.offset:
            self.offset = first
            self.unstable = list(entries)
        else:
            del self.unstable[first - self.offset :]
            self.unstable.extend(entries)

    def find_conflict(self, entries: tuple[Entry, ...]) -> int:
        """Index of the first entry whose term differs from ours (or is new); 0 if none."""
        for entry in entries:
            if not self.matches(entry.index, entry.term):
                return entry.index
        return 0

    def restore(self, snapshot: Snapshot) -> None:
        self.unstable_snapshot = snapshot
        self.unstable = []
        self.offset = snapshot.meta.index + 1

    # -- after the host persisted a Ready --
    def stable_to(self, index: int, term: int) -> None:
        if not self.unstable or index < self.offset or index > self.unstable[-1].index:
            return
        if self.unstable[index - self.offset].term != term:
            return  # overwritten since the Ready was taken; the new entries are still unstable
        del self.unstable[: index - self.offset + 1]
        self.offset = index + 1

    def stable_snapshot_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.meta.index == index:
            self.unstable_snapshot = None

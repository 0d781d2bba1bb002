"""One conformance suite for every Storage implementation (subclass it in a test module).

A subclass provides `make_storage(self, tmp_path)` returning an empty storage and
`reopen(self, storage, tmp_path)` returning the same storage as a restarted process sees it
(after flush). Entry data must round-trip; `data_for(i)` gives data the backend can carry.
Snapshot data is the backend's own handle: `snapshot_data(storage, content, meta)` makes one
standing for `meta`, `snapshot_content(data)` reads back what it holds.
"""

from __future__ import annotations

from typing import Any

from .errors import CompactedError, StorageError, UnavailableError
from .storage import Storage, bootstrap_entry
from .types import ConfState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta

CONF = ConfState(voters=frozenset({1, 2, 3}), priorities=((1, 2),))


class StorageConformance:
    # Whether the backend checks each snapshot chunk (a durable one must: chunks cross the
    # network); MemoryStorage's chunks are slices of bytes in one process.
    checks_snapshot_chunks = True

    def make_storage(self, tmp_path: Any) -> Storage:
        raise NotImplementedError

    def reopen(self, storage: Storage, tmp_path: Any) -> Storage:
        raise NotImplementedError

    def data_for(self, i: int) -> Any:
        return f"value-{i}"

    def same_data(self, a: Any, b: Any) -> bool:
        return a == b

    def snapshot_data(self, storage: Storage, content: bytes, meta: SnapshotMeta) -> Any:
        return content

    def snapshot_content(self, data: Any) -> bytes:
        return data

    # -- helpers --
    def _entries(self, lo: int, hi: int, term: int) -> list[Entry]:
        return [Entry(i, term, EntryKind.NORMAL, self.data_for(i)) for i in range(lo, hi)]

    def _assert_entries(self, got: list[Entry], want: list[Entry]) -> None:
        assert [(e.index, e.term, e.kind) for e in got] == [(e.index, e.term, e.kind) for e in want]
        for g, w in zip(got, want, strict=True):
            if w.kind == EntryKind.NORMAL:
                assert self.same_data(g.data, w.data), (g, w)
            else:
                assert g.data == w.data, (g, w)

    def _filled(self, tmp_path: Any) -> Storage:
        s = self.make_storage(tmp_path)
        s.append([bootstrap_entry(CONF)])
        s.append(self._entries(2, 11, 2))
        s.flush()
        return s

    # -- tests --
    def test_empty(self, tmp_path: Any) -> None:
        s = self.make_storage(tmp_path)
        assert s.hard_state() == HardState()
        assert s.snapshot_meta() == SnapshotMeta()
        assert s.first_index() == 1 and s.last_index() == 0
        assert s.term(0) == 0
        assert s.entries(1, 1) == []

    def test_append_and_read(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        assert (s.first_index(), s.last_index()) == (1, 10)
        assert s.term(1) == 1 and s.term(10) == 2
        got = s.entries(1, 11)
        self._assert_entries(got, [bootstrap_entry(CONF), *self._entries(2, 11, 2)])
        self._assert_entries(s.entries(4, 7), self._entries(4, 7, 2))

    def test_out_of_range_reads_raise(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        for bad in (lambda: s.term(11), lambda: s.entries(5, 12)):
            try:
                bad()
            except UnavailableError:
                pass
            else:
                raise AssertionError("read past the end did not raise UnavailableError")

    def test_append_truncates_conflicting_suffix(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        s.append(self._entries(6, 8, 3))
        s.flush()
        assert s.last_index() == 7 and s.term(6) == 3 and s.term(5) == 2
        self._assert_entries(s.entries(5, 8), [*self._entries(5, 6, 2), *self._entries(6, 8, 3)])

    def test_bad_appends_are_refused_and_change_nothing(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        bad_batches = [
            self._entries(12, 13, 2),  # gap
            [
                Entry(11, 2, EntryKind.NORMAL, self.data_for(11)),
                Entry(13, 2, EntryKind.NORMAL, self.data_for(13)),
            ],
            self._entries(11, 12, 1),  # term goes down
        ]
        for batch in bad_batches:
            try:
                s.append(batch)
            except StorageError:
                pass
            else:
                raise AssertionError(f"bad append {batch} was accepted")
            assert s.last_index() == 10 and s.term(10) == 2

    def test_hard_state_round_trips_and_survives_reopen(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        s.set_hard_state(HardState(term=7, vote=3, commit=9))
        s.set_hard_state(HardState(term=8, vote=None, commit=10))
        assert s.hard_state() == HardState(8, None, 10)
        s = self.reopen(s, tmp_path)
        assert s.hard_state() == HardState(8, None, 10)
        assert s.last_index() == 10 and s.term(10) == 2

    def test_create_snapshot_compacts(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        snap = s.create_snapshot(
            6, CONF, self.snapshot_data(s, b"state-at-6", SnapshotMeta(6, 2, CONF))
        )
        assert snap.meta == SnapshotMeta(6, 2, CONF)
        assert s.first_index() == 7 and s.last_index() == 10
        assert s.term(6) == 2
        try:
            s.term(5)
        except CompactedError:
            pass
        else:
            raise AssertionError("term() of a compacted index did not raise CompactedError")
        try:
            s.entries(6, 8)
        except CompactedError:
            pass
        else:
            raise AssertionError("entries() of a compacted index did not raise CompactedError")
        self._assert_entries(s.entries(7, 11), self._entries(7, 11, 2))
        s = self.reopen(s, tmp_path)
        assert s.snapshot().meta == SnapshotMeta(6, 2, CONF)
        assert self.snapshot_content(s.snapshot().data) == b"state-at-6"
        assert (s.first_index(), s.last_index()) == (7, 10)

    def test_create_snapshot_out_of_range_is_refused(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        for index in (0, 11):
            try:
                s.create_snapshot(
                    index, CONF, self.snapshot_data(s, b"x", SnapshotMeta(index, 2, CONF))
                )
            except StorageError:
                pass
            else:
                raise AssertionError(f"create_snapshot({index}) was accepted")
        assert s.first_index() == 1 and s.last_index() == 10

    def test_apply_snapshot_replaces_log(self, tmp_path: Any) -> None:
        s = self._filled(tmp_path)
        meta = SnapshotMeta(20, 4, CONF)
        snap = Snapshot(meta, self.snapshot_data(s, b"remote-state", meta))
        s.apply_snapshot(snap)
        s.flush()
        assert (s.first_index(), s.last_index()) == (21, 20)
        assert s.term(20) == 4
        s.append(self._entries(21, 23, 4))
        s.flush()
        s = self.reopen(s, tmp_path)
        assert s.snapshot() == snap
        assert (s.first_index(), s.last_index()) == (21, 22)
        self._assert_entries(s.entries(21, 23), self._entries(21, 23, 4))

    def test_conf_and_noop_entries_round_trip(self, tmp_path: Any) -> None:
        s = self.make_storage(tmp_path)
        conf2 = ConfState(voters=frozenset({1, 2}), learners=frozenset({4}), priorities=((4, 1),))
        want = [
            bootstrap_entry(CONF),
            Entry(2, 2, EntryKind.NOOP, None),
            Entry(3, 2, EntryKind.CONF, conf2),
        ]
        s.append(want)
        s.flush()
        s = self.reopen(s, tmp_path)
        self._assert_entries(s.entries(1, 4), want)

    def test_conf_entries_follow_appends_truncation_snapshots_and_reopen(
        self, tmp_path: Any
    ) -> None:
        s = self.make_storage(tmp_path)
        c2 = ConfState(voters=frozenset({1, 2, 3}), learners=frozenset({4}))
        c3 = ConfState(voters=frozenset({1, 2, 3, 4}))
        c3b = ConfState(voters=frozenset({1, 2}))
        s.append([bootstrap_entry(CONF), *self._entries(2, 4, 2)])
        s.append([Entry(4, 2, EntryKind.CONF, c2), *self._entries(5, 7, 2)])
        s.append([Entry(7, 2, EntryKind.CONF, c3), *self._entries(8, 9, 2)])
        s.flush()
        assert s.conf_entries() == [(1, CONF), (4, c2), (7, c3)]
        s.append([*self._entries(6, 7, 3), Entry(7, 3, EntryKind.CONF, c3b)])  # truncates 6..
        s.flush()
        assert s.conf_entries() == [(1, CONF), (4, c2), (7, c3b)]
        s = self.reopen(s, tmp_path)
        assert s.conf_entries() == [(1, CONF), (4, c2), (7, c3b)]
        s.append(self._entries(6, 8, 4))  # truncates the conf entry at 7, adds none
        s.flush()
        assert s.conf_entries() == [(1, CONF), (4, c2)]
        s = self.reopen(s, tmp_path)
        assert s.conf_entries() == [(1, CONF), (4, c2)]
        c5 = ConfState(voters=frozenset({1, 5}))
        c5b = ConfState(voters=frozenset({1, 6}))
        s.append([Entry(8, 4, EntryKind.CONF, c5)])
        s.append([Entry(8, 5, EntryKind.CONF, c5b)])  # a conf entry replaced by another
        s = self.reopen(s, tmp_path)
        assert s.conf_entries() == [(1, CONF), (4, c2), (8, c5b)]
        s.create_snapshot(5, c2, self.snapshot_data(s, b"at-5", SnapshotMeta(5, 2, c2)))
        assert s.conf_entries() == [(8, c5b)]
        s.append(self._entries(8, 9, 6))
        s.flush()
        assert s.conf_entries() == []
        s = self.reopen(s, tmp_path)
        assert s.conf_entries() == []

    def test_snapshot_moves_in_chunks_and_a_damaged_chunk_starts_over(self, tmp_path: Any) -> None:
        src = self._filled(tmp_path / "src")
        meta = SnapshotMeta(6, 2, CONF)
        content = bytes(range(256)) * 3
        src.create_snapshot(6, CONF, self.snapshot_data(src, content, meta))
        dst = self.make_storage(tmp_path / "dst")
        offset, received, chunks, damaged = 0, None, 0, 0
        while received is None:
            data, done = src.snapshot_chunk(meta, offset, 100)
            chunks += 1
            if chunks == 3 and data and self.checks_snapshot_chunks:
                bad = bytearray(data)
                bad[-1] ^= 0xFF
                try:
                    dst.receive_snapshot_chunk(meta, offset, bytes(bad), done)
                except StorageError:
                    damaged += 1
                    offset = 0  # the receiver dropped what it had: start over
                    continue
                raise AssertionError("a damaged chunk was accepted")
            offset, received = dst.receive_snapshot_chunk(meta, offset, data, done)
            assert (received is not None) == done
        assert damaged == int(self.checks_snapshot_chunks) and chunks > len(content) // 100
        assert received.meta == meta
        dst.apply_snapshot(received)
        dst.flush()
        dst = self.reopen(dst, tmp_path / "dst")
        assert dst.snapshot().meta == meta
        assert self.snapshot_content(dst.snapshot().data) == content
        assert (dst.first_index(), dst.last_index()) == (7, 6)

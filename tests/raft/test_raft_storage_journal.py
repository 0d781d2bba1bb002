"""The storage conformance suite against the journal-backed storage, plus its crash repairs."""

import json
import os

import pyarrow as pa
import pytest

from raybee.partitions.raft_storage import HARD_STATE_FILE, JournalStorage, raft_section
from raybee.raft import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMeta,
    StorageError,
    bootstrap,
)
from raybee.raft.storage_testing import CONF, StorageConformance

SCHEMA = pa.schema([("key", pa.int64()), ("value", pa.string())])


class _FakeStore:
    """What SnapshotStore.take needs of a store: a checkpoint (here one file)."""

    def __init__(self, content: bytes):
        self.content = content

    def checkpoint(self, directory):
        os.makedirs(directory)
        with open(os.path.join(directory, "data"), "wb") as f:
            f.write(self.content)


def snapshot_files(storage, content: bytes, meta: SnapshotMeta):
    """A snapshot in the storage's store standing for `meta` (the journal storage's handle)."""
    section = raft_section(meta.index, meta.term, meta.conf, log_position=0)
    return storage.snapshot_store.take(_FakeStore(content), meta.index, 0, raft=section)


def files_content(files) -> bytes:
    return (files.state_path / "data").read_bytes()


def batch(i, rows=2):
    return pa.RecordBatch.from_pylist(
        [{"key": i * 10 + r, "value": f"v{i}.{r}"} for r in range(rows)], schema=SCHEMA
    )


class TestJournalStorage(StorageConformance):
    def make_storage(self, tmp_path):
        return JournalStorage.open(tmp_path / "raft", SCHEMA, segment_size_bytes_max=16 * 1024)

    def reopen(self, storage, tmp_path):
        storage.close()
        return JournalStorage.open(tmp_path / "raft", SCHEMA, segment_size_bytes_max=16 * 1024)

    def data_for(self, i):
        return batch(i)

    def same_data(self, a, b):
        return a.equals(b)

    def snapshot_data(self, storage, content, meta):
        return snapshot_files(storage, content, meta)

    def snapshot_content(self, data):
        return files_content(data)


def test_entries_read_back_from_disk_after_reopen_span_segments(tmp_path):
    s = JournalStorage.open(tmp_path, SCHEMA, segment_size_bytes_max=16 * 1024)
    bootstrap(s, CONF)
    s.append([Entry(i, 2, EntryKind.NORMAL, batch(i, rows=20)) for i in range(2, 200)])
    s.flush()
    s.close()
    s = JournalStorage.open(tmp_path, SCHEMA, segment_size_bytes_max=16 * 1024)
    assert len(os.listdir(tmp_path / "journal")) > 3, "expected several segments"
    got = s.entries(2, 200)
    assert [e.index for e in got] == list(range(2, 200))
    assert all(e.data.equals(batch(e.index, rows=20)) for e in got)
    assert s.entries(1, 2)[0].data == CONF
    assert s.hard_state() == HardState(1, None, 1)


def test_non_batch_data_is_refused_and_changes_nothing(tmp_path):
    s = JournalStorage.open(tmp_path, SCHEMA)
    bootstrap(s, CONF)
    with pytest.raises(StorageError, match="must be a pyarrow.RecordBatch"):
        s.append([Entry(2, 1, EntryKind.NORMAL, "not a batch")])
    assert s.last_index() == 1


def test_damaged_hard_state_file_is_reported(tmp_path):
    s = JournalStorage.open(tmp_path, SCHEMA)
    s.set_hard_state(HardState(3, 2, 0))
    s.close()
    path = tmp_path / HARD_STATE_FILE
    doc = json.loads(path.read_text())
    doc["hard_state"]["vote"] = 1
    path.write_text(json.dumps(doc))
    with pytest.raises(StorageError, match="hard state is damaged"):
        JournalStorage.open(tmp_path, SCHEMA)


def test_crash_between_snapshot_file_and_journal_reset_is_repaired_on_open(tmp_path):
    s = JournalStorage.open(tmp_path, SCHEMA)
    bootstrap(s, CONF)
    s.append([Entry(i, 2, EntryKind.NORMAL, batch(i)) for i in range(2, 6)])
    s.flush()
    meta = SnapshotMeta(40, 7, ConfState(frozenset({1, 2})))
    snap = Snapshot(meta, snapshot_files(s, b"state", meta))
    # Simulate the crash: the snapshot file is written, the journal is not reset.
    original = s._journal.reset
    s._journal.reset = lambda first: (_ for _ in ()).throw(OSError("crash"))
    with pytest.raises(OSError):
        s.apply_snapshot(snap)
    s._journal.reset = original
    s.close()
    s = JournalStorage.open(tmp_path, SCHEMA)
    assert s.snapshot() == snap
    assert (s.first_index(), s.last_index()) == (41, 40)
    s.append([Entry(41, 7, EntryKind.NORMAL, batch(41))])
    s.flush()
    assert s.term(41) == 7


def test_three_nodes_on_journal_storage_replicate_and_recover_from_disk(tmp_path):
    from raybee.workloads.bench_raft import SCHEMA as BENCH_SCHEMA
    from raybee.workloads.bench_raft import JournalGroup

    group = JournalGroup(str(tmp_path))
    leader = group.elect(1)
    data = [
        pa.RecordBatch.from_pylist([{"key": i, "value": b"x%d" % i}], schema=BENCH_SCHEMA)
        for i in range(50)
    ]
    leader.propose_many(data[:30])
    group.stabilize(keep_batches=True)
    group.restart(3)  # from its files: hard state, journal
    assert group.nodes[3].term == leader.term and group.nodes[3].vote == 1
    leader.propose_many(data[30:])
    group.stabilize(keep_batches=True)
    for i in (1, 2, 3):
        assert group.nodes[i].commit_index == leader.last_index
    # Node 3 restarted with applied = 0: it re-applies everything from its own journal.
    applied = [b.column("key")[0].as_py() for b in group.applied_batches[3]]
    assert applied == list(range(50))
    group.close()


def test_bench_reports_its_figures():
    from raybee.workloads.bench_raft import run

    figures = run(["--seeds", "3", "--commit-seconds", "0.3", "--json"])
    assert figures["seeds"] == 3 and figures["violations"] == 0
    assert figures["commits_per_s"] > 0 and figures["records_committed"] % 100 == 0
    assert figures["still_leader"]
    for kind in ("drops", "duplicates", "partitions", "crashes", "torn_writes"):
        assert kind in figures["faults"]
    assert figures["sim_steps_per_s"] > 0


@pytest.mark.parametrize("seed", range(4))
def test_journal_storage_matches_memory_storage_under_random_operations(tmp_path, seed):
    """Differential test: the same seeded operations on both backends read back the same."""
    import random

    from raybee.raft import MemoryStorage

    print(f"seed {seed}")
    rng = random.Random(seed)
    mem = MemoryStorage()
    path = tmp_path / "raft"
    disk = JournalStorage.open(path, SCHEMA, segment_size_bytes_max=16 * 1024)
    term = 1
    for step in range(150):
        op = rng.random()
        last = mem.last_index()
        if op < 0.6:
            first = rng.randint(max(mem.first_index(), last - 3), last + 1)
            term = max(term, mem.term(first - 1)) + (rng.random() < 0.2)
            batch_entries = [
                Entry(i, term, EntryKind.CONF, ConfState(frozenset({1, i})))
                if rng.random() < 0.15
                else Entry(i, term, EntryKind.NORMAL, batch(i))
                for i in range(first, first + rng.randint(1, 6))
            ]
            mem.append(batch_entries)
            disk.append(batch_entries)
            disk.flush()
        elif op < 0.7 and last >= mem.first_index():
            index = rng.randint(mem.first_index(), last)
            conf = ConfState(frozenset({1, 2, 3}))
            content = b"s%d" % index
            mem.create_snapshot(index, conf, content)
            meta = SnapshotMeta(index, mem.term(index), conf)
            disk.create_snapshot(index, conf, snapshot_files(disk, content, meta))
        elif op < 0.75:
            meta = SnapshotMeta(last + rng.randint(1, 5), term + 1, ConfState(frozenset({1})))
            term += 1
            mem.apply_snapshot(Snapshot(meta, b"remote"))
            disk.apply_snapshot(Snapshot(meta, snapshot_files(disk, b"remote", meta)))
        elif op < 0.85:
            hs = HardState(term, rng.choice((None, 1, 2)), min(last, mem.first_index()))
            mem.set_hard_state(hs)
            disk.set_hard_state(hs)
        else:
            disk.close()
            disk = JournalStorage.open(path, SCHEMA, segment_size_bytes_max=16 * 1024)
        where = f"seed {seed} step {step}"
        assert (disk.first_index(), disk.last_index()) == (mem.first_index(), mem.last_index()), (
            where
        )
        assert disk.snapshot().meta == mem.snapshot().meta, where
        if mem.snapshot().meta.index:
            assert files_content(disk.snapshot().data) == mem.snapshot().data, where
        assert disk.hard_state() == mem.hard_state(), where
        lo = mem.first_index()
        got, want = disk.entries(lo, mem.last_index() + 1), mem.entries(lo, mem.last_index() + 1)
        assert [(e.index, e.term) for e in got] == [(e.index, e.term) for e in want], where
        assert all(
            g.data == w.data if w.kind == EntryKind.CONF else g.data.equals(w.data)
            for g, w in zip(got, want, strict=True)
        ), where
        assert disk.conf_entries() == mem.conf_entries(), where
        for i in range(mem.first_index() - 1, mem.last_index() + 1):
            assert disk.term(i) == mem.term(i), where
    disk.close()

"""Snapshots: restart from a snapshot equals replay from scratch; corrupt snapshots are
detected by their checksums and an older one is used; the journal is compacted safely."""

import random

import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream
from raybee.partitions.snapshots import CorruptedSnapshotError, SnapshotDirector, SnapshotStore
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock
from raybee.partitions.workload import run_job_workload
from raybee.state import RocksDBStore

SEGMENT_BYTES = 64 * 1024


def replayed_from_scratch(tmp_path, log, name="scratch"):
    store = RocksDBStore(tmp_path / name, ENGINE_FAMILIES)
    StreamProcessor(store, log, 1, FakeClock()).replay()
    return store


def recovered(snapshot, tmp_path, log, name):
    store = RocksDBStore.open_checkpoint(snapshot.state_path, tmp_path / name, ENGINE_FAMILIES)
    processor = StreamProcessor(store, log, 1, FakeClock())
    assert processor._replay_position == snapshot.position + 1, "reads only after the snapshot"
    applied = processor.replay()
    return store, applied


@pytest.fixture
def leader(tmp_path):
    clock = FakeClock()
    log = JournalLogStream.open(tmp_path / "log", segment_size_bytes_max=SEGMENT_BYTES)
    partition = LocalPartition(RocksDBStore(tmp_path / "state", ENGINE_FAMILIES), log, 1, clock)
    yield partition, clock
    partition.close()


def test_restart_from_snapshot_equals_replay_from_scratch(tmp_path, leader):
    partition, clock = leader
    snapshots = SnapshotStore(tmp_path / "snapshots")
    director = SnapshotDirector(snapshots, clock, interval_records=200)
    rng = random.Random(11)
    taken = []
    for _ in range(6):
        run_job_workload(partition, clock, rng, steps=80)
        snapshot = director.maybe_snapshot(
            partition.store, partition.processor.last_processed_position
        )
        if snapshot:
            taken.append(snapshot)
    assert len(taken) >= 2, "the director took snapshots by record count"
    assert [s.position for s in snapshots.snapshots()] == [s.position for s in taken[-2:]][::-1]
    run_job_workload(partition, clock, rng, steps=80)  # and more after the last snapshot
    latest = snapshots.latest_valid()
    assert latest == taken[-1]
    store, applied = recovered(latest, tmp_path, partition.log, "recovered")
    assert applied > 0, "events after the snapshot were replayed"
    scratch = replayed_from_scratch(tmp_path, partition.log)
    assert store.digest() == scratch.digest() == partition.store.digest()
    store.close()
    scratch.close()


def test_a_corrupt_snapshot_is_detected_and_an_older_one_used(tmp_path, leader):
    partition, clock = leader
    snapshots = SnapshotStore(tmp_path / "snapshots")
    director = SnapshotDirector(snapshots, clock)
    rng = random.Random(12)
    run_job_workload(partition, clock, rng, steps=150)
    older = director.snapshot_now(partition.store, partition.processor.last_processed_position)
    run_job_workload(partition, clock, rng, steps=150)
    newer = director.snapshot_now(partition.store, partition.processor.last_processed_position)
    older_files = {f.name for f in older.state_path.glob("*.sst")}
    sst = sorted(f for f in newer.state_path.glob("*.sst") if f.name not in older_files)[0]
    data = bytearray(sst.read_bytes())
    data[len(data) // 2] ^= 0x01
    # SST files are hard links shared with the live store and older snapshots: break the link
    # so the flip hits this snapshot's copy alone (a flip in a shared inode hits every holder).
    sst.unlink()
    sst.write_bytes(bytes(data))
    with pytest.raises(CorruptedSnapshotError, match=r"\.sst: crc32c"):
        snapshots.verify(newer)
    skipped = []
    chosen = snapshots.latest_valid(on_corrupt=lambda s, e: skipped.append(s))
    assert chosen == older and skipped == [newer]
    store, _ = recovered(chosen, tmp_path, partition.log, "recovered")
    assert store.digest() == partition.store.digest()
    store.close()


def test_compaction_keeps_what_recovery_needs(tmp_path, leader):
    partition, clock = leader
    snapshots = SnapshotStore(tmp_path / "snapshots")
    director = SnapshotDirector(snapshots, clock)
    rng = random.Random(13)
    run_job_workload(partition, clock, rng, steps=300)
    snapshot = director.snapshot_now(partition.store, partition.processor.last_processed_position)
    exporter_position = snapshot.position // 2  # a slow exporter holds compaction back
    floor = director.compaction_position([exporter_position])
    assert floor == exporter_position
    first_before = partition.log.journal.first_index
    first_kept = partition.log.compact_before(floor)
    assert partition.log.journal.first_index > first_before, "whole segments were dropped"
    assert first_kept <= floor
    assert next(partition.log.read_from(1)).position == first_kept
    run_job_workload(partition, clock, rng, steps=100)
    store, _ = recovered(snapshot, tmp_path, partition.log, "recovered")
    assert store.digest() == partition.store.digest()
    store.close()


def test_a_partial_snapshot_from_a_crash_is_removed(tmp_path):
    root = tmp_path / "snapshots"
    (root / "00000000000000000042.partial" / "state").mkdir(parents=True)
    store = SnapshotStore(root)
    assert store.snapshots() == [] and not list(root.iterdir())


def test_a_transfer_chunk_with_any_header_byte_damaged_is_refused_before_it_is_used(tmp_path):
    """A frame's checksum covers its name, offset and length, not only its payload: a flipped
    bit in the offset once made a receiver write far past the end of a file (partition
    simulator seed 2594). Every byte of the first frame's header and name is damaged in turn;
    each chunk is refused and writes nothing outside `incoming/`, and the intact transfer
    still installs."""
    sender = SnapshotStore(tmp_path / "sender")
    state = RocksDBStore(tmp_path / "state", ENGINE_FAMILIES)
    snapshot = sender.take(state, position=7, taken_at_ms=0)
    state.close()
    chunk, last = sender.read_chunk(snapshot, 0, 1 << 30)
    assert last
    header_and_name = 18 + int.from_bytes(chunk[:2], "big")  # >HQII, then the name
    receiver = SnapshotStore(tmp_path / "receiver")
    for at in range(header_and_name):
        damaged = bytearray(chunk)
        damaged[at] ^= 0x10
        with pytest.raises(CorruptedSnapshotError, match="fails its checksum|ends inside"):
            receiver.receive("key", 0, bytes(damaged), True)
        outside = [p for p in (tmp_path / "receiver").iterdir() if p.name != "incoming"]
        assert outside == [], f"damaged byte {at} left {outside}"
    _, installed = receiver.receive("key", 0, chunk, True)
    assert installed is not None and installed.position == 7
    receiver.verify(installed)

"""Replay equivalence on a workload that uses every job, job batch and incident intent:
processing it and replaying only its events (from scratch, and from a snapshot taken half way)
give byte-identical state, in RocksDB and in memory; every answer obeys the documented job
semantics; every job has exactly the index entry its state implies."""

import os
import random

import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.testing import FakeClock, check_job_indexes
from raybee.partitions.workload import check_job_workload, run_job_workload
from raybee.state import MemoryStore, RocksDBStore

SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1,2,3,4,5").split(",")]
STEPS = 400


def store_makers(kind, directory):
    """(new_store(name), open_checkpoint(path, name)) for one kind of store."""
    if kind == "rocksdb":
        return (
            lambda name: RocksDBStore(directory / name, ENGINE_FAMILIES),
            lambda checkpoint, name: RocksDBStore.open_checkpoint(
                checkpoint, directory / name, ENGINE_FAMILIES
            ),
        )
    return (
        lambda name: MemoryStore(ENGINE_FAMILIES),
        lambda checkpoint, name: MemoryStore.open_checkpoint(checkpoint, ENGINE_FAMILIES),
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["rocksdb", "memory"])
def test_workload_replays_to_identical_state_and_obeys_the_job_semantics(tmp_path, kind, seed):
    print(f"seed={seed} (replay with RAYBEE_SEEDS={seed})")
    new_store, open_checkpoint = store_makers(kind, tmp_path)
    report = check_job_workload(seed, STEPS, new_store, open_checkpoint, tmp_path / "snapshot")
    assert not report.failed, report.summary()
    # The checks ran on a workload that did what it is meant to do.
    assert set(report.problems) == {
        "follower in step",
        "semantics",
        "indexes",
        "coverage",
        "replay from scratch",
        "replay from snapshot",
    }
    assert report.counts["stream_open"] and report.undelivered_pushes, "pushes, some refused"
    assert report.counts["tick_at_deadline"] and report.counts["tick"], report.counts


def test_follower_promoted_mid_log_continues_without_reusing_keys(tmp_path):
    clock = FakeClock()
    log = MemoryLogStream()
    leader = LocalPartition(MemoryStore(ENGINE_FAMILIES), log, 1, clock)
    run_job_workload(leader, clock, random.Random(7), steps=150)
    used_keys = {r.key for r in log.read_from(1) if r.is_event}
    split = log.last_position
    promoted = LocalPartition(MemoryStore(ENGINE_FAMILIES), log, 1, clock)  # replays, then leads
    run_job_workload(promoted, clock, random.Random(8), steps=150)
    new_keys = {
        r.key
        for r in log.read_from(split + 1)
        if r.is_event and r.intent.name == "CREATED"  # jobs and incidents get new keys here
    }
    assert len(new_keys) > 10, "the promoted leader made new entities"
    assert not used_keys & new_keys, "no key handed out twice"
    check_job_indexes(promoted.store)

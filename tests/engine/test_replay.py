"""Replay equivalence: processing a workload and replaying only its events give byte-identical
state, in RocksDB and in memory."""

import os
import random

import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock
from raybee.partitions.workload import run_job_workload
from raybee.state import MemoryStore, RocksDBStore

SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1,2,3,4,5").split(",")]


def make_store(kind, path):
    return (
        RocksDBStore(path, ENGINE_FAMILIES) if kind == "rocksdb" else MemoryStore(ENGINE_FAMILIES)
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["rocksdb", "memory"])
def test_replay_of_events_rebuilds_identical_state(tmp_path, kind, seed):
    print(f"seed={seed} (replay with RAYBEE_SEEDS={seed})")
    clock = FakeClock()
    log = MemoryLogStream()
    leader = LocalPartition(make_store(kind, tmp_path / "leader"), log, 1, clock)
    pushed = []
    # One job type is streamed: pushes are processing decisions that replay must reproduce.
    leader.open_job_stream(JobStream(1, "email", "pusher", 700), lambda p: pushed.append(p) or True)
    counts = run_job_workload(leader, clock, random.Random(seed), steps=400)
    assert pushed, "some jobs were pushed"
    assert counts.get("fail", 0) and counts.get("complete", 0) and counts.get("tick", 0), counts
    events = sum(1 for r in log.read_from(1) if r.is_event)
    follower_store = make_store(kind, tmp_path / "follower")
    follower = StreamProcessor(follower_store, log, 1, clock)
    assert follower.replay() == events
    assert follower_store.digest() == leader.store.digest()
    assert follower.last_processed_position == leader.processor.last_processed_position
    # Replaying again applies nothing: every event is applied once.
    assert follower.replay() == 0
    follower_store.close()
    leader.close()


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

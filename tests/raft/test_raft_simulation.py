"""Seeded fault simulation of Raft groups: safety after every step, then liveness.

RAYBEE_SIM_SEEDS (default 1000) seeds run from RAYBEE_SIM_SEED_BASE (default 0);
RAYBEE_SIM_SEED=N replays exactly one seed (its failure prints the seed, the invariant and a
trace tail; `python -m raybee.raft.testing N --trace` prints the whole trace).
The simulator's own bugs are looked for in test_raft_mutations.py, which plants raft bugs.
"""

import os
import random

import pytest

from raybee.raft import (
    ConfState,
    Entry,
    HardState,
    Heartbeat,
    MemoryStorage,
    Ready,
    persist_ready,
)
from raybee.raft import node as raft_node
from raybee.raft._private.sim_checks import Checker
from raybee.raft._private.sim_disk import SimCrash, SimDisk
from raybee.raft.testing import (
    FAULT_KINDS,
    SimOptions,
    SimulationFailure,
    Simulator,
    _InFlight,
    run_simulation,
)

SEED_COUNT = int(os.environ.get("RAYBEE_SIM_SEEDS", "1000"))
SEED_BASE = int(os.environ.get("RAYBEE_SIM_SEED_BASE", "0"))
REPLAY = os.environ.get("RAYBEE_SIM_SEED")
CHUNKS = 10
# Enough seeds for every fault kind to happen and change something (the rarest, a torn write
# or a failed hard-state write, needs a crash or error in the middle of a Ready with entries).
COVERAGE_SEEDS = 60


def _seeds(chunk: int) -> list[int]:
    if REPLAY is not None:
        return [int(REPLAY)] if chunk == 0 else []
    per = -(-SEED_COUNT // CHUNKS)
    lo = SEED_BASE + chunk * per
    return list(range(lo, min(lo + per, SEED_BASE + SEED_COUNT)))


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_simulation_seeds(chunk):
    seeds = _seeds(chunk)
    print(f"simulating seeds {seeds[:1]}..{seeds[-1:]} (replay one with RAYBEE_SIM_SEED=N)")
    for seed in seeds:
        result = run_simulation(seed)  # raises SimulationFailure naming the seed
        assert result.acked > 0 and result.committed > 0, result


def test_every_fault_kind_was_injected_and_changed_something():
    """On its own seeds: each kind is counted only when it changed something (see testing.py),
    so a kind that is never counted was never really exercised."""
    totals = dict.fromkeys(FAULT_KINDS, 0)
    for seed in range(COVERAGE_SEEDS):
        for kind, count in run_simulation(seed).faults.items():
            totals[kind] += count
    print("faults that changed something:", totals)
    assert set(totals) == set(FAULT_KINDS)
    missing = [kind for kind in FAULT_KINDS if totals[kind] == 0]
    assert not missing, f"fault kinds never exercised in {COVERAGE_SEEDS} seeds: {missing}"


def test_a_seed_replays_exactly():
    a, b = Simulator(12345), Simulator(12345)
    ra, rb = a.run(), b.run()
    assert ra == rb
    assert list(a.trace) == list(b.trace)
    assert ra.steps > 100
    assert Simulator(12345, trace_messages=True).run() == ra, "tracing changed the run"


def test_a_failure_names_its_seed_invariant_and_replay_command(monkeypatch):
    monkeypatch.setattr(raft_node.RaftNode, "_campaign", lambda self, *a, **k: None)
    with pytest.raises(SimulationFailure) as caught:
        run_simulation(3)
    failure = caught.value
    assert failure.seed == 3 and failure.invariant == "liveness"
    assert "python -m raybee.raft.testing 3 --trace" in str(failure)
    assert "no settled leader" in failure.what


def test_the_checker_catches_a_vote_that_was_not_durable(monkeypatch):
    # The term file write is "forgotten": persist_ready returns with the vote not on disk.
    monkeypatch.setattr(SimDisk, "set_hard_state", lambda self, hs: self._set_live_only(hs))
    with pytest.raises(SimulationFailure, match="not everything is durable: hard state") as c:
        run_simulation(0)
    assert c.value.invariant == "persisted before sent"


def test_a_vote_lost_in_a_crash_is_caught_as_a_second_vote(monkeypatch):
    # The same bug with the persist check off: a crash then loses the vote, and the node votes
    # again in that term.
    monkeypatch.setattr(SimDisk, "set_hard_state", lambda self, hs: self._set_live_only(hs))
    monkeypatch.setattr(Checker, "after_persist", lambda self, disk: None)
    with pytest.raises(SimulationFailure, match="voted for") as caught:
        for seed in range(400):
            run_simulation(seed)
    assert caught.value.invariant == "one vote per term"


def test_an_empty_disk_restart_under_the_old_identity_breaks_safety(monkeypatch):
    """Why wiped nodes are replaced under a new id: the naive restart is caught as unsafe."""

    def wipe_in_place(self, node_id):
        if node_id in self.nodes:
            self._remove(node_id)
        self.disks[node_id] = SimDisk(node_id, MemoryStorage(), self.checker)
        self._start(node_id)
        self.faults["wipes"] += 1

    monkeypatch.setattr(Simulator, "_wipe", wipe_in_place)
    liveness_only = {"liveness", "runaway"}
    found = []
    for seed in range(60):
        try:
            run_simulation(seed, SimOptions(wipe_p=0.05))
        except SimulationFailure as failure:
            if failure.invariant not in liveness_only:
                found.append((seed, failure.invariant))
    assert found, "no safety violation from in-place empty-disk restarts"
    print("caught:", found[:5])


# ---------------------------------------------------------------------- the disk's faults

CONF = ConfState(voters=frozenset({1, 2, 3}))


def _entries(lo, hi, term=2):
    return tuple(Entry(i, term, data=i) for i in range(lo, hi))


def _ready(entries=(), hard_state=None):
    return Ready(hard_state, tuple(entries), None, (), ())


def _disk():
    return SimDisk(1, MemoryStorage.bootstrap(CONF))


def test_a_failed_fsync_drops_the_unflushed_writes_and_a_retry_hides_it():
    disk = _disk()
    disk.append(_entries(2, 4))
    disk.append(_entries(4, 6))
    disk.arm("flush_error", random.Random(1))
    with pytest.raises(OSError, match="fsync failed"):
        disk.flush()
    assert disk.fired == "flush_error"
    assert disk.durable.last_index() < 5, "the last write at least is lost"
    disk.flush()  # fsyncgate: the pages were marked clean, so this "succeeds"
    assert disk.last_index() == 5 and disk.durable.last_index() < 5
    assert "log ends at 5 as seen" in disk.out_of_sync()


def test_a_fault_persist_ready_never_reaches_does_not_fire():
    disk = _disk()
    disk.arm("hard_state_error", random.Random(1))
    persist_ready(disk, _ready(_entries(2, 3)))  # no hard state in this Ready
    assert disk.fired is None and disk.out_of_sync() is None


def test_a_crash_in_fsync_loses_or_tears_only_what_was_pending():
    disk = _disk()
    disk.arm("crash_in_flush", random.Random(3))
    with pytest.raises(SimCrash):
        persist_ready(disk, _ready(_entries(2, 6), HardState(2, None, 1)))
    lost, torn = disk.crash(random.Random(3), tear=True)
    assert lost == 1 and torn
    assert 1 <= disk.last_index() < 5, "a strict prefix of the torn append survives"
    assert disk.hard_state() == HardState(1, None, 1), "the hard state is written after flush"
    assert disk.crash(random.Random(3), tear=True) == (0, False), "nothing pending: no loss"


def test_persist_ready_stops_at_a_failed_write():
    disk = _disk()
    disk.arm("append_error", random.Random(0))
    with pytest.raises(OSError, match="no space left"):
        persist_ready(disk, _ready(_entries(2, 4), HardState(2, 1, 1)))
    assert disk.durable.hard_state() == HardState(1, None, 1), "went on after the error"


# ---------------------------------------------------------------------- counting the faults


def test_a_partition_counts_once_it_stops_a_message_and_a_heal_once_it_frees_one():
    sim = Simulator(5)
    sim.blocked[(1, 2)] = 0
    sim.partition_kinds[0] = "partitions"
    sim.faults["heals"] = 0
    sim.opt = SimOptions(heal_p=1.0, partition_p=0.0, crash_p=0.0, pause_p=0.0, wipe_p=0.0)
    sim.rng = random.Random(0)
    sim._random_faults()  # heals a partition that has stopped nothing yet
    assert sim.faults["heals"] == 0 and sim.faults["partitions"] == 0
    sim.blocked[(1, 2)] = 1
    sim.partition_kinds[1] = "partitions"
    msg = Heartbeat(1, 2, sim.nodes[1].term, 0)
    for _ in range(2):
        sim._deliver(_InFlight(sim.tick_now, 0, msg, None, False))
    assert sim.faults["partitions"] == 1, "counted once, when it first stopped a message"
    sim._random_faults()
    assert sim.faults["heals"] == 1


def test_a_crash_outside_persist_counts_no_lost_write():
    sim = Simulator(7)
    before = dict(sim.faults)
    sim._crash(1)
    assert sim.faults["crashes"] == before["crashes"] + 1
    assert sim.faults["lost_writes"] == before["lost_writes"]
    assert sim.faults["torn_writes"] == before["torn_writes"]
    assert sim.faults["lost_hard_state_writes"] == before["lost_hard_state_writes"]

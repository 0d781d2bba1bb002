"""Seeded fault simulation of Raft groups: safety after every step, then liveness.

RAYBEE_SIM_SEEDS (default 1000) seeds run from RAYBEE_SIM_SEED_BASE (default 0);
RAYBEE_SIM_SEED=N replays exactly one seed (its failure prints the seed and a trace tail).
"""

import os

import pytest

from raybee.raft import VoteResponse
from raybee.raft import node as raft_node
from raybee.raft.testing import FAULT_KINDS, SimDisk, SimulationFailure, Simulator, run_simulation

SEED_COUNT = int(os.environ.get("RAYBEE_SIM_SEEDS", "1000"))
SEED_BASE = int(os.environ.get("RAYBEE_SIM_SEED_BASE", "0"))
REPLAY = os.environ.get("RAYBEE_SIM_SEED")
CHUNKS = 10

_totals: dict[str, int] = {}


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
        for kind, count in result.faults.items():
            _totals[kind] = _totals.get(kind, 0) + count
        _totals["seeds"] = _totals.get("seeds", 0) + 1


def test_every_fault_kind_was_injected():
    if REPLAY is not None or _totals.get("seeds", 0) < 100:
        pytest.skip("needs the full seed run in this session")
    print("faults injected:", _totals)
    missing = [kind for kind in FAULT_KINDS if _totals.get(kind, 0) == 0]
    assert not missing, f"fault kinds never exercised: {missing}"


def test_a_seed_replays_exactly():
    a, b = Simulator(12345), Simulator(12345)
    ra, rb = a.run(), b.run()
    assert ra == rb
    assert list(a.trace) == list(b.trace)
    assert ra.steps > 100
    assert Simulator(12345, trace_messages=True).run() == ra, "tracing changed the run"


def test_the_checker_catches_a_node_that_votes_twice(monkeypatch):
    def vote_for_anyone_up_to_date(self, m):
        granted = self._log.is_up_to_date(m.last_index, m.last_term)
        if granted and not m.pre_vote:
            self._vote = m.frm
        term = m.term if granted else self._term
        self._send(VoteResponse(self.id, m.frm, term, granted, m.pre_vote))

    monkeypatch.setattr(raft_node.RaftNode, "_handle_vote_request", vote_for_anyone_up_to_date)
    with pytest.raises(SimulationFailure, match=r"seed \d+: .*voted for"):
        for seed in range(50):
            run_simulation(seed)


def test_the_checker_catches_a_vote_that_was_not_durable(monkeypatch):
    # The term file write is "forgotten": a crash then loses the vote.
    monkeypatch.setattr(SimDisk, "set_hard_state", lambda self, hs: self._set_live_only(hs))
    with pytest.raises(SimulationFailure, match="voted for"):
        for seed in range(400):
            run_simulation(seed)


def test_the_liveness_phase_fails_a_group_that_cannot_elect(monkeypatch):
    monkeypatch.setattr(raft_node.RaftNode, "_campaign", lambda self, *a, **k: None)
    with pytest.raises(SimulationFailure, match="liveness: no settled leader"):
        run_simulation(3)


def test_an_empty_disk_restart_under_the_old_identity_breaks_safety(monkeypatch):
    """Why wiped nodes are replaced under a new id: the naive restart is caught as unsafe."""
    from raybee.raft import MemoryStorage
    from raybee.raft import testing as sim

    def wipe_in_place(self, node_id):
        if node_id in self.nodes:
            del self.nodes[node_id]
            del self.machines[node_id]
        self.disks[node_id] = SimDisk(MemoryStorage())
        self._start(node_id)
        self.faults["wipes"] += 1

    monkeypatch.setattr(sim.Simulator, "_wipe", wipe_in_place)
    safety = ("different entry", "lacks committed", "voted for", "committed entry", "two leaders")
    found = []
    for seed in range(60):
        try:
            run_simulation(seed, sim.SimOptions(wipe_p=0.05))
        except SimulationFailure as failure:
            if any(s in failure.what for s in safety):
                found.append((seed, failure.what))
    assert found, "no safety violation from in-place empty-disk restarts"
    print("caught:", found[:3])

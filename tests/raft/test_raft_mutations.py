"""The simulator is tested by breaking raft on purpose: every classic bug in raft/mutations.py
is planted in turn, and the simulation must fail on some seed.

Each mutant runs seeds 0, 1, 2, ... until one fails, at most SEEDS_PER_MUTANT_MAX (about 20 s
for all of them). Catch *rates* over many seeds are measured by
`python -m raybee.raft.mutations --seeds 2000` (or `raybee bench raft --mutants`), not here.
A caught seed replays with `RAYBEE_MUTANT=<name> python -m raybee.raft.testing <seed> --trace`.
"""

import pytest

from raybee.raft import mutations, quorum
from raybee.raft import node as raft_node
from raybee.raft.mutations import EQUIVALENT_MUTANTS, MUTANTS, Edit, Mutant, MutantStale

# The rarest mutant is caught first on seed 493 today; the budget leaves room for change.
SEEDS_PER_MUTANT_MAX = 600

# For the bugs the issue found rare or never caught, the invariant that must catch them (the
# new checks; an assertion inside raft or a liveness timeout would not show that).
CAUGHT_BY = {
    "commit_earlier_term_by_counting": {
        "commit by counting own-term entries",
        "committed entries are in every electable log",
    },
    "accept_stale_term_appends": {
        "older terms change nothing",
        "disks never lose committed entries",
    },
    "persist_ready_hard_state_first": {"stored commit index within the log on disk"},
    "persist_ready_without_flush": {"persisted before sent"},
    "persist_ready_ignores_flush_error": {
        "persisted before sent",
        "stored commit index within the log on disk",
    },
    "conf_change_not_gated": {"one membership change at a time"},
    "conf_change_before_own_term_commit": {"one membership change at a time"},
    "check_quorum_disabled": {"check-quorum"},
    "commit_index_goes_backwards": {"commit index never goes back"},
    "pre_vote_changes_term": {"terms come from candidates"},
    "leader_counts_unpersisted_entries": {"committed entries are on disk on a majority"},
}


def test_at_least_25_classic_bugs_are_planted():
    assert len(MUTANTS) >= 25
    assert set(CAUGHT_BY) <= {m.name for m in MUTANTS}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_simulator_catches(mutant):
    score = mutations.score(mutant, range(SEEDS_PER_MUTANT_MAX), first_only=True)
    assert score.caught, (
        f"{mutant.name} ({mutant.bug}) survived {score.seeds} seeds: the simulator has a blind spot"
    )
    caught_by = next(iter(score.invariants))
    print(f"{mutant.name}: caught on seed {score.first_seed} by [{caught_by}]")
    if mutant.name in CAUGHT_BY:
        assert caught_by in CAUGHT_BY[mutant.name], (mutant.name, score.first_seed, caught_by)


def test_planting_patches_the_real_code_and_puts_it_back():
    original_step, original_majority = raft_node.RaftNode.step, quorum.majority
    for mutant in MUTANTS + EQUIVALENT_MUTANTS:
        targets = {edit.target for edit in mutant.edits}
        with mutations.planted(mutant):
            if "node:RaftNode.step" in targets:
                assert raft_node.RaftNode.step is not original_step
            if "quorum:majority" in targets:
                assert quorum.majority(3) != original_majority(3)
        assert raft_node.RaftNode.step is original_step
        assert quorum.majority is original_majority


def test_a_mutant_whose_code_changed_is_refused():
    stale = Mutant(
        "stale",
        "edits text that is not there",
        (Edit("node:RaftNode._maybe_commit", "if index >= self._commit + 42:", "if True:"),),
    )
    refused = pytest.raises(MutantStale, match="occurs 0 times in node:RaftNode._maybe_commit")
    with refused, mutations.planted(stale):
        pass

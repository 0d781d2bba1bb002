"""RaftNode behaviour on an in-memory cluster the test drives message by message."""

import pytest

from raybee.raft import (
    AppendRequest,
    ConfChange,
    ConfChangeError,
    ConfChangeKind,
    ConfState,
    EntryKind,
    Heartbeat,
    MemoryStorage,
    NotLeaderError,
    ProgressState,
    ProposalDroppedError,
    RaftConfig,
    RaftError,
    RaftNode,
    Role,
    SnapshotChunk,
    StorageError,
    VoteRequest,
    VoteResponse,
    persist_ready,
)
from raybee.raft.testing import InMemoryCluster


def make_cluster(n=3, priorities=(), **config):
    cluster = InMemoryCluster(RaftConfig(**config))
    conf = ConfState(voters=frozenset(range(1, n + 1)), priorities=tuple(priorities))
    for i in range(1, n + 1):
        cluster.add_node(i, conf)
    return cluster


def elect(cluster, node_id=1):
    cluster.nodes[node_id].campaign()
    cluster.stabilize()
    assert cluster.nodes[node_id].role == Role.LEADER
    return cluster.nodes[node_id]


def test_election_and_commit_of_the_leaders_noop():
    cluster = make_cluster()
    leader = elect(cluster)
    assert leader.term == 2 and leader.leader_id == 1
    for node in cluster.nodes.values():
        assert node.term == 2 and node.leader_id == 1
        assert node.commit_index == 2
        assert node.entries(2, 3)[0].kind == EntryKind.NOOP


def test_vote_is_in_the_hard_state_of_the_ready_that_sends_the_grant():
    cluster = make_cluster(pre_vote=False)
    cluster.nodes[1].campaign()
    requests = cluster.handle_ready(1)
    assert all(isinstance(m, VoteRequest) for m in requests) and len(requests) == 2
    follower = cluster.nodes[2]
    follower.step(requests[0])
    rd = follower.ready()
    grants = [m for m in rd.messages if isinstance(m, VoteResponse) and m.granted]
    assert grants, rd
    assert rd.hard_state is not None and rd.hard_state.vote == 1 and rd.hard_state.term == 2


def test_vote_survives_a_restart_and_no_second_vote_in_that_term():
    cluster = make_cluster(pre_vote=False)
    cluster.nodes[1].campaign()
    cluster.stabilize()
    restarted = cluster.restart(2)
    assert restarted.term == 2 and restarted.vote == 1
    other = VoteRequest(frm=3, to=2, term=2, last_index=99, last_term=9)
    restarted.step(other)
    responses = restarted.ready().messages
    assert [m.granted for m in responses] == [False]


def test_leader_counts_itself_only_after_the_ready_is_persisted():
    cluster = make_cluster(n=1)
    leader = elect(cluster)
    index = leader.propose("x")
    rd = leader.ready()
    assert [e.index for e in rd.entries] == [index]
    assert leader.commit_index == index - 1, "committed before its own entry was durable"
    persist_ready(cluster.storages[1], rd)
    leader.advance(rd)
    assert leader.commit_index == index


def test_an_old_term_entry_commits_only_with_a_current_term_entry():
    """Raft §5.4.2 (figure 8): counting replicas never commits an entry of an older term."""
    cluster = make_cluster(max_entries_per_append=1, pre_vote=False, check_quorum=False)
    elect(cluster, 1)  # term 2, commit 2
    cluster.isolate(1)
    cluster.nodes[1].propose("old")  # index 3, term 2, only on node 1
    cluster.stabilize()
    leader = cluster.restart(1)  # a follower again, log kept
    cluster.heal()
    cluster.isolate(2)
    leader.campaign()  # term 3 with node 3's vote; appends noop 4/3
    commits = []
    for _ in range(200):
        sent = cluster.handle_ready(1) + cluster.handle_ready(3)
        if not sent:
            break
        for msg in sent:
            if (msg.frm, msg.to) not in cluster.blocked:
                cluster.nodes[msg.to].step(msg)
            commits.append(leader.commit_index)
    assert leader.role == Role.LEADER and leader.term == 3
    assert leader.entries(3, 4)[0].term == 2 and leader.entries(4, 5)[0].term == 3
    assert cluster.nodes[3].last_index == 4
    assert 3 not in commits, f"entry 3 (term 2) committed alone: {commits}"
    assert leader.commit_index == 4


def test_proposals_batch_into_bounded_appends_and_inflight_window():
    cluster = make_cluster(max_entries_per_append=10, max_inflight_appends=3)
    leader = elect(cluster)
    leader.propose_many(range(100))
    rd = leader.ready()
    appends = [m for m in rd.messages if isinstance(m, AppendRequest)]
    per_follower = {to: [m for m in appends if m.to == to] for to in (2, 3)}
    for msgs in per_follower.values():
        assert len(msgs) == 3, "more appends in flight than max_inflight_appends"
        assert all(len(m.entries) == 10 for m in msgs)
    persist_ready(cluster.storages[1], rd)
    leader.advance(rd)
    cluster.in_flight = list(rd.messages)
    cluster.stabilize()
    assert all(n.commit_index == 102 for n in cluster.nodes.values())
    assert cluster.values[2] == list(range(100))


def test_pre_vote_keeps_an_isolated_node_from_raising_terms():
    cluster = make_cluster()
    leader = elect(cluster)
    cluster.isolate(3)
    for _ in range(100):
        cluster.tick(3)
        cluster.stabilize()
    assert cluster.nodes[3].term == 2 and cluster.nodes[3].role == Role.PRE_CANDIDATE
    cluster.heal()
    for _ in range(3):
        cluster.tick(1)
        cluster.stabilize()
    assert leader.role == Role.LEADER and leader.term == 2
    assert cluster.nodes[3].role == Role.FOLLOWER and cluster.nodes[3].leader_id == 1


def test_check_quorum_makes_an_isolated_leader_step_down():
    cluster = make_cluster()
    leader = elect(cluster)
    cluster.isolate(1)
    for _ in range(2 * cluster.config.election_timeout_ticks):
        cluster.tick(1)
        cluster.stabilize()
    assert leader.role == Role.FOLLOWER and leader.leader_id is None


def test_lease_ignores_vote_requests_while_a_leader_is_heard():
    cluster = make_cluster(pre_vote=False)
    elect(cluster)
    follower = cluster.nodes[2]
    follower.step(VoteRequest(frm=3, to=2, term=9, last_index=100, last_term=9))
    assert follower.term == 2 and follower.leader_id == 1
    assert not follower.ready().messages


def test_leader_transfer():
    cluster = make_cluster()
    leader = elect(cluster)
    leader.transfer_leadership(3)
    with pytest.raises(ProposalDroppedError):
        leader.propose("during transfer")
    cluster.stabilize()
    assert cluster.nodes[3].role == Role.LEADER and cluster.nodes[3].term == 3
    assert leader.role == Role.FOLLOWER and leader.leader_id == 3


def test_transfer_to_a_lagging_voter_waits_for_it_to_catch_up():
    cluster = make_cluster()
    leader = elect(cluster)
    cluster.isolate(3)
    leader.propose_many(range(20))
    cluster.stabilize()
    cluster.heal()
    leader.transfer_leadership(3)
    for _ in range(cluster.config.transfer_timeout_ticks - 1):
        cluster.tick(1)  # heartbeats show node 3 lagging; the leader resends
        cluster.stabilize()
    new = cluster.nodes[3]
    assert new.role == Role.LEADER and cluster.values[3] == list(range(20))


def test_priority_moves_leadership_to_the_highest_priority_voter():
    cluster = make_cluster(priorities=((1, 0), (2, 1), (3, 5)))
    elect(cluster, 1)
    for _ in range(5):
        for i in cluster.nodes:
            cluster.tick(i)
        cluster.stabilize()
    assert cluster.nodes[3].role == Role.LEADER
    assert cluster.nodes[1].role == Role.FOLLOWER


def test_priority_election_without_a_leader_prefers_higher_priority():
    wins = {}
    for seed in range(20):
        cluster = InMemoryCluster(RaftConfig(priority_transfer=False), seed=seed)
        conf = ConfState(frozenset({1, 2, 3}), priorities=((1, 0), (2, 0), (3, 9)))
        for i in (1, 2, 3):
            cluster.add_node(i, conf)
        for _ in range(100):
            for i in cluster.nodes:
                cluster.tick(i)
            cluster.stabilize()
            if cluster.leader() is not None:
                break
        wins[seed] = cluster.leader().id
    assert list(wins.values()).count(3) == 20, wins


@pytest.mark.parametrize("seed", range(10))
def test_when_the_top_priority_leader_goes_silent_its_best_survivor_campaigns_without_a_rank_wait(
    seed,
):
    """The dead leader does not count in a survivor's rank: the next priority campaigns
    within one randomized timeout (< 2 timeouts), the lowest still one timeout later."""
    timeout = RaftConfig().election_timeout_ticks
    cluster = InMemoryCluster(RaftConfig(), seed=seed)
    conf = ConfState(frozenset({1, 2, 3}), priorities=((1, 0), (2, 1), (3, 9)))
    for i in (1, 2, 3):
        cluster.add_node(i, conf)
    elect(cluster, 3)
    cluster.isolate(3)  # the leader goes silent (its node died)
    ticks = 0
    while ticks < 4 * timeout:
        ticks += 1
        for i in (1, 2):
            cluster.tick(i)
        cluster.stabilize()
        new = cluster.leader()
        if new is not None and new.id != 3 and new.term > cluster.nodes[3].term:
            break
    print(f"seed {seed}: node {new.id} leads after {ticks} ticks (timeout {timeout})")
    assert new.id == 2, "the highest surviving priority wins"
    assert ticks < 2 * timeout, "it waited a rank for the leader that is gone"


def test_learner_add_promote_remove():
    cluster = make_cluster()
    leader = elect(cluster)
    leader.propose_many(["a", "b"])
    cluster.stabilize()
    cluster.add_node(4)  # blank: no membership yet
    leader.propose_conf_change(ConfChange(ConfChangeKind.ADD_LEARNER, 4))
    with pytest.raises(ConfChangeError, match="not committed"):
        leader.propose_conf_change(ConfChange(ConfChangeKind.PROMOTE, 4))
    cluster.stabilize()
    learner = cluster.nodes[4]
    assert learner.role == Role.LEARNER and cluster.values[4] == ["a", "b"]
    assert leader.progress()[4].is_learner
    for _ in range(50):  # a learner never campaigns
        cluster.tick(4)
        cluster.stabilize()
    assert learner.role == Role.LEARNER and leader.role == Role.LEADER
    leader.propose_conf_change(ConfChange(ConfChangeKind.PROMOTE, 4))
    cluster.stabilize()
    assert learner.role == Role.FOLLOWER and 4 in leader.voters
    leader.propose_conf_change(ConfChange(ConfChangeKind.REMOVE, 2))
    cluster.stabilize()
    assert leader.voters == {1, 3, 4}
    assert all(cluster.nodes[i].voters == {1, 3, 4} for i in (1, 3, 4))
    assert 2 not in leader.progress()


def test_removing_the_leader_hands_over():
    cluster = make_cluster()
    leader = elect(cluster)
    leader.propose_conf_change(ConfChange(ConfChangeKind.REMOVE, 1))
    cluster.stabilize()
    assert leader.role == Role.FOLLOWER
    for _ in range(40):
        for i in (2, 3):
            cluster.tick(i)
        cluster.stabilize()
    new = cluster.leader()
    assert new is not None and new.id in (2, 3) and new.voters == {2, 3}


def test_membership_change_errors_name_the_rule():
    cluster = make_cluster()
    leader = elect(cluster)
    with pytest.raises(ConfChangeError, match="already a member"):
        leader.propose_conf_change(ConfChange(ConfChangeKind.ADD_LEARNER, 2))
    with pytest.raises(ConfChangeError, match="not a learner"):
        leader.propose_conf_change(ConfChange(ConfChangeKind.PROMOTE, 2))
    with pytest.raises(ConfChangeError, match="not a member"):
        leader.propose_conf_change(ConfChange(ConfChangeKind.REMOVE, 9))
    with pytest.raises(NotLeaderError, match="not the leader"):
        cluster.nodes[2].propose_conf_change(ConfChange(ConfChangeKind.REMOVE, 3))
    assert leader.last_index == 2, "a refused change wrote something"
    solo = make_cluster(n=1)
    only = elect(solo)
    with pytest.raises(ConfChangeError, match="last voter"):
        only.propose_conf_change(ConfChange(ConfChangeKind.REMOVE, 1))


def test_snapshot_install_in_chunks_for_a_follower_behind_the_compacted_log():
    cluster = make_cluster(snapshot_chunk_bytes_max=16)
    leader = elect(cluster)
    cluster.isolate(3)
    leader.propose_many([f"v{i}" for i in range(30)])
    cluster.stabilize()
    snap = cluster.compact(1, leader.applied_index)
    assert cluster.storages[1].first_index() == snap.meta.index + 1
    cluster.heal()
    lines = []
    for _ in range(5):
        cluster.tick(1)
        lines += cluster.stabilize()
    chunks = [line for line in lines if "SnapshotChunk" in line]
    assert len(chunks) >= len(snap.data) // 16, chunks
    follower = cluster.nodes[3]
    assert follower.snapshot_index() == snap.meta.index
    assert cluster.values[3] == cluster.values[1] == [f"v{i}" for i in range(30)]
    assert leader.progress()[3].state == ProgressState.REPLICATE


def test_snapshot_chunks_go_to_the_receivers_storage_and_a_refused_chunk_restarts_the_transfer():
    """The node never assembles a snapshot: each chunk goes to storage as it arrives; when the
    storage refuses one (its checksum failed), the transfer starts over from offset 0."""
    cluster = make_cluster(snapshot_chunk_bytes_max=16)
    leader = elect(cluster)
    cluster.isolate(3)
    leader.propose_many([f"v{i}" for i in range(30)])
    cluster.stabilize()
    snap = cluster.compact(1, leader.applied_index)
    receiver = cluster.storages[3]
    real_receive = receiver.receive_snapshot_chunk
    offsets, refused = [], []

    def receive(meta, offset, data, done):
        offsets.append(offset)
        if len(offsets) == 3:
            refused.append(offset)
            raise StorageError("simulated: chunk fails its checksum")
        return real_receive(meta, offset, data, done)

    receiver.receive_snapshot_chunk = receive
    cluster.heal()
    for _ in range(10):
        cluster.tick(1)
        cluster.stabilize()
    assert refused == [32] and offsets.count(0) == 2, offsets
    assert cluster.nodes[3].snapshot_index() == snap.meta.index
    assert cluster.values[3] == cluster.values[1]


def test_follower_restarted_after_snapshot_keeps_its_state():
    cluster = make_cluster(snapshot_chunk_bytes_max=16)
    leader = elect(cluster)
    leader.propose_many(["a", "b", "c"])
    cluster.stabilize()
    cluster.compact(2, cluster.nodes[2].applied_index)
    node = cluster.restart(2)
    assert node.commit_index == leader.commit_index
    cluster.stabilize()
    assert cluster.values[2] == ["a", "b", "c"]


def test_bad_input_is_refused_with_a_specific_error():
    cluster = make_cluster()
    node = cluster.nodes[1]
    with pytest.raises(TypeError, match="raft message"):
        node.step("hello")
    with pytest.raises(ValueError, match="addressed to 2"):
        node.step(Heartbeat(frm=3, to=2, term=5, commit=0))
    assert node.term == 1
    with pytest.raises(NotLeaderError):
        node.propose("x")
    with pytest.raises(ValueError, match="election_timeout_ticks"):
        RaftConfig(election_timeout_ticks=2, heartbeat_interval_ticks=1)
    with pytest.raises(ValueError, match="max_inflight_appends"):
        RaftConfig(max_inflight_appends=0)
    with pytest.raises(TypeError, match="random.Random"):
        RaftNode(1, RaftConfig(), MemoryStorage(), rng=None)
    with pytest.raises(ValueError, match="both voter and learner"):
        ConfState(voters=frozenset({1}), learners=frozenset({1}))
    leader = elect(cluster)
    assert leader.propose_many([]) == [] and leader.last_index == 2
    with pytest.raises(RaftError, match="not a voter"):
        leader.transfer_leadership(9)


def test_stale_leader_learns_the_new_term_and_steps_down():
    cluster = make_cluster()
    old = elect(cluster, 1)
    cluster.isolate(1)
    for _ in range(3 * cluster.config.election_timeout_ticks):
        cluster.tick(2)
        cluster.tick(3)
        cluster.stabilize()
    cluster.nodes[2].campaign()
    cluster.stabilize()
    assert cluster.nodes[2].role == Role.LEADER and cluster.nodes[2].term == 3
    cluster.heal()
    cluster.tick(1)  # old leader heartbeats at term 2; the answers carry term 3
    cluster.stabilize()
    assert old.role == Role.FOLLOWER and old.term == 3 and old.leader_id in (2, None)


def test_replay_is_deterministic_for_a_seed():
    def run(seed):
        cluster = InMemoryCluster(RaftConfig(), seed=seed)
        conf = ConfState(frozenset({1, 2, 3}))
        for i in (1, 2, 3):
            cluster.add_node(i, conf)
        trace = []
        for _ in range(60):
            for i in (1, 2, 3):
                cluster.tick(i)
            trace += cluster.stabilize()
        return trace

    first = run(7)
    assert first == run(7)
    assert any("VoteRequest" in line for line in first)


def test_a_lost_snapshot_chunk_is_sent_again():
    cluster = make_cluster(snapshot_chunk_bytes_max=16)
    leader = elect(cluster)
    cluster.isolate(3)
    leader.propose_many([f"v{i}" for i in range(10)])
    cluster.stabilize()
    cluster.compact(1, leader.applied_index)
    cluster.heal()
    dropped = []

    def drop_second_chunk_once(msg):
        if isinstance(msg, SnapshotChunk) and msg.offset == 16 and not dropped:
            dropped.append(msg)
            return True
        return False

    cluster.drop = drop_second_chunk_once
    for _ in range(10):
        cluster.tick(1)
        cluster.stabilize()
    assert dropped, "the test meant to drop a chunk"
    assert cluster.values[3] == [f"v{i}" for i in range(10)]


def test_too_many_uncommitted_entries_are_refused():
    cluster = make_cluster(
        max_uncommitted_entries=10, max_entries_per_append=5, max_committed_entries_per_ready=5
    )
    leader = elect(cluster)
    cluster.isolate(2)
    cluster.isolate(3)
    leader.propose_many(range(8))
    with pytest.raises(ProposalDroppedError, match="max_uncommitted_entries=10"):
        leader.propose_many(range(5))
    assert leader.last_index == 10, "a refused proposal was appended"
    cluster.heal()
    for _ in range(5):
        cluster.tick(1)
        cluster.stabilize()
    leader.propose_many(range(5))  # accepted again once the backlog committed


def test_a_leader_may_send_appends_before_its_own_fsync_and_counts_itself_only_after():
    """The one exception to 'persist, then send' (Ready docstring, Raft thesis 10.2.1)."""
    cluster = make_cluster(n=3)
    leader = elect(cluster)
    index = leader.propose("x")
    rd = leader.ready()  # the leader's own write of `index` is still running
    appends = [m for m in rd.messages if isinstance(m, AppendRequest)]
    assert {m.to for m in appends} == {2, 3}
    cluster.nodes[2].step(next(m for m in appends if m.to == 2))
    for msg in cluster.handle_ready(2):  # follower 2 persists and acknowledges
        leader.step(msg)
    assert leader.commit_index < index, "counted itself before its write was durable"
    cluster.nodes[3].step(next(m for m in appends if m.to == 3))
    for msg in cluster.handle_ready(3):
        leader.step(msg)
    assert leader.commit_index == index, "two durable followers of three are a quorum"
    persist_ready(cluster.storages[1], rd)
    leader.advance(rd)
    assert leader.commit_index == index

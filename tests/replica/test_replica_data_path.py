"""Three replicas of one partition on real journals and RocksDB, over a tiny deterministic
network (partitions/simulation/group.py): the leader processes committed commands, followers
replay, answers leave only after commit, and every replica holds the same log and bytes."""

import pytest

from raybee.partitions.checks import assert_every_command_answered_once
from raybee.partitions.protocol import JobIntent, RecordType
from raybee.partitions.simulation import ReplicaGroup
from raybee.partitions.testing import activate, create, job_command
from raybee.raft import AppendResponse


@pytest.fixture
def group(tmp_path):
    group = ReplicaGroup(tmp_path)
    yield group
    group.close()


def committed_log(replica):
    return replica.read_committed(1, 1_000_000)


def test_the_leader_processes_and_followers_replay_to_the_same_bytes(group):
    leader = group.await_leader()
    group.submit([create(job_type="a") for _ in range(20)])
    group.pump()
    answers = group.answers()
    assert sorted(answers) == list(range(20))
    assert all(a.intent == JobIntent.CREATED for a in answers.values())
    keys = [answers[i].key for i in range(20)]
    assert len(set(keys)) == 20
    group.submit([activate(job_type="a", max_jobs=20)])
    group.pump()
    group.submit([job_command(JobIntent.COMPLETE, key) for key in keys])
    group.pump()
    logs = {i: committed_log(r) for i, r in group.replicas.items()}
    first = logs[leader.replica_id]
    assert [r.position for r in first] == list(range(1, len(first) + 1))
    assert all(log == first for log in logs.values()), "every replica holds the same log"
    assert_every_command_answered_once(first)
    processed = {r.processed_position for r in group.replicas.values()}
    digests = {r.digest() for r in group.replicas.values()}
    assert len(processed) == 1 and len(digests) == 1, (processed, digests)
    follower = next(r for r in group.replicas.values() if r is not leader)
    assert follower.mode == "follower" and follower.stats["batches"] == 0


def hold_acks(group, above_index: int) -> list:
    """Drop (and keep) every AppendResponse acknowledging entries past `above_index`."""
    held = []

    def drop(message):
        if isinstance(message, AppendResponse) and message.index > above_index:
            held.append(message)
            return True
        return False

    group.drop = drop
    return held


def release(group, held) -> None:
    group.drop = lambda message: False
    leader = group.leader()
    for message in held:
        leader.step(message)
    group.pump()


def test_nothing_is_processed_or_answered_before_the_commands_commit(group):
    leader = group.await_leader()
    held = hold_acks(group, leader.status()["last_index"])
    group.submit([create() for _ in range(3)])
    group.pump()
    assert held and not group.responses
    assert leader.processed_position == leader.status()["processed_position"] <= 0
    release(group, held)
    assert sorted(group.answers()) == [0, 1, 2]


def test_the_leader_processes_ahead_of_commit_and_answers_after_commit(group):
    """Pipelining: the commands commit, the leader processes them (its state runs ahead of
    commit), and their answers wait until the entry holding the records commits."""
    leader = group.await_leader()
    group.submit([create() for _ in range(4)])
    group.handle(leader.replica_id)  # proposes the commands' entry
    commands_entry = leader.status()["last_index"]
    held = hold_acks(group, commands_entry)
    group.pump()
    assert leader.committed_position == 4 and leader.processed_position == 4
    assert leader.has_uncommitted_state
    assert not group.responses, "answered before the records answering it committed"
    follower = next(r for r in group.replicas.values() if r is not leader)
    assert follower.processed_position <= 0  # it replays committed events only
    release(group, held)
    assert sorted(group.answers()) == [0, 1, 2, 3]
    assert not leader.has_uncommitted_state
    group.tick(2)  # the followers learn the new commit index with a heartbeat
    assert {r.digest() for r in group.replicas.values()} == {leader.digest()}


def test_positions_keys_and_records_round_trip_through_the_journal_after_restart(group):
    group.await_leader()
    group.submit([create() for _ in range(10)])
    group.pump()
    before = {i: committed_log(r) for i, r in group.replicas.items()}
    digests = {i: r.digest() for i, r in group.replicas.items()}
    for replica_id in list(group.replicas):
        group.restart(replica_id)  # a crash: the stored commit index may lag (it is volatile)
    group.await_leader()  # the new leader's noop commits the log again
    group.tick(2)
    for i, replica in group.replicas.items():
        assert committed_log(replica) == before[i]
        assert replica.digest() == digests[i]
    for record in before[1]:
        if record.record_type == RecordType.EVENT:
            assert record.key > 0


def test_a_command_too_large_for_an_entry_is_refused_alone(tmp_path):
    from raybee.partitions.protocol import RejectionType
    from raybee.partitions.replica import ReplicaConfig

    group = ReplicaGroup(tmp_path, config=ReplicaConfig(segment_size_bytes_max=64 * 1024))
    try:
        group.await_leader()
        huge = create(variables={"blob": "x" * 40_000})  # more than one entry may hold
        group.submit([create(), huge, create()])
        group.pump()
        answers = group.answers()
        assert answers[0].intent == JobIntent.CREATED and answers[2].intent == JobIntent.CREATED
        assert answers[1].rejection_type == RejectionType.EXCEEDED_BATCH_RECORD_SIZE
        assert answers[1].position == -1, "it never reached the log"
    finally:
        group.close()


def test_a_leader_that_cannot_commit_pushes_back(group):
    from raybee.partitions.replica import BackpressureError

    leader = group.await_leader()
    group.drop = lambda m: m.frm == leader.replica_id  # its appends never arrive
    refused = None
    for i in range(2_000):
        try:
            group.submit([create()], first_request_id=i)
        except BackpressureError as error:
            refused = error
            break
        group.handle(leader.replica_id)  # one entry per ready
    assert refused is not None and "wait for a quorum" in refused.reason
    assert not group.responses

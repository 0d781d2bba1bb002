"""Exactly once with retries: a command retried with the same request ids is answered with the
first answer and not applied again - in the same batch, later, and on a new leader that never
saw the first (it finds the answer in the log). The window is replicated state: replay
rebuilds it byte for byte, and it forgets ids older than its window."""

import struct

import pytest

from raybee.partitions.checks import assert_every_command_answered_once
from raybee.partitions.protocol import JobIntent, RejectionType
from raybee.partitions.replica import ReplicaConfig
from raybee.partitions.replica.request_ids import REQUEST_IDS
from raybee.partitions.simulation import ReplicaGroup
from raybee.partitions.testing import create, job_command


@pytest.fixture
def group(tmp_path):
    group = ReplicaGroup(tmp_path)
    yield group
    group.close()


def jobs_created(replica):
    return [
        r
        for r in replica.read_committed(1, 1_000_000)
        if r.is_event and r.intent == JobIntent.CREATED
    ]


def retry_rejections(replica):
    return [
        r
        for r in replica.read_committed(1, 1_000_000)
        if r.is_rejection and r.rejection_type == RejectionType.ALREADY_EXISTS
    ]


def test_a_retry_is_answered_with_the_first_answer_and_not_applied_again(group):
    leader = group.await_leader()
    group.submit([create(job_type="a")], first_request_id=7)
    group.pump()
    first = group.answers()[7]
    group.responses.clear()
    group.submit([create(job_type="a")], first_request_id=7)  # the client retries
    group.pump()
    assert group.answers()[7] == first, "the retry got another answer than the first"
    assert len(jobs_created(leader)) == 1
    (rejection,) = retry_rejections(leader)
    assert f"already processed at position {first.source_record_position}" in (
        rejection.rejection_reason
    )
    assert_every_command_answered_once(leader.read_committed(1, 1_000_000))
    group.tick(2)
    assert {r.digest() for r in group.replicas.values()} == {leader.digest()}


def test_retries_in_the_same_batch_and_of_a_complete(group):
    group.await_leader()
    group.submit([create()], first_request_id=0)
    group.pump()
    key = group.answers()[0].key
    complete = job_command(JobIntent.COMPLETE, key)
    group.submit([complete, complete, complete], first_request_id=1)  # ids 1, 2, 3: fresh
    group.pump()
    answers = group.answers()
    assert answers[1].intent == JobIntent.COMPLETED
    assert answers[2].is_rejection and answers[3].is_rejection  # NOT_FOUND: really applied once
    group.responses.clear()
    group.submit([complete, complete], first_request_id=1)  # retries of 1, and of 2
    group.pump()
    answers = group.answers()
    assert answers[1].intent == JobIntent.COMPLETED and answers[2].is_rejection
    assert answers[2].rejection_type == RejectionType.NOT_FOUND  # the first answer, again


def test_a_new_leader_answers_a_retry_from_the_log(group):
    old = group.await_leader()
    group.submit([create() for _ in range(5)], first_request_id=0)
    group.pump()
    group.tick(2)
    first = group.answers()
    group.crash(old.replica_id)
    new = group.await_leader()
    group.responses.clear()
    group.submit([create() for _ in range(5)], first_request_id=0)
    group.pump()
    assert group.answers() == first
    assert len(jobs_created(new)) == 5
    assert new.stats["retries_answered"] == 5


def test_replay_rebuilds_the_window_and_old_ids_leave_it(tmp_path):
    config = ReplicaConfig(request_id_window_positions=20)
    group = ReplicaGroup(tmp_path, config=config)
    try:
        leader = group.await_leader()
        for i in range(30):  # commands at positions 1, 3, 5, ... 59
            group.submit([create()], first_request_id=i)
            group.pump()
        group.tick(2)
        assert {r.digest() for r in group.replicas.values()} == {leader.digest()}
        kept = sorted(
            struct.unpack(">qqq", key)[2]
            for key, _ in leader._store.view().items(REQUEST_IDS)
            if len(key) == 24
        )
        # Processed 59: buckets of 20 positions below (59 - 20) // 20 = 1 are gone; ids of the
        # commands at positions 21.. (ids 10..29) are kept, at most two windows of them.
        assert kept == list(range(10, 30)), kept
        group.responses.clear()
        group.submit([create()], first_request_id=20)  # at position 61, within 20 of 41
        group.submit([create()], first_request_id=15)  # first at 31: more than 20 before
        group.pump()
        answers = group.answers()
        assert answers[20].intent == JobIntent.CREATED and answers[15].intent == JobIntent.CREATED
        assert len(retry_rejections(leader)) == 1, "the retry within the window was answered"
        assert len(jobs_created(leader)) == 31, "the one outside the window was applied again"
        group.tick(2)
        assert {r.digest() for r in group.replicas.values()} == {leader.digest()}
    finally:
        group.close()

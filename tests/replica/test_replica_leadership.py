"""Leader changes: a promoted follower replays the tail of its log and then processes without
reusing a key; a deposed leader fails what it had in flight as UNKNOWN and rebuilds its state
from the committed log, after which every replica holds the same bytes again."""

import pytest

from raybee.partitions.checks import assert_every_command_answered_once
from raybee.partitions.protocol import JobIntent
from raybee.partitions.simulation import ReplicaGroup
from raybee.partitions.testing import create
from raybee.raft import AppendResponse


@pytest.fixture
def group(tmp_path):
    group = ReplicaGroup(tmp_path)
    yield group
    group.close()


def cut_off(group, replica_id):
    group.drop = lambda m: m.to == replica_id or m.frm == replica_id


def heal(group):
    group.drop = lambda m: False


def created_keys(replica):
    return [
        r.key
        for r in replica.read_committed(1, 1_000_000)
        if r.is_event and r.intent == JobIntent.CREATED
    ]


def test_a_promoted_follower_replays_its_tail_then_processes_without_reusing_keys(group):
    old = group.await_leader()
    group.submit([create() for _ in range(10)])
    group.pump()
    assert len(group.responses) == 10
    group.crash(old.replica_id)
    new = group.await_leader()
    assert new.replica_id != old.replica_id and new.stats["promotions"] == 1
    group.submit([create() for _ in range(10)])
    group.pump()
    assert len(group.answers()) == 20
    keys = created_keys(new)
    assert len(keys) == 20 == len(set(keys)), "a key was issued twice"
    promotion = new.status()["promotion"]
    assert promotion["first_processed_ms"] is not None
    # In this lossless network the noop commits at once: the first command is processed
    # within the tick in which it arrived.
    assert promotion["first_processed_ms"] - promotion["promoted_at_ms"] <= 50 * 10
    group.open(old.replica_id)  # it comes back from its disk and catches up
    group.tick(5)
    assert {r.digest() for r in group.replicas.values()} == {new.digest()}
    assert_every_command_answered_once(new.read_committed(1, 1_000_000))


def test_a_deposed_leader_fails_its_in_flight_commands_as_unknown_and_rebuilds(group):
    old = group.await_leader()
    group.submit([create() for _ in range(3)])
    group.pump()
    # The next commands commit, the leader processes them, but its follow-up entry is never
    # acknowledged: its state runs ahead of commit when it is cut off.
    group.submit([create() for _ in range(2)], first_request_id=3)
    group.handle(old.replica_id)
    commands_entry = old.status()["last_index"]
    group.drop = lambda m: isinstance(m, AppendResponse) and m.index > commands_entry
    group.pump()
    assert old.has_uncommitted_state and old.processed_position > 3
    cut_off(group, old.replica_id)
    others = [i for i in group.replicas if i != old.replica_id]
    for _ in range(200):
        group.tick()
        if any(group.replicas[i].mode == "leader" for i in others):
            break
    new = next(group.replicas[i] for i in others if group.replicas[i].mode == "leader")
    heal(group)
    group.tick(3)  # the old leader hears the new term and steps down
    assert old.role == "follower"
    assert sorted(u for i, u in group.unknown if i == old.replica_id) == [(1, 3), (1, 4)]
    assert old.stats["rebuilds"] == 1
    group.tick(3)
    assert {r.digest() for r in group.replicas.values()} == {new.digest()}
    # The unknown commands were committed before the cut: the new leader processed them.
    assert len(created_keys(new)) == 5 == len(set(created_keys(new)))


def test_a_leader_deposed_with_nothing_in_flight_keeps_its_state(group):
    old = group.await_leader()
    group.submit([create() for _ in range(3)])
    group.pump()
    group.tick(2)
    assert not old.has_uncommitted_state
    old.transfer_leadership(next(i for i in group.replicas if i != old.replica_id))
    group.tick(5)
    assert old.role == "follower" and old.stats["rebuilds"] == 0
    new = group.await_leader()
    group.submit([create()], first_request_id=3)
    group.pump()
    group.tick(2)
    assert {r.digest() for r in group.replicas.values()} == {new.digest()}

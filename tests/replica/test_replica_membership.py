"""Membership, the supervisor's operations: a replica with an empty disk (under a new id) is
added as a learner, catches up by snapshot and log, is promoted, a dead member is removed;
leader transfer and priorities place leadership; exporters hold compaction back."""

import pytest

from raybee.partitions.exporters.exporter import Exporter
from raybee.partitions.replica import NotLeaderError, ReplicaConfig
from raybee.partitions.simulation import ReplicaGroup
from raybee.partitions.testing import create
from raybee.raft import ConfChangeError, RaftConfig

CONFIG = ReplicaConfig(
    snapshot_interval_positions=20,
    raft=RaftConfig(election_timeout_ticks=20, heartbeat_interval_ticks=2),
    segment_size_bytes_max=64 * 1024,
)


def load(group, commands: int, first_request_id: int) -> None:
    for i in range(commands):
        group.submit([create()], first_request_id=first_request_id + i)
        group.pump()


def test_a_dead_member_is_replaced_by_a_new_one_that_catches_up_and_votes(tmp_path):
    group = ReplicaGroup(tmp_path, config=CONFIG)
    try:
        leader = group.await_leader()
        load(group, 100, 0)
        dead = next(i for i in group.replicas if i != leader.replica_id)
        group.crash(dead)  # its disk is lost: it never comes back under this id
        leader.remove(dead)
        with pytest.raises(ConfChangeError):
            leader.add_learner(4)  # one change at a time: the removal is not committed yet
        group.tick(2)
        new = group.open(4)  # an empty directory, no bootstrap
        leader.add_learner(4, priority=0)
        group.tick(10)
        assert new.role == "learner"
        assert new.stats["snapshots_installed"] == 1, "the log before the snapshot is gone"
        lag = leader.status()["lag"]["4"]
        assert lag <= 1, lag
        leader.promote(4)
        group.tick(3)
        assert new.role == "follower"
        members = leader.status()["members"]
        assert members == {
            str(i): {"voter": True, "priority": 0} for i in sorted(group.replicas)
        }, members
        load(group, 5, 100)
        group.tick(2)
        assert {r.digest() for r in group.replicas.values()} == {leader.digest()}
        # It votes: with the old leader gone, the two left elect one of them.
        group.crash(leader.replica_id)
        successor = group.await_leader()
        assert successor.replica_id in group.replicas
        load(group, 3, 200)
        assert len(group.answers()) == 108
    finally:
        group.close()


def test_membership_operations_are_for_the_leader(tmp_path):
    group = ReplicaGroup(tmp_path, config=CONFIG)
    try:
        leader = group.await_leader()
        follower = next(r for r in group.replicas.values() if r is not leader)
        for operation in (
            lambda: follower.add_learner(9),
            lambda: follower.promote(9),
            lambda: follower.remove(leader.replica_id),
            lambda: follower.transfer_leadership(follower.replica_id),
        ):
            with pytest.raises(NotLeaderError) as refused:
                operation()
            assert refused.value.leader_id == leader.replica_id
        with pytest.raises(ConfChangeError):
            leader.promote(9)  # not a learner
    finally:
        group.close()


def test_priorities_and_transfers_place_the_leader(tmp_path):
    group = ReplicaGroup(tmp_path, voters={1: 0, 2: 0, 3: 5}, config=CONFIG)
    try:
        leader = group.await_leader()
        for _ in range(100):
            if leader.replica_id == 3:
                break
            group.tick()
            leader = group.await_leader()
        assert leader.replica_id == 3, "the highest priority leads"
        load(group, 3, 0)
        group.replicas[3].transfer_leadership(1)
        group.pump()
        assert group.leader().replica_id == 1, "the transfer is done within a round trip"
        group.tick(10)
        # Once 1 leads with 3 caught up, priority hands leadership back to 3.
        assert group.await_leader().replica_id == 3
        load(group, 3, 3)
        assert len(group.answers()) == 6
    finally:
        group.close()


class CountingExporter(Exporter):
    exporter_id = "counting"

    def __init__(self) -> None:
        self.records = []
        self.acknowledge_up_to = None

    def open(self, context) -> None:
        self.context = context

    def export(self, records) -> None:
        self.records.extend(records)

    def flush(self) -> None:
        if self.acknowledge_up_to is not None and self.acknowledge_up_to > 0:
            self.context.acknowledge(self.acknowledge_up_to)


def test_exporters_get_every_committed_record_and_hold_compaction_back(tmp_path):
    group = ReplicaGroup(tmp_path, voters=3, config=CONFIG)
    try:
        leader = group.await_leader()
        exporter = CountingExporter()
        exporter.acknowledge_up_to = 0  # a stuck exporter acknowledges nothing
        follower_id = next(i for i in group.replicas if i != leader.replica_id)
        group.crash(follower_id)
        follower = group.open(follower_id, exporters=[exporter])
        load(group, 150, 0)
        group.tick(2)
        assert follower.stats["snapshots_taken"] >= 2
        assert follower._storage.first_retained_index == 1, "compacted below the exporter"
        positions = [r.position for r in exporter.records]
        assert positions == list(range(1, follower.committed_position + 1))
        exporter.acknowledge_up_to = follower.committed_position
        exporter.flush()
        load(group, 40, 150)
        group.tick(2)
        assert follower._storage.first_retained_index > 1
    finally:
        group.close()

"""The one place that names the partition replica a broker hosts: the replicated partition
(`raybee.partitions.replica.PartitionReplica`), and the errors through which it refuses.

Brokers drive it through its contract: open, bootstrap, tick, step, submit, ready/advance,
add_learner/promote/remove/transfer_leadership, job streams, status, digest.
"""

from raybee.partitions.replica import (
    BackpressureError,
    PartitionReplica,
    ReplicaConfig,
    ReplicaError,
)
from raybee.raft import NotLeaderError, RaftError

# Shown in the topology (the gRPC gateway's in-process backend names its own).
REPLICA_IMPLEMENTATION = "replica"
REPLICATION_FACTOR_DEFAULT = 3
# Raft would take more; more than this many copies of a partition on one cluster is a mistake.
REPLICATION_FACTOR_MAX = 7

ReplicaClass = PartitionReplica
# The replica's NotLeaderError is a subclass of raft's: catching raft's catches both.
NOT_LEADER_ERRORS: tuple[type[BaseException], ...] = (NotLeaderError,)
BACKPRESSURE_ERRORS: tuple[type[BaseException], ...] = (BackpressureError,)
# A membership operation refused (a change still in progress, not a voter, ...).
MEMBERSHIP_ERRORS: tuple[type[BaseException], ...] = (RaftError, ReplicaError)


def leader_hint(error: BaseException) -> int | None:
    """The replica id a NotLeader error names as leader, if any."""
    return getattr(error, "leader_id", None)


def backpressure_reason(error: BaseException) -> str:
    return getattr(error, "reason", None) or str(error)


def default_tick_ms() -> int:
    return ReplicaConfig().tick_ms


# A broker's loop must come back to its other replicas (and their heartbeats) within a tick or
# two: each ready() of a hosted replica does at most this much (measured: `raybee status`
# shows the loop's longest iteration).
BATCHES_PER_READY_MAX = 2
ROUNDS_PER_READY_MAX = 2


def replica_config(tick_ms: int) -> ReplicaConfig:
    return ReplicaConfig(
        tick_ms=tick_ms,
        batches_per_ready_max=BATCHES_PER_READY_MAX,
        rounds_per_ready_max=ROUNDS_PER_READY_MAX,
    )

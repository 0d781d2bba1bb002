"""The one place that names the partition replica the brokers host.

Brokers drive replicas through the contract of `raybee.partitions.replica` (open, bootstrap,
tick, step, submit, ready/advance, membership operations, job streams, status). While that
package is being written, the TEMPORARY stand-in `actors/_standin_replica.py` (replication
factor 1, no Raft) takes its place; switching is a change of this module alone.
"""

from raybee.actors._standin_replica import (
    BackpressureError,
    NotLeaderError,
    StandinReplica,
    StandinReplicaConfig,
)

REPLICA_IMPLEMENTATION = "standin"
# What the hosted replica can do: the stand-in holds one copy of each partition.
REPLICATION_FACTOR_MAX = 1
DEFAULT_REPLICATION_FACTOR = 1

ReplicaClass = StandinReplica
ReplicaConfig = StandinReplicaConfig
NOT_LEADER_ERRORS: tuple[type[BaseException], ...] = (NotLeaderError,)
BACKPRESSURE_ERRORS: tuple[type[BaseException], ...] = (BackpressureError,)


def leader_hint(error: BaseException) -> int | None:
    """The replica id a NotLeader error names as leader, if any."""
    return getattr(error, "leader_id", None)


def backpressure_reason(error: BaseException) -> str:
    return getattr(error, "reason", None) or str(error)


def default_config(tick_ms: int) -> ReplicaConfig:
    return ReplicaConfig(tick_ms=tick_ms)

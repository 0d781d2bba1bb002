"""The one place that names the partition replicas a broker can host.

Brokers drive replicas through the contract of `raybee.partitions.replica` (open, bootstrap,
tick, step, submit, ready/advance, membership operations, job streams, status). While that
package is being written, two TEMPORARY stand-ins take its place:

- "standin" (`_standin_replica.py`): one unreplicated LocalPartition per partition,
  replication factor 1, on disk (a restarted broker recovers it);
- "raft-standin" (`_standin_raft_replica.py`): the real Raft core replicating commands between
  brokers, every replica processing them in memory; replication factor 3, failover,
  learners and removal, but nothing on disk and no job push.

A deployment names its implementation (`raybee start --replica`, `raybee.connect(replica=)`);
the supervisor passes it to every broker it places.
"""

from dataclasses import dataclass

from raybee.actors import _standin_raft_replica, _standin_replica
from raybee.raft import NotLeaderError as RaftNotLeaderError
from raybee.raft import RaftError


@dataclass(frozen=True)
class Implementation:
    name: str
    replica_class: type
    config_class: type
    replication_factor_max: int
    default_replication_factor: int
    job_push: bool
    note: str


IMPLEMENTATIONS = {
    "standin": Implementation(
        "standin",
        _standin_replica.StandinReplica,
        _standin_replica.StandinReplicaConfig,
        1,
        1,
        True,
        "TEMPORARY stand-in: replication factor 1, no Raft",
    ),
    "raft-standin": Implementation(
        "raft-standin",
        _standin_raft_replica.RaftStandinReplica,
        _standin_raft_replica.RaftStandinConfig,
        7,
        3,
        False,
        "TEMPORARY Raft stand-in: commands replicated, state in memory, no job push",
    ),
}
DEFAULT_IMPLEMENTATION = "standin"

NOT_LEADER_ERRORS: tuple[type[BaseException], ...] = (
    _standin_replica.NotLeaderError,
    RaftNotLeaderError,
)
BACKPRESSURE_ERRORS: tuple[type[BaseException], ...] = (_standin_replica.BackpressureError,)
# A membership operation the replica refused (another change in progress, not a voter, ...).
MEMBERSHIP_ERRORS: tuple[type[BaseException], ...] = (
    RaftError,
    _standin_replica.StandinLimitError,
)


def implementation(name: str | None) -> Implementation:
    name = name or DEFAULT_IMPLEMENTATION
    found = IMPLEMENTATIONS.get(name)
    if found is None:
        raise ValueError(
            f"unknown replica implementation {name!r}; known: {sorted(IMPLEMENTATIONS)}"
        )
    return found


def leader_hint(error: BaseException) -> int | None:
    """The replica id a NotLeader error names as leader, if any."""
    return getattr(error, "leader_id", None)


def backpressure_reason(error: BaseException) -> str:
    return getattr(error, "reason", None) or str(error)


def default_config(name: str | None, tick_ms: int):
    return implementation(name).config_class(tick_ms=tick_ms)

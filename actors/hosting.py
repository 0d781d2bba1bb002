"""The one place that names the partition replica a broker hosts: the replicated partition
(`raybee.partitions.replica.PartitionReplica`), and the errors through which it refuses.

Brokers drive it through its contract: open, bootstrap, tick, step, submit, ready/advance,
add_learner/promote/remove/transfer_leadership, job streams, status, digest.
"""

import dataclasses

from raybee.partitions.replica import (
    BackpressureError,
    PartitionReplica,
    ReplicaConfig,
    ReplicaError,
)
from raybee.partitions.replica.config import default_raft_config
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
    return TICK_MS


# A broker's loop must come back to its other replicas (and their heartbeats) within a tick or
# two: each ready() of a hosted replica does at most this much (measured: `raybee status`
# shows the loop's longest iteration).
BATCHES_PER_READY_MAX = 2
ROUNDS_PER_READY_MAX = 2
# Brokers share their machine's cores with Ray and with each other. Every Raft message is an
# actor call (~1 ms of CPU at each end here): heartbeats every 100 ms, not every 20 ms, keep an
# idle 3-broker cluster from spending a core on them.
# Elections: a timeout of 300 ms, randomized to 300-600 ms, and raft adds a whole timeout per
# member of higher priority (capped at two). The dead leader usually held the top priority, so
# the next survivor campaigns 600-900 ms after it last heard a heartbeat (0-100 ms before the
# kill) and leads about 50 ms later: bench cluster's failover_s 0.79, 1.06, 0.76, 0.92 against
# 1.15, 0.91, 1.18, 1.00 with 400 ms (interleaved runs on a loaded machine; no election under
# load in any of the eight, loop stalls up to 524 ms). A follower campaigns only after 600 ms
# without its leader. Timeouts of 200-400 ms deposed healthy leaders in a cascade when a node
# died and another started (80b0d87): watch elections_under_load and the failover tests.
TICK_MS = 25
ELECTION_TIMEOUT_TICKS = 12
HEARTBEAT_INTERVAL_TICKS = 4
# A deposed leader rebuilds from its latest snapshot plus the log after it: snapshots every
# this many positions keep that replay short.
SNAPSHOT_INTERVAL_POSITIONS = 50_000


# Replica settings a deployment may override (`raybee.connect(replica_settings=...)`): how often
# a replica snapshots, and so how much of the log it keeps.
REPLICA_SETTINGS = ("snapshot_interval_positions", "snapshot_interval_ms", "snapshots_kept")


def replica_config(tick_ms: int, settings: dict[str, int] | None = None) -> ReplicaConfig:
    """The hosted replicas' configuration; `settings` overrides names in REPLICA_SETTINGS
    (anything else, or a value ReplicaConfig refuses, raises ValueError)."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(REPLICA_SETTINGS))
    if unknown:
        raise ValueError(
            f"unknown replica setting(s) {unknown}; a deployment may set {list(REPLICA_SETTINGS)}"
        )
    raft = dataclasses.replace(
        default_raft_config(),
        election_timeout_ticks=ELECTION_TIMEOUT_TICKS,
        heartbeat_interval_ticks=HEARTBEAT_INTERVAL_TICKS,
    )
    return ReplicaConfig(
        tick_ms=tick_ms,
        raft=raft,
        batches_per_ready_max=BATCHES_PER_READY_MAX,
        rounds_per_ready_max=ROUNDS_PER_READY_MAX,
        snapshot_interval_positions=settings.pop(
            "snapshot_interval_positions", SNAPSHOT_INTERVAL_POSITIONS
        ),
        **settings,
    )

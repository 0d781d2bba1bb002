"""Where partition replicas live, and which replica should lead: pure functions the supervisor
calls (no Ray, no clock), so they are tested on their own.

Initial placement is round-robin: partition p (1-based) has its replicas on brokers
p-1, p, ..., p+rf-2 (mod the broker count, in broker-id order), with election priorities
rf, rf-1, ..., 1. The first broker of each partition is its preferred leader, so with as many
brokers as partitions each broker leads exactly one, and with more partitions the leaders go
round the brokers (`preferred leaders differ by at most one per broker`).

A replacement replica inherits the priority of the member it replaces (the new broker takes
over the old one's leaderships once caught up). Rebalancing hands leadership to the
highest-priority healthy voter of each partition.
"""

from dataclasses import dataclass

PRIORITY_LEARNER = 0


@dataclass(frozen=True)
class ReplicaSlot:
    partition_id: int
    broker_id: int
    priority: int


def initial_placement(
    partition_count: int, replication_factor: int, broker_ids: list[int]
) -> dict[int, list[ReplicaSlot]]:
    """Replicas of every partition, preferred leader first."""
    if partition_count < 1:
        raise ValueError(f"partition count must be at least 1, got {partition_count}")
    if replication_factor < 1:
        raise ValueError(f"replication factor must be at least 1, got {replication_factor}")
    brokers = sorted(broker_ids)
    if len(set(brokers)) != len(brokers):
        raise ValueError(f"broker ids repeat: {broker_ids}")
    if len(brokers) < replication_factor:
        raise ValueError(
            f"replication factor {replication_factor} needs {replication_factor} brokers on "
            f"distinct nodes, there are {len(brokers)}: {brokers}"
        )
    placement = {}
    for partition in range(1, partition_count + 1):
        placement[partition] = [
            ReplicaSlot(
                partition,
                brokers[(partition - 1 + i) % len(brokers)],
                replication_factor - i,
            )
            for i in range(replication_factor)
        ]
    return placement


def replacement_host(
    partition_id: int, live_brokers: list[int], hosted: dict[int, set[int]]
) -> int | None:
    """A live broker that holds no replica of the partition, the least loaded first (ties: the
    lowest id); None if every live broker holds one already.
    `hosted` maps broker id -> partitions it holds a replica of."""
    candidates = [b for b in sorted(live_brokers) if partition_id not in hosted.get(b, set())]
    if not candidates:
        return None
    return min(candidates, key=lambda b: (len(hosted.get(b, set())), b))


def preferred_leader(members: dict[int, dict]) -> int | None:
    """The healthy voter of highest priority (ties: lowest replica id).
    `members` maps replica id -> {"voter": bool, "priority": int, "healthy": bool}."""
    voters = [
        (-info.get("priority", 0), replica)
        for replica, info in members.items()
        if info.get("voter") and info.get("healthy", True)
    ]
    return min(voters)[1] if voters else None


def leadership_moves(partitions: dict[int, dict]) -> list[tuple[int, int, int]]:
    """(partition, current leader, preferred leader) for each partition led by a replica other
    than its preferred one. `partitions` maps id -> {"leader": replica id or None,
    "members": {...}} as for `preferred_leader`. Partitions without a leader are skipped: an
    election is under way."""
    moves = []
    for partition, info in sorted(partitions.items()):
        leader = info.get("leader")
        if leader is None:
            continue
        target = preferred_leader(info["members"])
        if target is not None and target != leader:
            moves.append((partition, leader, target))
    return moves


def leaders_per_broker(leader_brokers: dict[int, int | None], brokers: list[int]) -> dict[int, int]:
    """How many partitions each broker leads (0 for brokers that lead none)."""
    counts = dict.fromkeys(brokers, 0)
    for broker in leader_brokers.values():
        if broker is not None:
            counts[broker] = counts.get(broker, 0) + 1
    return counts

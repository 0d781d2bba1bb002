"""Seeded simulation of a replicated partition: three replicas of one partition, clients with
request ids and retries, the Raft simulator's faults and the composition's own, and a history
checker. `python -m raybee.partitions.simulation SEED --trace` replays one seed."""

from .group import ReplicaGroup

__all__ = ["ReplicaGroup"]

"""Errors a partition replica raises to its host. Each names what was refused and why."""

from raybee.raft import NotLeaderError as RaftNotLeaderError


class ReplicaError(RuntimeError):
    """Base of the replica's own errors."""


class NotLeaderError(RaftNotLeaderError):
    """A command or admin request reached a replica that does not lead; `leader_id` names the
    leader when it is known. A subclass of raft's, so hosts that catch that catch this too."""

    def __init__(self, leader_id: int | None, message: str = "") -> None:
        Exception.__init__(self, message or f"not the leader (leader is {leader_id})")
        self.node_id = None
        self.leader_id = leader_id


class BackpressureError(ReplicaError):
    """Too much is in flight on this partition; `reason` says what. Nothing was accepted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplicaClosedError(ReplicaError):
    """The replica was closed (or crashed in a test) and takes no more calls."""

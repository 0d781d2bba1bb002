"""Errors of the Raft core. Each names what was refused and why."""


class RaftError(Exception):
    """Base of every error raised by raybee.raft."""


class NotLeaderError(RaftError):
    """A proposal or admin request reached a node that is not the leader."""

    def __init__(self, node_id: int, leader_id: int | None, what: str) -> None:
        super().__init__(
            f"node {node_id} cannot {what}: it is not the leader (leader is {leader_id})"
        )
        self.node_id = node_id
        self.leader_id = leader_id


class ProposalDroppedError(RaftError):
    """The leader refused a proposal (a transfer is in progress, or too much is uncommitted)."""


class ConfChangeError(RaftError):
    """A membership change was refused; the message says which rule it broke."""


class CompactedError(RaftError):
    """The requested log index lies at or before the last snapshot and is gone from the log."""


class UnavailableError(RaftError):
    """The requested log index lies after the last entry."""


class StorageError(RaftError):
    """A write to storage broke the log's rules (gap, rewrite of compacted entries, ...)."""

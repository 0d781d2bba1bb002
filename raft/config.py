"""Per-node Raft settings; defaults come from raft/constants.py."""

from __future__ import annotations

from dataclasses import dataclass

from . import constants


@dataclass(frozen=True, slots=True)
class RaftConfig:
    election_timeout_ticks: int = constants.election_timeout_ticks
    heartbeat_interval_ticks: int = constants.heartbeat_interval_ticks
    max_inflight_appends: int = constants.max_inflight_appends
    max_entries_per_append: int = constants.max_entries_per_append
    snapshot_chunk_bytes_max: int = constants.snapshot_chunk_bytes_max
    max_committed_entries_per_ready: int = constants.max_committed_entries_per_ready
    max_uncommitted_entries: int = constants.max_uncommitted_entries
    transfer_timeout_ticks: int = constants.transfer_timeout_ticks
    pre_vote: bool = True
    check_quorum: bool = True
    # A leader hands leadership to a caught-up voter of higher priority (spreads leaders).
    priority_transfer: bool = True

    def __post_init__(self) -> None:
        for name in (
            "election_timeout_ticks",
            "heartbeat_interval_ticks",
            "max_inflight_appends",
            "max_entries_per_append",
            "snapshot_chunk_bytes_max",
            "max_committed_entries_per_ready",
            "max_uncommitted_entries",
            "transfer_timeout_ticks",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"RaftConfig.{name} must be a positive int, got {value!r}")
        if self.election_timeout_ticks < 3 * self.heartbeat_interval_ticks:
            raise ValueError(
                f"RaftConfig: election_timeout_ticks ({self.election_timeout_ticks}) must be at "
                f"least 3 x heartbeat_interval_ticks ({self.heartbeat_interval_ticks})"
            )

"""Raft as a pure state machine: stdlib only, time in ticks, randomness passed in."""

from .config import RaftConfig
from .errors import (
    CompactedError,
    ConfChangeError,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
    StorageError,
    UnavailableError,
)
from .messages import (
    MESSAGE_TYPES,
    AppendRequest,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    Message,
    SnapshotChunk,
    SnapshotResponse,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from .node import RaftNode
from .storage import MemoryStorage, Storage, bootstrap, bootstrap_entry, check_append
from .types import (
    ConfChange,
    ConfChangeKind,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    ProgressState,
    ProgressView,
    Ready,
    Role,
    Snapshot,
    SnapshotMeta,
)


def persist_ready(storage: Storage, ready: Ready) -> None:
    """Step 1 of handling a Ready, in the durable order: snapshot, entries, flush, hard state."""
    if ready.snapshot is not None:
        storage.apply_snapshot(ready.snapshot)
    if ready.entries:
        storage.append(ready.entries)
    storage.flush()
    if ready.hard_state is not None:
        storage.set_hard_state(ready.hard_state)


__all__ = [
    "MESSAGE_TYPES",
    "AppendRequest",
    "AppendResponse",
    "CompactedError",
    "ConfChange",
    "ConfChangeError",
    "ConfChangeKind",
    "ConfState",
    "Entry",
    "EntryKind",
    "HardState",
    "Heartbeat",
    "HeartbeatResponse",
    "MemoryStorage",
    "Message",
    "NotLeaderError",
    "ProgressState",
    "ProgressView",
    "ProposalDroppedError",
    "RaftConfig",
    "RaftError",
    "RaftNode",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotChunk",
    "SnapshotMeta",
    "SnapshotResponse",
    "Storage",
    "StorageError",
    "TimeoutNow",
    "UnavailableError",
    "VoteRequest",
    "VoteResponse",
    "bootstrap",
    "bootstrap_entry",
    "check_append",
    "persist_ready",
]

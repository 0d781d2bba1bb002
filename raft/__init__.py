"""Raft as a pure state machine: stdlib only, time in ticks, randomness passed in.

A host (the broker, a test, the simulator) drives each replica like this:

    storage = ...                       # MemoryStorage, or partitions.raft_storage.JournalStorage
    bootstrap(storage, ConfState(voters=frozenset({1, 2, 3})))   # founding members only, once
    node = RaftNode(1, RaftConfig(), storage, random.Random(seed), applied=state_machine_index)

    every tick:          node.tick()
    on a message:        node.step(msg)               # msg.to == node.id
    on a client command: node.propose_many(batches)   # leader only; NotLeaderError names it
    then, while node.has_ready():
        rd = node.ready()
        persist_ready(storage, rd)      # snapshot, entries, flush (fsync), then hard state
        send(rd.messages)               # only now: they promise what was just persisted
        apply(rd.snapshot, rd.committed_entries)
        node.advance(rd)

A new replica starts with empty storage and no bootstrap; the leader adds it with
propose_conf_change(ConfChange(ADD_LEARNER, id)), it catches up (log or snapshot chunks), and
is promoted with PROMOTE once leader.progress()[id].match_index is close to the commit index.
A replica that lost its disk must come back under a new id in the same way (see testing.py).

Snapshots are the storage's: Raft holds a descriptor (meta + a handle) and moves snapshots in
chunks read from the leader's storage and handed to the follower's as they arrive (see
storage.py); the host creates one with storage.create_snapshot(index, conf, handle).
"""

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

"""The values Raft exchanges with its host: entries, hard state, membership, snapshots, Ready."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class EntryKind(enum.IntEnum):
    NORMAL = 0  # host data, opaque to raft
    NOOP = 1  # appended by every new leader so it can commit in its own term
    CONF = 2  # data is the complete new ConfState


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    term: int
    kind: EntryKind = EntryKind.NORMAL
    data: Any = None


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be durable before any message that depends on it is sent."""

    term: int = 0
    vote: int | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class ConfState:
    """Membership: voters, non-voting learners, and an election priority per member."""

    voters: frozenset[int] = frozenset()
    learners: frozenset[int] = frozenset()
    # (member, priority) pairs; higher wins elections first and attracts leadership.
    priorities: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        overlap = self.voters & self.learners
        if overlap:
            raise ValueError(f"ConfState: members {sorted(overlap)} are both voter and learner")
        members = self.voters | self.learners
        for member, _ in self.priorities:
            if member not in members:
                raise ValueError(f"ConfState: priority given for non-member {member}")

    @property
    def members(self) -> frozenset[int]:
        return self.voters | self.learners

    def priority(self, member: int) -> int:
        for m, p in self.priorities:
            if m == member:
                return p
        return 0

    def with_priority(self, member: int, priority: int) -> tuple[tuple[int, int], ...]:
        rest = tuple((m, p) for m, p in self.priorities if m != member)
        return tuple(sorted((*rest, (member, priority))))


class ConfChangeKind(enum.Enum):
    ADD_LEARNER = "add_learner"
    PROMOTE = "promote"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class ConfChange:
    kind: ConfChangeKind
    node_id: int
    priority: int = 0  # used by ADD_LEARNER


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    index: int = 0
    term: int = 0
    conf: ConfState = field(default_factory=ConfState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot as Raft holds it: its meta and a handle only the storage understands (bytes
    for MemoryStorage, a checkpoint's files for the journal storage). Raft never reads `data`:
    chunks are read from and handed to the storage (see storage.py)."""

    meta: SnapshotMeta = field(default_factory=SnapshotMeta)
    data: Any = b""


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"
    LEARNER = "learner"


class ProgressState(enum.Enum):
    PROBE = "probe"  # one append at a time until the follower's log position is found
    REPLICATE = "replicate"  # pipelined appends, up to max_inflight_appends
    SNAPSHOT = "snapshot"  # sending snapshot chunks; appends wait


@dataclass(frozen=True, slots=True)
class ProgressView:
    """A leader's view of one follower, for the supervisor."""

    node_id: int
    match_index: int
    next_index: int
    state: ProgressState
    inflight: int
    recent_active: bool
    is_learner: bool


@dataclass(frozen=True, slots=True)
class Ready:
    """Everything the host must do, in this order:

    1. persist `snapshot` (if any), then `entries` (truncating the log from entries[0].index),
       then flush, then persist `hard_state` (if any) atomically -- `persist_ready` does this;
    2. only then send `messages` (they may promise what step 1 stored);
    3. apply `snapshot` then `committed_entries` to the state machine;
    4. call `node.advance(ready)`.

    While step 1 runs (a slow fsync) the host may keep calling `step` and `tick`, but not
    `ready` again. A leader's AppendRequests are the one exception to step 2: they may leave
    while the leader's own step 1 runs, since a leader counts itself toward a quorum only for
    entries it has persisted (Raft thesis 10.2.1). The simulator exercises both.
    """

    hard_state: HardState | None
    entries: tuple[Entry, ...]
    snapshot: Snapshot | None
    committed_entries: tuple[Entry, ...]
    messages: tuple[Any, ...]

    def is_empty(self) -> bool:
        return (
            self.hard_state is None
            and not self.entries
            and self.snapshot is None
            and not self.committed_entries
            and not self.messages
        )

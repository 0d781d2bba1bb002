"""Messages between Raft nodes: frozen dataclasses, each with sender, receiver and term."""

from __future__ import annotations

from dataclasses import dataclass

from .types import Entry, SnapshotMeta


@dataclass(frozen=True, slots=True)
class VoteRequest:
    frm: int
    to: int
    term: int  # for a pre-vote: the term the sender would campaign in
    last_index: int
    last_term: int
    pre_vote: bool = False
    transfer: bool = False  # campaign ordered by the leader: ignore leases


@dataclass(frozen=True, slots=True)
class VoteResponse:
    frm: int
    to: int
    term: int
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendRequest:
    frm: int
    to: int
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@dataclass(frozen=True, slots=True)
class AppendResponse:
    frm: int
    to: int
    term: int
    success: bool
    index: int  # success: last index now known to match; failure: the rejected prev_index
    reject_hint: int = 0  # failure: where the leader should probe next


@dataclass(frozen=True, slots=True)
class Heartbeat:
    frm: int
    to: int
    term: int
    commit: int


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    frm: int
    to: int
    term: int


@dataclass(frozen=True, slots=True)
class SnapshotChunk:
    frm: int
    to: int
    term: int
    meta: SnapshotMeta
    offset: int
    data: bytes
    done: bool


@dataclass(frozen=True, slots=True)
class SnapshotResponse:
    frm: int
    to: int
    term: int
    snapshot_index: int
    next_offset: int  # what the follower expects next; with done, the install finished
    done: bool


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Sent by a leader to its chosen successor: campaign now."""

    frm: int
    to: int
    term: int


Message = (
    VoteRequest
    | VoteResponse
    | AppendRequest
    | AppendResponse
    | Heartbeat
    | HeartbeatResponse
    | SnapshotChunk
    | SnapshotResponse
    | TimeoutNow
)
MESSAGE_TYPES = (
    VoteRequest,
    VoteResponse,
    AppendRequest,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    SnapshotChunk,
    SnapshotResponse,
    TimeoutNow,
)

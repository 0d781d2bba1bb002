"""A leader's bookkeeping for one follower."""

from __future__ import annotations

from collections import deque

from ..types import ProgressState


class Progress:
    __slots__ = (
        "match",
        "next",
        "state",
        "probe_sent",
        "inflight",
        "recent_active",
        "snapshot_index",
        "snapshot_term",
        "snapshot_offset",
        "chunk_in_flight",
        "stalled_heartbeats",
    )

    def __init__(self, next_index: int) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.inflight: deque[int] = deque()  # last index of each append in flight, ascending
        self.recent_active = True
        self.snapshot_index = 0
        self.snapshot_term = 0
        self.snapshot_offset = 0
        self.chunk_in_flight = False
        self.stalled_heartbeats = 0  # heartbeat answers seen while the follower lags

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.snapshot_index + 1)
        else:
            self.next = self.match + 1
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.inflight.clear()
        self.chunk_in_flight = False

    def become_replicate(self) -> None:
        self.state = ProgressState.REPLICATE
        self.next = self.match + 1
        self.inflight.clear()

    def become_snapshot(self, index: int, term: int) -> None:
        self.state = ProgressState.SNAPSHOT
        self.snapshot_index = index
        self.snapshot_term = term
        self.snapshot_offset = 0
        self.chunk_in_flight = False
        self.inflight.clear()

    def update_match(self, index: int) -> bool:
        """Record that the follower holds our log up to `index`; True if that is news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
            self.stalled_heartbeats = 0
        self.next = max(self.next, index + 1)
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        return updated

    def sent_append(self, last_index: int, max_inflight: int) -> None:
        if self.state == ProgressState.REPLICATE:
            self.next = last_index + 1
            self.inflight.append(last_index)
            assert len(self.inflight) <= max_inflight
        else:
            assert self.state == ProgressState.PROBE
            self.probe_sent = True

    def can_send_append(self, max_inflight: int) -> bool:
        if self.state == ProgressState.PROBE:
            return not self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return len(self.inflight) < max_inflight
        return False

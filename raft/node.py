"""RaftNode: Raft as a pure state machine (no clock, no I/O, no threads).

The host feeds it messages (`step`), time (`tick`) and proposals (`propose`), then takes a
`Ready`, persists and sends what it says in the order it documents, and calls `advance`.
Roles swap the step and tick functions instead of branching on the role everywhere.

Membership changes are single-server and take effect when their entry is appended (Raft
dissertation §4.1); a leader proposes one only after every earlier change and an entry of its
own term have committed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from . import constants, quorum
from ._private.log import RaftLog
from ._private.progress import Progress
from .config import RaftConfig
from .errors import (
    ConfChangeError,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
    StorageError,
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
from .storage import Storage
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
)


class RaftNode:
    def __init__(
        self,
        id: int,
        config: RaftConfig,
        storage: Storage,
        rng: random.Random,
        *,
        applied: int | None = None,
    ) -> None:
        if not isinstance(rng, random.Random):
            raise TypeError(f"RaftNode {id}: rng must be a seeded random.Random, got {rng!r}")
        self.id = id
        self.config = config
        self.storage = storage
        self._rng = rng
        self._log = RaftLog(storage)
        self._msgs: list[Message] = []

        hard = storage.hard_state()
        snap = storage.snapshot_meta()
        # Membership is whatever the log says last: the snapshot's, then its conf entries.
        self._conf_history: list[tuple[int, ConfState]] = [(snap.index, snap.conf)]
        for index, conf in storage.conf_entries():
            assert index > self._conf_history[-1][0], (index, self._conf_history)
            self._conf_history.append((index, conf))
        self._conf = self._conf_history[-1][1]

        # The term file is written after the log is flushed, so a crash in between can leave
        # entries of a newer term than the stored one: adopt it (we did not vote in it).
        term, vote = hard.term, hard.vote
        if self._log.last_term() > term:
            term, vote = self._log.last_term(), None
        self._term = term
        self._vote = vote
        self._commit = max(hard.commit, snap.index)
        assert self._commit <= self._log.last_index(), (self._commit, self._log.last_index())
        if applied is None:
            applied = snap.index
        if not snap.index <= applied <= self._commit:
            raise ValueError(
                f"RaftNode {id}: applied={applied} must lie in [snapshot {snap.index}, "
                f"commit {self._commit}]"
            )
        self._applied = applied
        self._prev_hard_state = hard

        self._lead: int | None = None
        self._role = Role.FOLLOWER
        self._step_fn: Callable[[Message], None] = self._step_follower
        self._tick_fn: Callable[[], None] = self._tick_election
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_election_timeout = 0
        self._votes: dict[int, bool] = {}
        self._progress: dict[int, Progress] = {}
        self._self_match = 0
        self._pending_conf_index = 0
        self._commit_dirty = False
        self._lead_transferee: int | None = None
        self._transfer_elapsed = 0
        # The snapshot being received, (index, term), and the offset its storage expects next.
        self._receiving: tuple[tuple[int, int], int] | None = None
        self._become_follower(self._term, None)

    # ------------------------------------------------------------------ public: state

    @property
    def role(self) -> Role:
        return self._role

    @property
    def leader_id(self) -> int | None:
        return self._lead

    @property
    def term(self) -> int:
        return self._term

    @property
    def vote(self) -> int | None:
        return self._vote

    @property
    def commit_index(self) -> int:
        return self._commit

    @property
    def applied_index(self) -> int:
        return self._applied

    @property
    def last_index(self) -> int:
        return self._log.last_index()

    @property
    def conf(self) -> ConfState:
        return self._conf

    @property
    def voters(self) -> frozenset[int]:
        return self._conf.voters

    @property
    def learners(self) -> frozenset[int]:
        return self._conf.learners

    @property
    def members(self) -> frozenset[int]:
        return self._conf.members

    @property
    def hard_state(self) -> HardState:
        return HardState(self._term, self._vote, self._commit)

    @property
    def lead_transferee(self) -> int | None:
        return self._lead_transferee

    def conf_at(self, index: int) -> ConfState:
        """Membership in force at log `index` (for the ConfState of a snapshot taken there).

        Known from the node's snapshot on: a host compacts at its applied index only while that
        lies past `snapshot_index()` (which counts a received snapshot still being written)."""
        if index < self._conf_history[0][0]:
            raise RaftError(f"conf_at({index}): before the snapshot at {self._conf_history[0][0]}")
        conf = self._conf_history[0][1]
        for at, c in self._conf_history:
            if at > index:
                break
            conf = c
        return conf

    def progress(self) -> dict[int, ProgressView]:
        """The leader's view of every other member; empty unless this node leads."""
        if self._role != Role.LEADER:
            return {}
        return {
            peer: ProgressView(
                node_id=peer,
                match_index=pr.match,
                next_index=pr.next,
                state=pr.state,
                inflight=len(pr.inflight),
                recent_active=pr.recent_active,
                is_learner=peer in self._conf.learners,
            )
            for peer, pr in sorted(self._progress.items())
        }

    def term_at(self, index: int) -> int | None:
        """Term of the entry at `index`, or None if compacted away or not there."""
        return self._log.term_or_none(index)

    def snapshot_index(self) -> int:
        return self._log.snapshot_index()

    def entries(self, lo: int, hi: int) -> list[Entry]:
        """Log entries in [lo, hi), persisted or not."""
        return self._log.entries(lo, hi)

    # ------------------------------------------------------------------ public: inputs

    def tick(self) -> None:
        self._tick_fn()

    def campaign(self) -> None:
        """Start an election now (a pre-vote first when enabled); no-op for non-voters."""
        if self._role != Role.LEADER:
            self._campaign(transfer=False)

    def propose(self, data: Any) -> int:
        """Append `data` as a new entry; returns its index. Only on the leader."""
        return self.propose_many([data])[0]

    def propose_many(self, datas: Iterable[Any]) -> list[int]:
        """Append one entry per item (they ride the same appends); returns their indexes."""
        self._check_can_propose("propose")
        datas = list(datas)
        if not datas:
            return []
        last = self._log.last_index()
        if last + len(datas) - self._commit > self.config.max_uncommitted_entries:
            raise ProposalDroppedError(
                f"node {self.id}: {last - self._commit} entries are uncommitted; adding "
                f"{len(datas)} would pass max_uncommitted_entries="
                f"{self.config.max_uncommitted_entries}"
            )
        entries = [
            Entry(index=last + 1 + i, term=self._term, kind=EntryKind.NORMAL, data=d)
            for i, d in enumerate(datas)
        ]
        self._append(entries)
        return [e.index for e in entries]

    def propose_conf_change(self, change: ConfChange) -> int:
        """Append a single-server membership change; returns its index. Only on the leader."""
        self._check_can_propose("change membership")
        if self._commit < self._pending_conf_index:
            raise ConfChangeError(
                f"node {self.id}: the previous membership change (or this leader's first entry) "
                f"at {self._pending_conf_index} is not committed yet (commit {self._commit})"
            )
        new_conf = self._changed_conf(change)
        entry = Entry(self._log.last_index() + 1, self._term, EntryKind.CONF, new_conf)
        self._append([entry])
        self._pending_conf_index = entry.index
        return entry.index

    def transfer_leadership(self, target: int) -> None:
        """Hand leadership to voter `target` once it has our whole log. Only on the leader."""
        if self._role != Role.LEADER:
            raise NotLeaderError(self.id, self._lead, f"transfer leadership to {target}")
        if target == self.id:
            return
        if target not in self._conf.voters:
            raise RaftError(
                f"node {self.id}: cannot transfer leadership to {target}: it is not a voter "
                f"(voters {sorted(self._conf.voters)})"
            )
        if self._lead_transferee == target:
            return
        self._lead_transferee = target
        self._transfer_elapsed = 0
        if self._progress[target].match == self._log.last_index():
            self._send(TimeoutNow(self.id, target, self._term))

    def step(self, msg: Message) -> None:
        if not isinstance(msg, MESSAGE_TYPES):
            raise TypeError(f"node {self.id}: step() takes a raft message, got {type(msg)!r}")
        if msg.to != self.id:
            raise ValueError(f"node {self.id}: message addressed to {msg.to}: {msg!r}")
        if msg.term > self._term:
            if isinstance(msg, VoteRequest) and not msg.transfer and self._in_lease():
                return  # a live leader exists: a disruptive node must not raise our term
            if isinstance(msg, VoteRequest) and msg.pre_vote:
                pass  # a pre-vote never changes our term
            elif isinstance(msg, VoteResponse) and msg.pre_vote and msg.granted:
                pass  # carries the term we would campaign in
            elif isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk):
                self._become_follower(msg.term, msg.frm)
            elif isinstance(msg, VoteRequest):
                # Only a granted vote restarts the election timer (Raft §5.2): a candidate
                # that cannot win (stale log) must not keep everyone else from timing out.
                elapsed = self._election_elapsed
                self._become_follower(msg.term, None)
                self._election_elapsed = elapsed
            else:
                self._become_follower(msg.term, None)
        elif msg.term < self._term:
            if isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk):
                # A stale leader (e.g. healed from a partition) learns the newer term.
                self._send(HeartbeatResponse(self.id, msg.frm, self._term))
            elif isinstance(msg, VoteRequest) and msg.pre_vote:
                self._send(VoteResponse(self.id, msg.frm, self._term, False, pre_vote=True))
            return
        if isinstance(msg, VoteRequest):
            self._handle_vote_request(msg)
            return
        self._step_fn(msg)

    # ------------------------------------------------------------------ public: Ready

    def has_ready(self) -> bool:
        self._flush_leader_sends()
        return bool(
            self._msgs
            or self._log.unstable
            or self._log.unstable_snapshot is not None
            or self.hard_state != self._prev_hard_state
            or self._commit > self._applied
        )

    def ready(self) -> Ready:
        """What to persist, send and apply now. Call `advance` with it when done."""
        self._flush_leader_sends()
        hard = self.hard_state
        snap = self._log.unstable_snapshot
        lo = max(self._applied, snap.meta.index if snap is not None else 0) + 1
        committed: tuple[Entry, ...] = ()
        if self._commit >= lo:
            committed = tuple(
                self._log.entries(lo, self._commit + 1, self.config.max_committed_entries_per_ready)
            )
        rd = Ready(
            hard_state=hard if hard != self._prev_hard_state else None,
            entries=tuple(self._log.unstable),
            snapshot=snap,
            committed_entries=committed,
            messages=tuple(self._msgs),
        )
        self._msgs = []
        return rd

    def advance(self, rd: Ready) -> None:
        """The host persisted, sent and applied `rd` (in that order)."""
        if rd.hard_state is not None:
            self._prev_hard_state = rd.hard_state
        if rd.snapshot is not None:
            self._log.stable_snapshot_to(rd.snapshot.meta.index)
            self._applied = max(self._applied, rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            self._log.stable_to(last.index, last.term)
        if rd.committed_entries:
            self._applied = max(self._applied, rd.committed_entries[-1].index)
        assert self._applied <= self._commit, (self._applied, self._commit)
        if self._role == Role.LEADER:
            # The leader counts itself toward a quorum only for what it has persisted.
            self._self_match = max(self._self_match, self._log.stable_last_index())
            self._maybe_commit()

    # ------------------------------------------------------------------ roles

    def _reset(self, term: int) -> None:
        if term != self._term:
            self._term = term
            self._vote = None
        self._lead = None
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._reset_randomized_election_timeout()
        self._votes = {}
        self._progress = {}
        self._lead_transferee = None
        self._transfer_elapsed = 0
        self._pending_conf_index = 0

    def _become_follower(self, term: int, lead: int | None) -> None:
        self._reset(term)
        self._lead = lead
        self._role = Role.LEARNER if self.id in self._conf.learners else Role.FOLLOWER
        self._step_fn = self._step_follower
        self._tick_fn = self._tick_election

    def _become_pre_candidate(self) -> None:
        assert self._role != Role.LEADER
        self._votes = {}
        self._lead = None
        self._role = Role.PRE_CANDIDATE
        self._step_fn = self._step_candidate
        self._tick_fn = self._tick_election

    def _become_candidate(self) -> None:
        assert self._role != Role.LEADER
        self._reset(self._term + 1)
        self._vote = self.id
        self._role = Role.CANDIDATE
        self._step_fn = self._step_candidate
        self._tick_fn = self._tick_election

    def _become_leader(self) -> None:
        assert self._role == Role.CANDIDATE and self._vote == self.id
        self._reset(self._term)
        self._lead = self.id
        self._role = Role.LEADER
        self._step_fn = self._step_leader
        self._tick_fn = self._tick_heartbeat
        last = self._log.last_index()
        self._progress = {
            peer: self._new_progress(last + 1) for peer in sorted(self._conf.members - {self.id})
        }
        self._self_match = self._log.stable_last_index()
        noop = Entry(last + 1, self._term, EntryKind.NOOP, None)
        self._append([noop])
        # No membership change until this leader's first entry (and all before it) commit.
        self._pending_conf_index = noop.index

    def _new_progress(self, next_index: int) -> Progress:
        pr = Progress(next_index)
        pr.recent_active = False
        return pr

    def _promotable(self) -> bool:
        return self.id in self._conf.voters

    def _campaign(self, transfer: bool, skip_pre_vote: bool = False) -> None:
        if not self._promotable():
            return
        if self.config.pre_vote and not (transfer or skip_pre_vote):
            self._become_pre_candidate()
            vote_term = self._term + 1
        else:
            self._become_candidate()
            vote_term = self._term
        pre_vote = self._role == Role.PRE_CANDIDATE
        self._votes[self.id] = True
        if self._count_votes():
            return
        last_index, last_term = self._log.last_index(), self._log.last_term()
        for peer in sorted(self._conf.voters - {self.id}):
            self._send(
                VoteRequest(self.id, peer, vote_term, last_index, last_term, pre_vote, transfer)
            )

    def _count_votes(self) -> bool:
        """Act on the votes so far; True if the election is decided."""
        result = quorum.vote_result(self._conf.voters, self._votes)
        if result == quorum.VoteResult.WON:
            if self._role == Role.PRE_CANDIDATE:
                self._campaign(transfer=False, skip_pre_vote=True)  # the real election
            else:
                self._become_leader()
            return True
        if result == quorum.VoteResult.LOST:
            self._become_follower(self._term, None)
            return True
        return False

    def _in_lease(self) -> bool:
        return (
            self.config.check_quorum
            and self._lead is not None
            and self._election_elapsed < self.config.election_timeout_ticks
        )

    def _reset_randomized_election_timeout(self) -> None:
        timeout = self.config.election_timeout_ticks
        self._randomized_election_timeout = timeout + self._rng.randrange(timeout)

    def _priority_wait_ticks(self) -> int:
        """Members of lower priority wait a whole timeout longer per rank (capped at two), so
        the highest live priority campaigns first and wins unless it is down or behind. The
        leader this member last followed does not count: the timer only runs out once that
        leader went silent, and counting it made its best survivor wait a timeout for a member
        that is gone (a leader's node killed: campaigns 600-900 ms after the last heartbeat
        instead of 300-600 ms at a 300 ms timeout)."""
        mine = self._conf.priority(self.id)
        rank = sum(
            1 for v in self._conf.voters if v != self._lead and self._conf.priority(v) > mine
        )
        return min(rank, 2) * self.config.election_timeout_ticks

    # ------------------------------------------------------------------ ticks

    def _tick_election(self) -> None:
        self._election_elapsed += 1
        if (
            self._promotable()
            and self._election_elapsed
            >= self._randomized_election_timeout + self._priority_wait_ticks()
        ):
            self._election_elapsed = 0
            self._campaign(transfer=False)

    def _tick_heartbeat(self) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._lead_transferee is not None:
            self._transfer_elapsed += 1
            if self._transfer_elapsed >= self.config.transfer_timeout_ticks:
                self._lead_transferee = None  # abandoned: accept proposals again
        if self._election_elapsed >= self.config.election_timeout_ticks:
            self._election_elapsed = 0
            if self.config.check_quorum:
                active = [p for p, pr in self._progress.items() if pr.recent_active]
                active.append(self.id)
                if not quorum.has_quorum(self._conf.voters, active):
                    self._become_follower(self._term, None)
                    return
                for pr in self._progress.values():
                    pr.recent_active = False
        if self._heartbeat_elapsed >= self.config.heartbeat_interval_ticks:
            self._heartbeat_elapsed = 0
            for peer, pr in self._progress.items():
                self._send(Heartbeat(self.id, peer, self._term, min(pr.match, self._commit)))
        self._maybe_transfer_by_priority()

    def _maybe_transfer_by_priority(self) -> None:
        if self._lead_transferee is not None or self._log.term(self._commit) != self._term:
            return
        removing_self = self.id not in self._conf.voters
        if not (self.config.priority_transfer or removing_self):
            return
        last = self._log.last_index()
        mine = -1 if removing_self else self._conf.priority(self.id)
        best, best_priority = None, mine
        for peer in sorted(self._conf.voters - {self.id}):
            pr = self._progress[peer]
            priority = self._conf.priority(peer)
            if pr.recent_active and pr.match == last and priority > best_priority:
                best, best_priority = peer, priority
        if best is not None:
            self.transfer_leadership(best)

    # ------------------------------------------------------------------ steps per role

    def _step_follower(self, msg: Message) -> None:
        if isinstance(msg, AppendRequest):
            self._heard_from_leader(msg.frm)
            self._handle_append(msg)
        elif isinstance(msg, Heartbeat):
            self._heard_from_leader(msg.frm)
            self._commit_to(min(msg.commit, self._log.last_index()))
            self._send(HeartbeatResponse(self.id, msg.frm, self._term))
        elif isinstance(msg, SnapshotChunk):
            self._heard_from_leader(msg.frm)
            self._handle_snapshot_chunk(msg)
        elif isinstance(msg, TimeoutNow):
            self._campaign(transfer=True)
        # Responses meant for a leader or candidate we no longer are: ignore.

    def _heard_from_leader(self, leader: int) -> None:
        self._election_elapsed = 0
        self._lead = leader

    def _step_candidate(self, msg: Message) -> None:
        if isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk):
            # A leader of our term exists (for a pre-candidate: of the current term).
            self._become_follower(self._term, msg.frm)
            self._step_follower(msg)
        elif isinstance(msg, VoteResponse):
            if msg.pre_vote != (self._role == Role.PRE_CANDIDATE):
                return
            if msg.frm not in self._votes:
                self._votes[msg.frm] = msg.granted
            self._count_votes()

    def _step_leader(self, msg: Message) -> None:
        assert not isinstance(msg, AppendRequest | Heartbeat | SnapshotChunk), (
            f"node {self.id}: two leaders in term {self._term}: {msg!r}"
        )
        pr = self._progress.get(msg.frm)
        if pr is None:
            return  # not (or no longer) a member
        if isinstance(msg, AppendResponse):
            pr.recent_active = True
            self._handle_append_response(msg.frm, pr, msg)
        elif isinstance(msg, HeartbeatResponse):
            pr.recent_active = True
            pr.probe_sent = False  # a lost probe is sent again
            stalled = pr.state == ProgressState.SNAPSHOT or pr.match < self._log.last_index()
            pr.stalled_heartbeats = pr.stalled_heartbeats + 1 if stalled else 0
            if pr.stalled_heartbeats >= constants.replicate_stall_heartbeats:
                # Appends or a chunk were probably lost: start over from what is known.
                pr.stalled_heartbeats = 0
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                elif pr.state == ProgressState.SNAPSHOT:
                    pr.chunk_in_flight = False
        elif isinstance(msg, SnapshotResponse):
            pr.recent_active = True
            self._handle_snapshot_response(pr, msg)

    # ------------------------------------------------------------------ replication: follower

    def _handle_append(self, m: AppendRequest) -> None:
        prev_index, prev_term, entries = m.prev_index, m.prev_term, m.entries
        if prev_index < self._commit:
            # Entries up to our commit are settled (and equal the leader's): skip them.
            skip = self._commit - prev_index
            if len(entries) <= skip:
                self._send(AppendResponse(self.id, m.frm, self._term, True, self._commit))
                return
            prev_index, prev_term = self._commit, self._log.term(self._commit)
            assert entries[skip - 1].term == prev_term, (entries[skip - 1], prev_term)
            entries = entries[skip:]
        if self._log.matches(prev_index, prev_term):
            last_new = prev_index + len(entries)
            conflict = self._log.find_conflict(entries)
            if conflict:
                assert conflict > self._commit, (conflict, self._commit)
                self._append(list(entries[conflict - entries[0].index :]))
            self._commit_to(min(m.commit, last_new))
            self._send(AppendResponse(self.id, m.frm, self._term, True, last_new))
            return
        hint = min(m.prev_index, self._log.last_index())
        while hint > self._commit:
            term = self._log.term_or_none(hint)
            if term is None or term <= m.prev_term:
                break
            hint -= 1
        self._send(AppendResponse(self.id, m.frm, self._term, False, m.prev_index, hint))

    def _handle_snapshot_chunk(self, m: SnapshotChunk) -> None:
        meta = m.meta
        if meta.index <= self._commit:
            self._receiving = None
            self._send(SnapshotResponse(self.id, m.frm, self._term, meta.index, 0, True))
            return
        key = (meta.index, meta.term)
        if self._receiving is None or self._receiving[0] != key:
            if m.offset != 0:
                self._send(SnapshotResponse(self.id, m.frm, self._term, meta.index, 0, False))
                return
            self._receiving = (key, 0)
        expected = self._receiving[1]
        if m.offset != expected:
            self._send(SnapshotResponse(self.id, m.frm, self._term, meta.index, expected, False))
            return
        try:
            # The storage keeps the chunk (checked) and, with the last, verifies the snapshot.
            next_offset, snapshot = self.storage.receive_snapshot_chunk(
                meta, m.offset, m.data, m.done
            )
        except StorageError:
            self._receiving = None  # damaged on the way: the transfer starts over
            self._send(SnapshotResponse(self.id, m.frm, self._term, meta.index, 0, False))
            return
        self._receiving = (key, next_offset)
        if snapshot is None:
            assert not m.done, f"node {self.id}: storage kept the last chunk of {meta} unfinished"
            self._send(SnapshotResponse(self.id, m.frm, self._term, meta.index, next_offset, False))
            return
        self._receiving = None
        self._restore(snapshot)
        self._send(SnapshotResponse(self.id, m.frm, self._term, meta.index, next_offset, True))

    def _restore(self, snap: Snapshot) -> None:
        meta = snap.meta
        assert meta.index > self._commit
        if self._log.matches(meta.index, meta.term):
            self._commit_to(meta.index)  # we already hold it: just move commit forward
            return
        self._log.restore(snap)
        self._commit = meta.index
        self._conf_history = [(meta.index, meta.conf)]
        self._set_conf(meta.conf)

    def _commit_to(self, index: int) -> None:
        if index > self._commit:
            assert index <= self._log.last_index(), (index, self._log.last_index())
            self._commit = index

    # ------------------------------------------------------------------ replication: leader

    def _handle_append_response(self, peer: int, pr: Progress, m: AppendResponse) -> None:
        if m.success:
            updated = pr.update_match(m.index)
            if pr.state == ProgressState.PROBE and m.index >= pr.match:
                pr.become_replicate()  # we know where its log ends: pipeline from there
            elif pr.state == ProgressState.SNAPSHOT and pr.match >= pr.snapshot_index:
                pr.become_probe()
                pr.become_replicate()
            if updated:
                self._maybe_commit()
            if self._lead_transferee == peer and pr.match == self._log.last_index():
                self._send(TimeoutNow(self.id, peer, self._term))
            return
        if pr.state == ProgressState.REPLICATE:
            if m.index <= pr.match:
                return  # stale
            pr.become_probe()
        elif pr.state == ProgressState.PROBE:
            if m.index != pr.next - 1:
                return  # stale: answers an earlier probe
        else:
            return
        pr.next = max(pr.match + 1, min(m.reject_hint + 1, m.index))
        pr.probe_sent = False

    def _handle_snapshot_response(self, pr: Progress, m: SnapshotResponse) -> None:
        if m.done:
            pr.update_match(m.snapshot_index)
            if pr.state == ProgressState.SNAPSHOT:
                pr.become_probe()
            self._maybe_commit()
            return
        if pr.state == ProgressState.SNAPSHOT and m.snapshot_index == pr.snapshot_index:
            pr.snapshot_offset = m.next_offset
            pr.chunk_in_flight = False
            pr.stalled_heartbeats = 0

    def _maybe_commit(self) -> None:
        if self._role != Role.LEADER:
            return
        matches = {peer: pr.match for peer, pr in self._progress.items()}
        matches[self.id] = self._self_match
        index = quorum.committed_index(self._conf.voters, matches)
        # Only an entry of the current term commits by counting replicas (Raft §5.4.2).
        if index > self._commit and self._log.term(index) == self._term:
            self._commit = index
            self._commit_dirty = True
            if self.id not in self._conf.voters and index >= self._conf_history[-1][0]:
                self._become_follower(self._term, None)  # our own removal has committed

    def _flush_leader_sends(self) -> None:
        """Send appends/snapshot chunks to every follower the window allows (batched)."""
        if self._role != Role.LEADER:
            return
        last = self._log.last_index()
        max_inflight = self.config.max_inflight_appends
        for peer, pr in self._progress.items():
            if pr.state == ProgressState.SNAPSHOT:
                self._maybe_send_chunk(peer, pr)
                continue
            sent = False
            while pr.can_send_append(max_inflight):
                has_entries = pr.next <= last
                needs_empty = not sent and (pr.state == ProgressState.PROBE or self._commit_dirty)
                if not (has_entries or needs_empty):
                    break
                if not self._send_append(peer, pr):
                    break
                sent = True
                if pr.state != ProgressState.REPLICATE:
                    break
        self._commit_dirty = False

    def _send_append(self, peer: int, pr: Progress) -> bool:
        prev = pr.next - 1
        prev_term = self._log.term_or_none(prev)
        if prev_term is None:
            # The entries this follower needs are compacted away: send the snapshot instead.
            meta = self.storage.snapshot_meta()
            pr.become_snapshot(meta.index, meta.term)
            self._maybe_send_chunk(peer, pr)
            return False
        entries = self._log.entries(
            pr.next, self._log.last_index() + 1, self.config.max_entries_per_append
        )
        self._send(
            AppendRequest(self.id, peer, self._term, prev, prev_term, tuple(entries), self._commit)
        )
        pr.sent_append(prev + len(entries), self.config.max_inflight_appends)
        return True

    def _maybe_send_chunk(self, peer: int, pr: Progress) -> None:
        if pr.chunk_in_flight:
            return
        meta = self.storage.snapshot_meta()
        if meta.index != pr.snapshot_index:
            pr.become_snapshot(meta.index, meta.term)  # a newer snapshot: restart
        offset = pr.snapshot_offset
        chunk, done = self.storage.snapshot_chunk(
            meta, offset, self.config.snapshot_chunk_bytes_max
        )
        self._send(SnapshotChunk(self.id, peer, self._term, meta, offset, chunk, done))
        pr.chunk_in_flight = True

    # ------------------------------------------------------------------ votes

    def _handle_vote_request(self, m: VoteRequest) -> None:
        can_vote = (
            self._vote == m.frm
            or (self._vote is None and self._lead is None)
            or (m.pre_vote and m.term > self._term)
        )
        granted = can_vote and self._log.is_up_to_date(m.last_index, m.last_term)
        if granted and not m.pre_vote:
            self._vote = m.frm
            self._election_elapsed = 0
        term = m.term if granted else self._term
        self._send(VoteResponse(self.id, m.frm, term, granted, m.pre_vote))

    # ------------------------------------------------------------------ log and membership

    def _append(self, entries: list[Entry]) -> None:
        """Every change to the log goes through here, so membership follows the log."""
        first = entries[0].index
        while self._conf_history[-1][0] >= first:
            assert len(self._conf_history) > 1, "truncating below the snapshot"
            self._conf_history.pop()
        self._log.append(entries)
        for entry in entries:
            if entry.kind == EntryKind.CONF:
                assert isinstance(entry.data, ConfState), entry
                self._conf_history.append((entry.index, entry.data))
        self._set_conf(self._conf_history[-1][1])

    def _set_conf(self, conf: ConfState) -> None:
        if conf == self._conf:
            return
        self._conf = conf
        if self._role == Role.LEADER:
            last = self._log.last_index()
            for peer in sorted(conf.members - {self.id}):
                if peer not in self._progress:
                    pr = self._new_progress(last)
                    pr.recent_active = True  # give it a chance before check-quorum counts it
                    self._progress[peer] = pr
            for peer in list(self._progress):
                if peer not in conf.members:
                    del self._progress[peer]
            if self._lead_transferee is not None and self._lead_transferee not in conf.voters:
                self._lead_transferee = None
            self._maybe_commit()  # a smaller quorum may already hold more
        elif self._role in (Role.FOLLOWER, Role.LEARNER):
            self._role = Role.LEARNER if self.id in conf.learners else Role.FOLLOWER
        elif self.id not in conf.voters:
            self._become_follower(self._term, None)

    def _changed_conf(self, change: ConfChange) -> ConfState:
        conf, node = self._conf, change.node_id
        if change.kind == ConfChangeKind.ADD_LEARNER:
            if node in conf.members:
                raise ConfChangeError(f"add_learner {node}: already a member of {_show(conf)}")
            return ConfState(
                conf.voters, conf.learners | {node}, conf.with_priority(node, change.priority)
            )
        if change.kind == ConfChangeKind.PROMOTE:
            if node not in conf.learners:
                raise ConfChangeError(f"promote {node}: not a learner in {_show(conf)}")
            return ConfState(conf.voters | {node}, conf.learners - {node}, conf.priorities)
        if change.kind == ConfChangeKind.REMOVE:
            if node not in conf.members:
                raise ConfChangeError(f"remove {node}: not a member of {_show(conf)}")
            if conf.voters == {node}:
                raise ConfChangeError(f"remove {node}: it is the last voter")
            return ConfState(
                conf.voters - {node},
                conf.learners - {node},
                tuple((m, p) for m, p in conf.priorities if m != node),
            )
        raise ConfChangeError(f"unknown membership change {change!r}")

    def _check_can_propose(self, what: str) -> None:
        if self._role != Role.LEADER:
            raise NotLeaderError(self.id, self._lead, what)
        if self._lead_transferee is not None:
            raise ProposalDroppedError(
                f"node {self.id}: cannot {what}: leadership is moving to {self._lead_transferee}"
            )

    def _send(self, msg: Message) -> None:
        self._msgs.append(msg)


def _show(conf: ConfState) -> str:
    return f"voters={sorted(conf.voters)} learners={sorted(conf.learners)}"

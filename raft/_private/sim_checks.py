"""The simulator's safety invariants, checked at the moment each can first be broken.

The simulator calls the hooks below as things happen (a node started, a message stepped, a Ready
taken, a write about to become durable, ...). Each check names the invariant it guards; a broken
one calls `sim.fail(what, invariant)`, which raises with the seed and the trace.

Invariants:
  one leader per term; a leader is a voter and holds every committed entry when elected;
  a leader never rewrites its own log while it leads;
  one vote per term (what is sent, and what is stored);
  committed entries agree on every node; a node applies only what it has committed;
  at the moment an entry first commits: it is on disk on a majority of the committing leader's
    voters, and no voter lacking it could win an election (every log that could collect a
    majority of votes holds it) -- counting replicas of an earlier-term entry breaks this;
  the commit index and the term of a node never go back (in memory, and as stored); the stored
    commit index never points past the log on disk, nor at an entry that is not committed;
  a disk never loses a committed entry it held (no truncation, no snapshot install over it);
  persist_ready leaves nothing unflushed before messages go out;
  a term exists only once a candidate started it (a pre-vote never raises anyone's term);
  a message of an older term changes nothing; one of a newer term is adopted at once;
  with check-quorum, a leader that has not heard from a quorum of voters for two election
    timeouts of its own ticks has stepped down;
  membership changes one at a time: a change is appended only after every earlier change in
    that log, and an entry of the leader's own term, have committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from .. import quorum
from ..messages import (
    AppendResponse,
    HeartbeatResponse,
    Message,
    SnapshotChunk,
    SnapshotResponse,
    VoteRequest,
    VoteResponse,
)
from ..types import Entry, EntryKind, HardState, Ready, Role, Snapshot

if TYPE_CHECKING:
    from ..node import RaftNode
    from ..testing import Simulator
    from .sim_disk import SimDisk


class LogVersion(NamedTuple):
    """A log as an election sees it (last entry), and a way to ask what it holds."""

    last_index: int
    last_term: int
    snapshot_index: int
    term_at: object  # Callable[[int], int | None]

    def holds(self, index: int, term: int) -> bool:
        return index <= self.snapshot_index or self.term_at(index) == term  # type: ignore[operator]

    def at_least_as_new_as(self, other: LogVersion) -> bool:
        return self.last_term > other.last_term or (
            self.last_term == other.last_term and self.last_index >= other.last_index
        )


class LogEnd(NamedTuple):
    index: int
    term: int


class NodeView(NamedTuple):
    """What a stale message must not change."""

    term: int
    vote: int | None
    commit: int
    last_index: int
    last_term: int | None
    role: Role


def _value(entry: Entry) -> tuple[int, int, object]:
    return (entry.term, int(entry.kind), entry.data)


class Checker:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.leaders: dict[int, int] = {}  # term -> leader id
        self.votes: dict[tuple[int, int], int] = {}  # (voter, term) -> candidate
        self.committed: dict[int, tuple[int, int, object]] = {}  # index -> (term, kind, data)
        self.commit_max = 0  # the highest index committed anywhere
        # (term, highest index first committed in that term), terms ascending: a leader of
        # term T must hold what was committed in the terms before T (Leader Completeness).
        self.commit_tops: list[tuple[int, int]] = []
        self.checked_commit: dict[int, int] = {}  # node -> compared with `committed` up to here
        self.commit_seen: dict[int, int] = {}  # node -> commit index, this process lifetime
        self.term_seen: dict[int, int] = {}  # node -> term, this process lifetime
        self.started_terms: set[int] = {0, 1}  # terms some candidate started (1: bootstrap)
        self.leader_tails: dict[int, tuple[int, int, list[Entry]]] = {}  # id -> term, base, log
        self.local_ticks: dict[int, int] = {}  # node -> ticks it has taken (its own clock)
        self.heard: dict[int, dict[int, int]] = {}  # leader -> peer -> local tick of last answer
        self.led_since: dict[int, int] = {}  # leader -> local tick it was elected or conf changed
        self.leader_conf: dict[int, object] = {}  # leader -> membership last seen
        self.holds_snapshot = False  # the node stepping a last snapshot chunk holds its index
        # (voter, candidate, term, pre-vote) -> the candidate's and the voter's last entry each
        # time the voter read such a request (copies may arrive apart): a grant must answer one
        # from a log at least as new as the voter's (Raft 5.4.1).
        self.vote_asks: dict[tuple[int, int, int, bool], list[tuple[LogEnd, LogEnd]]] = {}

    def fail(self, what: str, invariant: str) -> None:
        self.sim.fail(what, invariant)

    # ------------------------------------------------------------------ lifecycle

    def on_start(self, node: RaftNode) -> None:
        self.checked_commit[node.id] = node.snapshot_index()
        self.commit_seen[node.id] = node.commit_index
        self.term_seen[node.id] = node.term
        self.local_ticks.setdefault(node.id, 0)
        self._forget_leadership(node.id)
        self._check_commits(node, led=False, starting=True)

    def on_stop(self, node_id: int) -> None:
        self._forget_leadership(node_id)

    def _forget_leadership(self, node_id: int) -> None:
        self.leader_tails.pop(node_id, None)
        self.heard.pop(node_id, None)
        self.led_since.pop(node_id, None)
        self.leader_conf.pop(node_id, None)

    def on_tick(self, node: RaftNode) -> None:
        self.local_ticks[node.id] = self.local_ticks.get(node.id, 0) + 1

    # ------------------------------------------------------------------ after every event

    def after_event(self, node: RaftNode, was_leader: bool) -> bool:
        """Check `node` after it stepped, ticked or advanced; True if it was just elected."""
        self._check_term(node)
        elected = False
        if node.role == Role.LEADER:
            prior = self.leaders.setdefault(node.term, node.id)
            if prior != node.id:
                self.fail(f"two leaders in term {node.term}: {prior} and {node.id}", "one leader")
            if not was_leader or node.id not in self.leader_tails:
                elected = True
                self._on_elected(node)
            self._check_leader_tail(node)
            self._check_quorum_contact(node)
        elif node.id in self.leader_tails:
            self._forget_leadership(node.id)
        self._check_commits(node, led=was_leader or node.role == Role.LEADER)
        return elected

    def _check_term(self, node: RaftNode) -> None:
        if node.term < self.term_seen[node.id]:
            self.fail(
                f"node {node.id}'s term went back from {self.term_seen[node.id]} to {node.term}",
                "term never goes back",
            )
        self.term_seen[node.id] = node.term
        if node.term not in self.started_terms:
            if node.vote != node.id:  # only a candidate votes for itself
                self.fail(
                    f"node {node.id} is at term {node.term}, which no candidate started",
                    "terms come from candidates",
                )
            self.started_terms.add(node.term)

    def _on_elected(self, node: RaftNode) -> None:
        if node.id not in node.voters:
            self.fail(
                f"node {node.id} leads term {node.term} but is not a voter of "
                f"{sorted(node.voters)}",
                "leaders are voters",
            )
        top = max((i for t, i in self.commit_tops if t < node.term), default=0)
        if top:
            if node.last_index < top:
                self.fail(
                    f"leader {node.id} of term {node.term} (last {node.last_index}) lacks entry "
                    f"{top}, committed in an earlier term",
                    "leader completeness",
                )
            for index in range(node.snapshot_index() + 1, top + 1):
                if index in self.committed and node.term_at(index) != self.committed[index][0]:
                    self.fail(
                        f"leader {node.id} of term {node.term} has a different entry at index "
                        f"{index}, committed in an earlier term",
                        "leader completeness",
                    )
        base = node.commit_index + 1
        self.leader_tails[node.id] = (node.term, base, node.entries(base, node.last_index + 1))
        now = self.local_ticks.get(node.id, 0)
        self.heard[node.id] = {}
        self.led_since[node.id] = now
        self.leader_conf[node.id] = node.conf

    def _check_leader_tail(self, node: RaftNode) -> None:
        """While it leads, a leader's log only grows (compared above its commit index; what
        is committed the commit checks compare)."""
        term, base, kept = self.leader_tails[node.id]
        if term != node.term:
            self._on_elected(node)
            return
        hi = base + len(kept)
        if hi - 1 > node.last_index:
            self.fail(
                f"leader {node.id} (term {term}) dropped entries {node.last_index + 1}..{hi - 1} "
                f"of its own log",
                "leaders never rewrite their log",
            )
        lo = max(base, node.snapshot_index() + 1)
        have = node.entries(lo, hi)
        if have != kept[lo - base :]:
            at = next(
                i for i, (a, b) in enumerate(zip(have, kept[lo - base :], strict=True)) if a != b
            )
            self.fail(
                f"leader {node.id} (term {term}) rewrote its own entry {lo + at}: "
                f"{kept[lo - base + at]} became {have[at]}",
                "leaders never rewrite their log",
            )
        new_base = max(lo, node.commit_index + 1)
        kept = kept[new_base - base :] + node.entries(max(hi, new_base), node.last_index + 1)
        self.leader_tails[node.id] = (term, new_base, kept)

    def _check_quorum_contact(self, node: RaftNode) -> None:
        """A leader checks for a quorum every election timeout of its ticks, counting the
        voters that answered since the previous check; so after two timeouts without a quorum
        of answers it must have stepped down."""
        if not self.sim.raft_config.check_quorum:
            return
        now = self.local_ticks.get(node.id, 0)
        if node.conf != self.leader_conf[node.id]:
            self.leader_conf[node.id] = node.conf
            self.led_since[node.id] = now  # the voters counted changed: start over
        window = 2 * self.sim.raft_config.election_timeout_ticks
        if now - self.led_since[node.id] <= window:
            return
        heard = {peer for peer, at in self.heard[node.id].items() if at >= now - window}
        heard.add(node.id)
        if not quorum.has_quorum(node.voters, heard):
            self.fail(
                f"leader {node.id} (term {node.term}, check-quorum on) still leads after "
                f"{window} of its ticks with answers from {sorted(heard & node.voters)} only "
                f"(voters {sorted(node.voters)})",
                "check-quorum",
            )

    # ------------------------------------------------------------------ commits

    def _check_commits(self, node: RaftNode, led: bool, starting: bool = False) -> None:
        """`led`: the node led when the event began (a leader whose own removal commits
        steps down in the same call)."""
        if node.commit_index < self.commit_seen[node.id]:
            self.fail(
                f"node {node.id}'s commit index went back from {self.commit_seen[node.id]} "
                f"to {node.commit_index}",
                "commit index never goes back",
            )
        self.commit_seen[node.id] = node.commit_index
        lo = max(self.checked_commit[node.id], node.snapshot_index()) + 1
        if node.commit_index < lo:
            return
        first_commit = node.commit_index > self.commit_max
        for entry in node.entries(lo, node.commit_index + 1):
            self.check_committed_entry(node.id, entry)
        self.checked_commit[node.id] = node.commit_index
        if first_commit:
            self._check_new_commit(node, node.commit_index, led, starting)
            self.commit_max = node.commit_index
            if self.commit_tops and self.commit_tops[-1][0] == node.term:
                self.commit_tops[-1] = (node.term, node.commit_index)
            else:
                self.commit_tops.append((node.term, node.commit_index))

    def check_committed_entry(self, node_id: int, entry: Entry) -> None:
        value = _value(entry)
        prior = self.committed.setdefault(entry.index, value)
        if prior != value:
            self.fail(
                f"committed entry {entry.index} differs: {prior} before, node {node_id} has "
                f"{value}",
                "committed entries agree",
            )

    def _check_new_commit(self, node: RaftNode, index: int, led: bool, starting: bool) -> None:
        """`index` (and what is below it) has just committed for the first time, on `node`
        (`starting`: read from its disk, which only the founding members' bootstrap does)."""
        term = self.committed[index][0]
        voters = node.voters
        need = quorum.majority(len(voters))
        holders = [v for v in sorted(voters) if self._durable_version(v).holds(index, term)]
        if len(holders) < need:
            self.fail(
                f"node {node.id} committed entry {index} (term {term}) while it is on disk on "
                f"{holders} only, not on a majority of voters {sorted(voters)}",
                "committed entries are on disk on a majority",
            )
        retired = self.sim.retired
        electable = [v for v in sorted(voters) if v not in retired]
        versions = {v: self._versions(v) for v in electable}
        for candidate in electable:
            for mine in versions[candidate]:
                if mine.holds(index, term):
                    continue
                electors = [
                    u
                    for u in electable
                    if u == candidate or any(mine.at_least_as_new_as(o) for o in versions[u])
                ]
                if len(electors) >= need:
                    self.fail(
                        f"node {node.id} committed entry {index} (term {term}) although voter "
                        f"{candidate} lacks it (log ends {mine.last_index}/{mine.last_term}) "
                        f"and could be elected by {electors}",
                        "committed entries are in every electable log",
                    )
        # The rule that keeps the above true (Raft 5.4.2), checked on its own because breaking
        # it is harmful only in rare states (figure 8), yet always a bug.
        if not starting and not (led and term == node.term):
            self.fail(
                f"node {node.id} ({node.role.value}, term {node.term}) was the first to commit "
                f"entry {index} of term {term}: only a leader commits, by counting replicas of "
                f"an entry of its own term",
                "commit by counting own-term entries",
            )

    def _durable_version(self, node_id: int) -> LogVersion:
        disk = self.sim.disks.get(node_id)
        if disk is None:
            return LogVersion(0, 0, 0, lambda i: None)
        d = disk.durable
        last = d.last_index()
        snap = d.snapshot_meta().index

        def term_at(i: int, d=d, last=last, snap=snap) -> int | None:
            return d.term(i) if snap <= i <= last else None

        return LogVersion(last, d.term(last), snap, term_at)

    def _versions(self, node_id: int) -> list[LogVersion]:
        """The logs `node_id` could campaign or vote with: on disk, and in memory if running."""
        versions = [self._durable_version(node_id)]
        node = self.sim.nodes.get(node_id)
        if node is not None:
            last = node.last_index
            versions.append(
                LogVersion(last, node.term_at(last) or 0, node.snapshot_index(), node.term_at)
            )
        return versions

    # ------------------------------------------------------------------ messages

    def on_send(self, msg: Message) -> None:
        if not (isinstance(msg, VoteResponse) and msg.granted):
            return
        if not msg.pre_vote:
            prior = self.votes.setdefault((msg.frm, msg.term), msg.to)
            if prior != msg.to:
                self.fail(
                    f"node {msg.frm} voted for {prior} and {msg.to} in term {msg.term}",
                    "one vote per term",
                )
        asks = self.vote_asks.get((msg.frm, msg.to, msg.term, msg.pre_vote), [])
        if asks and not any(
            c.term > v.term or (c.term == v.term and c.index >= v.index) for c, v in asks
        ):
            c, v = asks[-1]
            self.fail(
                f"node {msg.frm} granted {'a pre-vote' if msg.pre_vote else 'its vote'} in term "
                f"{msg.term} to {msg.to}, whose log ends {c.index}/{c.term}, behind its own "
                f"{v.index}/{v.term}",
                "votes go to logs at least as new (election restriction)",
            )

    def view(self, node: RaftNode) -> NodeView:
        last = node.last_index
        return NodeView(
            node.term, node.vote, node.commit_index, last, node.term_at(last), node.role
        )

    def before_step(self, node: RaftNode, msg: Message) -> NodeView:
        if isinstance(msg, SnapshotChunk) and msg.done:
            meta = msg.meta
            self.holds_snapshot = node.term_at(meta.index) == meta.term > 0 and (
                node.last_index > meta.index
            )
        if (
            node.role == Role.LEADER
            and msg.term == node.term
            and isinstance(msg, AppendResponse | HeartbeatResponse | SnapshotResponse)
            and node.id in self.heard
        ):
            self.heard[node.id][msg.frm] = self.local_ticks.get(node.id, 0)
        return self.view(node)

    def after_step(self, node: RaftNode, msg: Message, before: NodeView) -> None:
        if isinstance(msg, VoteRequest):
            key = (node.id, msg.frm, msg.term, msg.pre_vote)
            ask = (
                LogEnd(msg.last_index, msg.last_term),
                LogEnd(before.last_index, before.last_term or 0),
            )
            self.vote_asks.setdefault(key, []).append(ask)
        dropped = self.holds_snapshot and node.last_index < before.last_index
        if isinstance(msg, SnapshotChunk) and msg.done and dropped:  # Raft figure 13
            self.fail(
                f"node {node.id} installed snapshot {msg.meta.index} over a log that held "
                f"it, dropping entries {node.last_index + 1}..{before.last_index}",
                "snapshots keep the log that follows them",
            )
        if msg.term < before.term:
            after = self.view(node)
            if after != before:
                changed = {
                    f: (a, b)
                    for f, a, b in zip(NodeView._fields, before, after, strict=True)
                    if a != b
                }
                self.fail(
                    f"a message of an older term (term {msg.term} < {before.term}) changed node "
                    f"{node.id}: {changed}; message {type(msg).__name__} from {msg.frm}",
                    "older terms change nothing",
                )
        elif msg.term > before.term and node.term < msg.term:
            exempt = isinstance(msg, VoteRequest) or (
                isinstance(msg, VoteResponse) and msg.pre_vote and msg.granted
            )
            if not exempt:  # a vote request may be ignored (lease, pre-vote); nothing else
                self.fail(
                    f"node {node.id} heard of term {msg.term} ({type(msg).__name__} from "
                    f"{msg.frm}) and stayed at term {node.term} as {node.role.value}",
                    "a newer term is adopted at once",
                )

    # ------------------------------------------------------------------ Ready

    def on_ready(self, node: RaftNode, rd: Ready) -> None:
        """Before the host persists `rd`: log matching, membership one change at a time."""
        for entry in rd.entries:
            self._check_log_matching(node, entry)
            if entry.kind == EntryKind.CONF:
                self._check_conf_entry(node, entry)

    def _check_log_matching(self, node: RaftNode, entry: Entry) -> None:
        """Log matching, checked pairwise as each entry is persisted (induction on index)."""
        for other_id, other in self.sim.nodes.items():
            if other_id == node.id or other.term_at(entry.index) != entry.term:
                continue
            if entry.index <= other.snapshot_index():
                continue  # compacted there; its snapshot term was compared above
            theirs = other.entries(entry.index, entry.index + 1)[0]
            if theirs != entry:
                self.fail(
                    f"log matching: {node.id} and {other_id} differ at {entry.index}",
                    "log matching",
                )
            before = entry.index - 1
            mine, their_prev = node.term_at(before), other.term_at(before)
            if mine is not None and their_prev is not None and mine != their_prev:
                self.fail(
                    f"log matching: {node.id}, {other_id} agree at {entry.index} not {before}",
                    "log matching",
                )

    def _check_conf_entry(self, node: RaftNode, entry: Entry) -> None:
        lo = max(self.commit_max, node.snapshot_index()) + 1
        earlier = [e.index for e in node.entries(lo, entry.index) if e.kind == EntryKind.CONF]
        if earlier:
            self.fail(
                f"node {node.id}'s log holds membership change {entry.index} while change "
                f"{earlier[0]} is not committed (committed up to {self.commit_max})",
                "one membership change at a time",
            )
        if node.role != Role.LEADER or entry.term != node.term:
            return
        first = entry.index  # the leader's first entry of its term (compacted: committed)
        while first - 1 >= node.snapshot_index() and node.term_at(first - 1) == node.term:
            first -= 1
        if first == entry.index or first > self.commit_max:
            self.fail(
                f"leader {node.id} appended membership change {entry.index} before an entry of "
                f"its term {node.term} committed (its first is {first}, committed up to "
                f"{self.commit_max})",
                "one membership change at a time",
            )

    def after_persist(self, disk: SimDisk) -> None:
        why = disk.out_of_sync()
        if why is not None:
            self.fail(
                f"node {disk.node_id}: persist_ready returned but not everything is durable: {why}",
                "persisted before sent",
            )

    def on_apply(self, node: RaftNode, entry: Entry) -> None:
        if entry.index > node.commit_index:
            self.fail(
                f"node {node.id} was handed entry {entry.index} to apply with commit index "
                f"{node.commit_index}",
                "only committed entries are applied",
            )
        self.check_committed_entry(node.id, entry)

    # ------------------------------------------------------------------ durable writes

    def before_durable_write(
        self, disk: SimDisk, first_index: int, entries: Sequence[Entry]
    ) -> None:
        d = disk.durable
        lo = max(first_index, d.snapshot_meta().index + 1)
        hi = min(d.last_index(), self.commit_max)
        for index in range(lo, hi + 1):
            want = self.committed.get(index)
            if want is None or _value(d.entries(index, index + 1)[0]) != want:
                continue
            k = index - first_index
            new = entries[k] if k < len(entries) else None
            if new is None or _value(new) != want:
                self.fail(
                    f"node {disk.node_id}'s disk loses committed entry {index} (term {want[0]}): "
                    + (f"overwritten with term {new.term}" if new else "truncated"),
                    "disks never lose committed entries",
                )

    def before_durable_snapshot(self, disk: SimDisk, snapshot: Snapshot) -> None:
        d = disk.durable
        meta = snapshot.meta
        holds = d.snapshot_meta().index < meta.index < d.last_index()
        if holds and d.term(meta.index) == meta.term:  # Raft figure 13: keep what follows it
            self.fail(
                f"node {disk.node_id} installs snapshot {meta.index} over a log that holds "
                f"it, dropping entries {meta.index + 1}..{d.last_index()} that follow it",
                "snapshots keep the log that follows them",
            )
        lo = max(snapshot.meta.index, d.snapshot_meta().index) + 1
        for index in range(lo, min(d.last_index(), self.commit_max) + 1):
            want = self.committed.get(index)
            if want is not None and _value(d.entries(index, index + 1)[0]) == want:
                self.fail(
                    f"node {disk.node_id} installs snapshot {snapshot.meta.index} over its log, "
                    f"dropping committed entry {index}",
                    "disks never lose committed entries",
                )

    def before_durable_hard_state(self, disk: SimDisk, hard_state: HardState) -> None:
        old, d = disk.durable.hard_state(), disk.durable
        who = f"node {disk.node_id}"
        if hard_state.term < old.term:
            self.fail(
                f"{who} stores term {hard_state.term} over {old.term}", "term never goes back"
            )
        if hard_state.term == old.term and old.vote is not None and hard_state.vote != old.vote:
            self.fail(
                f"{who} stores vote {hard_state.vote} over {old.vote} in term {old.term}",
                "one vote per term",
            )
        if hard_state.commit < old.commit:
            self.fail(
                f"{who} stores commit index {hard_state.commit} over {old.commit}",
                "commit index never goes back",
            )
        if hard_state.commit > d.last_index():
            self.fail(
                f"{who} stores commit index {hard_state.commit} past its log on disk (last "
                f"{d.last_index()})",
                "stored commit index within the log on disk",
            )
        lo = max(old.commit, d.snapshot_meta().index) + 1
        for index in range(lo, hard_state.commit + 1):
            want = self.committed.get(index)
            have = _value(d.entries(index, index + 1)[0])
            if want != have:
                self.fail(
                    f"{who} stores commit index {hard_state.commit}, but its entry {index} on "
                    f"disk {have} is not the committed one {want}",
                    "stored commit index within the log on disk",
                )

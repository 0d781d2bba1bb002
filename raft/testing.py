"""A deterministic simulator for Raft groups: one seed chooses every fault.

The simulator runs N RaftNodes over a network of per-link queues that drops, duplicates,
delays (and so reorders) messages and makes partitions (one-way too) and heals them; over disks
whose unflushed writes are lost or torn on a crash; with crashes, restarts and restarts with an
empty disk. After every step it checks the safety invariants; then a liveness phase stops the
faults and requires a leader and the commit of every proposal within a bound.

Empty-disk restarts: a node that lost its disk has forgotten its votes and the entries it
acknowledged, so letting it back under its old identity could elect two leaders in one term or
lose a committed entry. We do what a supervisor replacing a dead broker does: the wiped
identity is retired for good, a fresh node (new id, empty disk) starts, and the leader removes
the old id, adds the new one as a learner and promotes it once it has caught up. The invariants
therefore hold per identity, with no exemption for wiped nodes.

Run `run_simulation(seed)` and read its `SimResult`; a failure raises `SimulationFailure`
carrying the seed and the trace tail, and replays exactly from that seed.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import RaftConfig
from .errors import ConfChangeError, NotLeaderError, ProposalDroppedError
from .messages import (
    AppendRequest,
    AppendResponse,
    Heartbeat,
    Message,
    SnapshotChunk,
    SnapshotResponse,
    VoteRequest,
    VoteResponse,
)
from .node import RaftNode
from .storage import MemoryStorage
from .types import ConfChange, ConfChangeKind, ConfState, Entry, EntryKind, Ready, Role, Snapshot

TRACE_LINES_MAX = 400


# Every fault the simulator injects, by the name its counters and the bench report use.
FAULT_KINDS = (
    "drops",
    "duplicates",
    "delays",
    "partitions",
    "one_way_partitions",
    "heals",
    "crashes",
    "crashes_after_flush",
    "crashes_before_send",
    "torn_writes",
    "lost_writes",
    "restarts",
    "wipes",
    "churns",
    "snapshots",
    "transfers",
)


class SimulationFailure(AssertionError):
    def __init__(self, seed: int, what: str, trace: list[str]) -> None:
        tail = "\n".join(trace[-60:])
        super().__init__(
            f"seed {seed}: {what}\n  replay: python -m raybee.raft.testing {seed}  (or "
            f"RAYBEE_SIM_SEED={seed} pytest tests/raft/test_raft_simulation.py)\n"
            f"--- trace tail ---\n{tail}"
        )
        self.seed = seed
        self.what = what
        self.trace = trace


@dataclass(frozen=True)
class SimOptions:
    fault_ticks: int = 150
    leader_ticks_max: int = 200  # faults stop -> a leader with membership settled
    commit_ticks_max: int = 30  # a proposal made under that leader -> committed
    converge_ticks_max: int = 100  # then every member has applied everything
    liveness_proposals: int = 10
    drop_p: float = 0.05
    duplicate_p: float = 0.03
    delay_ticks_max: int = 3
    partition_p: float = 0.03
    one_way_p: float = 0.4
    heal_p: float = 0.08
    crash_p: float = 0.04
    crash_during_persist_p: float = 0.03
    leader_bias_p: float = 0.5  # chance that a crash or partition aims at the leader
    torn_write_p: float = 0.5
    restart_p: float = 0.15
    wipe_p: float = 0.004
    churn_p: float = 0.01
    propose_p: float = 0.5
    snapshot_p: float = 0.03
    transfer_p: float = 0.01
    priorities_p: float = 0.3
    snapshot_chunk_bytes_max: int = 48
    events_per_tick_max: int = 2000


@dataclass
class SimResult:
    seed: int
    nodes: int
    steps: int = 0
    ticks: int = 0
    committed: int = 0
    acked: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)  # elections, snapshot installs, ...


class SimDisk(MemoryStorage):
    """MemoryStorage whose writes are pending until flush(); a crash loses or tears them.

    The hard state is a small file written atomically (temp, fsync, rename), so it is durable
    as soon as it is set. The host sets it only after flushing the log.
    """

    def __init__(self, durable: MemoryStorage) -> None:
        super().__init__()
        self.durable = durable
        self._reload()
        self._pending: list[tuple[str, object]] = []

    def _reload(self) -> None:
        live = self.durable.copy()
        self._hard_state, self._snapshot, self._entries = (
            live._hard_state,
            live._snapshot,
            live._entries,
        )

    def append(self, entries) -> None:  # type: ignore[override]
        super().append(entries)
        if entries:
            self._pending.append(("append", tuple(entries)))

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        super().apply_snapshot(snapshot)
        self._pending.append(("snapshot", snapshot))

    def set_hard_state(self, hard_state) -> None:  # type: ignore[override]
        super().set_hard_state(hard_state)
        self.durable.set_hard_state(hard_state)

    def _set_live_only(self, hard_state) -> None:
        """Only for tests that prove the checker notices a hard state that was not durable."""
        super().set_hard_state(hard_state)

    def create_snapshot(self, index, conf, data):  # type: ignore[override]
        self.flush()
        snap = super().create_snapshot(index, conf, data)
        self.durable.create_snapshot(index, conf, data)
        return snap

    def flush(self) -> None:
        for op in self._pending:
            self._apply(op)
        self._pending = []

    def _apply(self, op: tuple[str, object]) -> None:
        kind, value = op
        if kind == "append":
            self.durable.append(value)  # type: ignore[arg-type]
        else:
            self.durable.apply_snapshot(value)  # type: ignore[arg-type]

    def crash(self, rng: random.Random, tear: bool) -> bool:
        """Lose unflushed writes: a random prefix survives, the next append maybe torn."""
        torn = False
        survive = rng.randint(0, len(self._pending))
        for op in self._pending[:survive]:
            self._apply(op)
        rest = self._pending[survive:]
        if tear and rest and rest[0][0] == "append":
            entries = rest[0][1]
            keep = rng.randrange(len(entries))  # a strict prefix; a torn tail fails its CRC
            self.durable.truncate_from(entries[0].index)
            if keep:
                self.durable.append(entries[:keep])
            torn = True
        self._pending = []
        self._reload()
        return torn


class _StateMachine:
    """The replicated state: the list of applied proposal values."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.values: list[int] = json.loads(snapshot.data) if snapshot.data else []
        self.applied = snapshot.meta.index

    def data(self) -> bytes:
        return json.dumps(self.values).encode()


class Simulator:
    def __init__(
        self,
        seed: int,
        options: SimOptions | None = None,
        node_count: int | None = None,
        trace_messages: bool = False,
    ) -> None:
        self.seed = seed
        self.trace_messages = trace_messages  # every delivery in the trace (for replays)
        self.opt = options or SimOptions()
        self.rng = random.Random(seed)
        self.node_count = node_count or self.rng.choice((3, 3, 5))
        self.raft_config = RaftConfig(
            election_timeout_ticks=10,
            heartbeat_interval_ticks=1,
            max_inflight_appends=self.rng.choice((1, 2, 4)),
            max_entries_per_append=self.rng.choice((1, 2, 8)),
            snapshot_chunk_bytes_max=self.opt.snapshot_chunk_bytes_max,
            pre_vote=self.rng.random() < 0.8,
            check_quorum=self.rng.random() < 0.8,
        )
        ids = list(range(1, self.node_count + 1))
        priorities: tuple[tuple[int, int], ...] = ()
        if self.rng.random() < self.opt.priorities_p:
            priorities = tuple((i, self.rng.randrange(3)) for i in ids)
        conf = ConfState(voters=frozenset(ids), priorities=priorities)
        self.disks: dict[int, SimDisk] = {i: SimDisk(MemoryStorage.bootstrap(conf)) for i in ids}
        self.nodes: dict[int, RaftNode] = {}
        self.machines: dict[int, _StateMachine] = {}
        self.retired: set[int] = set()
        self.next_id = self.node_count + 1
        self.replacements: deque[tuple[str, int]] = deque()  # membership tasks, in order
        self.links: dict[tuple[int, int], list[tuple[int, int, Message]]] = {}
        self.blocked: set[tuple[int, int]] = set()
        self.tick_now = 0
        self.seq = 0
        self.trace: deque[str] = deque(maxlen=None if trace_messages else TRACE_LINES_MAX)
        self.faults = dict.fromkeys(FAULT_KINDS, 0)
        self.steps = 0
        self.stats = dict.fromkeys(("elections", "snapshot_installs", "conf_changes"), 0)
        # Invariant state.
        self.leaders: dict[int, int] = {}  # term -> leader id
        self.votes: dict[tuple[int, int], int] = {}  # (voter, term) -> candidate
        self.committed: dict[int, tuple[int, int, object]] = {}  # index -> (term, kind, data)
        self.checked_commit: dict[int, int] = {}
        self.proposed: dict[int, int] = {}  # value -> proposer id
        self.acked: set[int] = set()
        self.next_value = 1
        self.faults_on = True
        self.random_proposals = True
        for i in ids:
            self._start(i)

    # ------------------------------------------------------------------ helpers

    def _log(self, line: str) -> None:
        self.trace.append(f"[t{self.tick_now} s{self.steps}] {line}")

    def fail(self, what: str) -> None:
        raise SimulationFailure(self.seed, what, list(self.trace))

    def _start(self, node_id: int) -> None:
        disk = self.disks[node_id]
        machine = _StateMachine(disk.snapshot())
        node = RaftNode(
            node_id,
            self.raft_config,
            disk,
            random.Random(self.rng.getrandbits(64)),
            applied=machine.applied,
        )
        self.nodes[node_id] = node
        self.machines[node_id] = machine
        self.checked_commit[node_id] = disk.snapshot_meta().index
        self._check_commits(node_id)
        self._log(
            f"start {node_id} term={node.term} commit={node.commit_index} last={node.last_index}"
        )

    def live(self) -> list[int]:
        return sorted(self.nodes)

    def leader(self) -> RaftNode | None:
        best = None
        for node in self.nodes.values():
            if node.role == Role.LEADER and (best is None or node.term > best.term):
                best = node
        return best

    # ------------------------------------------------------------------ network

    def _send(self, msg: Message) -> None:
        if isinstance(msg, VoteResponse) and msg.granted and not msg.pre_vote:
            prior = self.votes.setdefault((msg.frm, msg.term), msg.to)
            if prior != msg.to:
                self.fail(f"node {msg.frm} voted for {prior} and {msg.to} in term {msg.term}")
        if msg.to in self.retired:
            return
        copies = 1
        delay = 0
        if self.faults_on:
            if self.rng.random() < self.opt.drop_p:
                self.faults["drops"] += 1
                return
            if self.rng.random() < self.opt.duplicate_p:
                self.faults["duplicates"] += 1
                copies = 2
            delay = self.rng.randint(0, self.opt.delay_ticks_max)
            if delay:
                self.faults["delays"] += 1
        queue = self.links.setdefault((msg.frm, msg.to), [])
        for copy in range(copies):
            self.seq += 1
            extra = self.rng.randint(0, self.opt.delay_ticks_max) if copy else 0
            queue.append((self.tick_now + delay + extra, self.seq, msg))

    def _deliver(self, msg: Message) -> None:
        if (msg.frm, msg.to) in self.blocked or msg.to not in self.nodes:
            return
        node = self.nodes[msg.to]
        was_leader = node.role == Role.LEADER
        if self.trace_messages:
            self._log(describe_message(msg))
        node.step(msg)
        self.steps += 1
        self._after_event(msg.to, was_leader)

    def _due_messages(self) -> list[Message]:
        due: list[tuple[int, Message]] = []
        for key in sorted(self.links):
            queue = self.links[key]
            keep = []
            for item in queue:
                if item[0] <= self.tick_now:
                    due.append((item[1], item[2]))
                else:
                    keep.append(item)
            self.links[key] = keep
        due.sort(key=lambda x: x[0])
        msgs = [m for _, m in due]
        if self.faults_on:
            self.rng.shuffle(msgs)  # reorder, across and within links
        return msgs

    # ------------------------------------------------------------------ ready handling

    def _handle_ready(self, node_id: int) -> bool:
        node = self.nodes[node_id]
        if not node.has_ready():
            return False
        rd = node.ready()
        disk = self.disks[node_id]
        self._check_new_entries(node_id, rd)
        if rd.snapshot is not None:
            self.stats["snapshot_installs"] += 1
            self._log(f"install snapshot {node_id} at {rd.snapshot.meta.index}")
            disk.apply_snapshot(rd.snapshot)
        if rd.entries:
            disk.append(rd.entries)
        # A crash can land anywhere in the host's handling of a Ready.
        crash_at = None
        if self.faults_on and self.rng.random() < self.opt.crash_during_persist_p:
            crash_at = self.rng.choice(
                ("before_flush", "before_flush", "after_flush", "after_hard_state")
            )
        if crash_at == "before_flush":
            self._crash(node_id, during_persist=True)
            return True
        disk.flush()
        if crash_at == "after_flush":  # log durable, term/vote/commit file not yet written
            self.faults["crashes_after_flush"] += 1
            self._crash(node_id)
            return True
        if rd.hard_state is not None:
            disk.set_hard_state(rd.hard_state)
        if crash_at == "after_hard_state":  # everything durable, nothing sent
            self.faults["crashes_before_send"] += 1
            self._crash(node_id)
            return True
        for msg in rd.messages:
            self._send(msg)
        self._apply(node_id, rd)
        was_leader = node.role == Role.LEADER
        node.advance(rd)
        self.steps += 1
        self._after_event(node_id, was_leader)
        return True

    def _apply(self, node_id: int, rd: Ready) -> None:
        machine = self.machines[node_id]
        if rd.snapshot is not None:
            meta = rd.snapshot.meta
            machine.values = json.loads(rd.snapshot.data) if rd.snapshot.data else []
            machine.applied = meta.index
        for entry in rd.committed_entries:
            if entry.index != machine.applied + 1:
                self.fail(f"node {node_id} applied {entry.index} after {machine.applied}")
            self._check_committed_entry(node_id, entry)
            machine.applied = entry.index
            if entry.kind == EntryKind.NORMAL:
                machine.values.append(entry.data)
                if self.proposed.get(entry.data) == node_id:
                    self.acked.add(entry.data)

    # ------------------------------------------------------------------ invariants

    def _after_event(self, node_id: int, was_leader: bool) -> None:
        node = self.nodes.get(node_id)
        if node is None:
            return
        if node.role == Role.LEADER:
            prior = self.leaders.setdefault(node.term, node_id)
            if prior != node_id:
                self.fail(f"two leaders in term {node.term}: {prior} and {node_id}")
            if not was_leader:
                self.stats["elections"] += 1
                self._log(f"leader {node_id} term={node.term} last={node.last_index}")
                self._check_leader_completeness(node)
        self._check_commits(node_id)

    def _check_commits(self, node_id: int) -> None:
        node = self.nodes[node_id]
        lo = max(self.checked_commit[node_id], node.snapshot_index()) + 1
        if node.commit_index < lo:
            return
        for entry in node.entries(lo, node.commit_index + 1):
            self._check_committed_entry(node_id, entry)
        self.checked_commit[node_id] = node.commit_index

    def _check_committed_entry(self, node_id: int, entry: Entry) -> None:
        value = (entry.term, int(entry.kind), entry.data)
        prior = self.committed.setdefault(entry.index, value)
        if prior != value:
            self.fail(
                f"committed entry {entry.index} differs: {prior} before, node {node_id} has {value}"
            )

    def _check_leader_completeness(self, node: RaftNode) -> None:
        if not self.committed:
            return
        top = max(self.committed)
        if node.last_index < top:
            self.fail(f"leader {node.id} (last {node.last_index}) lacks committed entry {top}")
        for index in range(node.snapshot_index() + 1, top + 1):
            if index in self.committed and node.term_at(index) != self.committed[index][0]:
                self.fail(f"leader {node.id} has a different entry at committed index {index}")

    def _check_new_entries(self, node_id: int, rd: Ready) -> None:
        """Log matching, checked pairwise as each entry is persisted (induction on index)."""
        node = self.nodes[node_id]
        for entry in rd.entries:
            for other_id, other in self.nodes.items():
                if other_id == node_id or other.term_at(entry.index) != entry.term:
                    continue
                if entry.index <= other.snapshot_index():
                    continue  # compacted there; its snapshot term was compared above
                theirs = other.entries(entry.index, entry.index + 1)[0]
                if theirs != entry:
                    self.fail(f"log matching: {node_id} and {other_id} differ at {entry.index}")
                before = entry.index - 1
                mine, their_prev = node.term_at(before), other.term_at(before)
                if mine is not None and their_prev is not None and mine != their_prev:
                    self.fail(
                        f"log matching: {node_id}, {other_id} agree at {entry.index} not {before}"
                    )

    # ------------------------------------------------------------------ faults

    def _crash(self, node_id: int, during_persist: bool = False) -> None:
        tear = during_persist and self.rng.random() < self.opt.torn_write_p
        lost = len(self.disks[node_id]._pending)
        torn = self.disks[node_id].crash(self.rng, tear)
        self.faults["crashes"] += 1
        if torn:
            self.faults["torn_writes"] += 1
        if lost:
            self.faults["lost_writes"] += 1
        del self.nodes[node_id]
        del self.machines[node_id]
        self._log(f"crash {node_id} pending_ops={lost} torn={torn}")

    def _wipe(self, node_id: int) -> None:
        """The node's disk is gone: retire the identity, start a blank replacement."""
        if node_id in self.nodes:
            del self.nodes[node_id]
            del self.machines[node_id]
        self.retired.add(node_id)
        new_id = self.next_id
        self.next_id += 1
        self.disks[new_id] = SimDisk(MemoryStorage())
        self._start(new_id)
        self.replacements.extend((("remove", node_id), ("add", new_id), ("promote", new_id)))
        self.faults["wipes"] += 1
        self._log(f"wipe {node_id} -> replacement {new_id}")

    def _random_faults(self) -> None:
        rng, opt = self.rng, self.opt
        everyone = sorted(set(self.disks) - self.retired)
        if rng.random() < opt.partition_p and len(everyone) > 1:
            group = set(rng.sample(everyone, rng.randint(1, len(everyone) // 2)))
            leader = self.leader()
            if leader is not None and rng.random() < opt.leader_bias_p:
                group = {leader.id} | set(list(group)[1:])
            one_way = rng.random() < opt.one_way_p
            for a in group:
                for b in everyone:
                    if b not in group:
                        self.blocked.add((a, b))
                        if not one_way:
                            self.blocked.add((b, a))
            self.faults["one_way_partitions" if one_way else "partitions"] += 1
            self._log(f"partition {sorted(group)} one_way={one_way}")
        if self.blocked and rng.random() < opt.heal_p:
            self.blocked.clear()
            self.faults["heals"] += 1
            self._log("heal")
        live = self.live()
        if live and rng.random() < opt.crash_p:
            leader = self.leader()
            biased = leader is not None and rng.random() < opt.leader_bias_p
            self._crash(leader.id if biased else rng.choice(live))
        down = sorted(set(self.disks) - self.retired - set(self.nodes))
        if down and rng.random() < opt.restart_p:
            self.faults["restarts"] += 1
            self._start(rng.choice(down))
        if live and not self.replacements and rng.random() < opt.wipe_p:
            self._wipe(rng.choice(live))
        leader = self.leader()
        if leader is not None and not self.replacements and rng.random() < opt.churn_p:
            # Remove a member and add it back under the same id: its disk is intact, so it
            # may rejoin (unlike a wiped one); it catches up as a learner first.
            node = rng.choice(sorted(leader.members))
            self.replacements.extend((("remove", node), ("add", node), ("promote", node)))
            self.faults["churns"] += 1
            self._log(f"churn {node}")
        if rng.random() < opt.snapshot_p and self.nodes:
            self._snapshot(rng.choice(self.live()))
        leader = self.leader()
        if leader is not None and rng.random() < opt.transfer_p:
            target = rng.choice(sorted(leader.voters))
            try:
                leader.transfer_leadership(target)
                self.faults["transfers"] += 1
                self._log(f"transfer {leader.id} -> {target}")
            except NotLeaderError:
                pass

    def _snapshot(self, node_id: int) -> None:
        node, machine, disk = self.nodes[node_id], self.machines[node_id], self.disks[node_id]
        index = machine.applied
        if index <= disk.snapshot_meta().index:
            return
        disk.create_snapshot(index, node.conf_at(index), machine.data())
        self.faults["snapshots"] += 1
        self._log(f"snapshot {node_id} at {index}")

    # ------------------------------------------------------------------ workload

    def _propose(self) -> None:
        leader = self.leader()
        if leader is None:
            return
        values = list(range(self.next_value, self.next_value + self.rng.randint(1, 3)))
        try:
            leader.propose_many(values)
        except (NotLeaderError, ProposalDroppedError):
            return
        self.next_value += len(values)
        for v in values:
            self.proposed[v] = leader.id

    def _supervise(self) -> None:
        """Carry out membership tasks one at a time, through whoever leads: ("remove", id),
        ("add", id) as a learner, ("promote", id) once it has caught up."""
        if not self.replacements:
            return
        leader = self.leader()
        if leader is None:
            return
        action, node = self.replacements[0]
        conf = leader.conf
        done = {
            "remove": node not in conf.members,
            "add": node in conf.members,
            "promote": node in conf.voters,
        }[action]
        if done:
            if leader.conf_at(leader.commit_index) == conf:  # committed, not just appended
                self.replacements.popleft()
                self._log(f"membership {action} {node} done")
            return
        try:
            if action == "remove":
                leader.propose_conf_change(ConfChange(ConfChangeKind.REMOVE, node))
            elif action == "add":
                leader.propose_conf_change(ConfChange(ConfChangeKind.ADD_LEARNER, node, priority=1))
            else:
                pr = leader.progress().get(node)
                if pr is None or pr.match_index < leader.commit_index:
                    return
                leader.propose_conf_change(ConfChange(ConfChangeKind.PROMOTE, node))
        except (ConfChangeError, NotLeaderError, ProposalDroppedError):
            return
        self.stats["conf_changes"] += 1
        self._log(
            f"conf change by {leader.id}: {action} {node}, conf now "
            f"{sorted(leader.voters)}/{sorted(leader.learners)}"
        )

    # ------------------------------------------------------------------ the loop

    def _run_tick(self) -> None:
        self.tick_now += 1
        for node_id in self.live():
            node = self.nodes.get(node_id)
            if node is None:
                continue
            was_leader = node.role == Role.LEADER
            node.tick()
            self._after_event(node_id, was_leader)
        if self.faults_on:
            self._random_faults()
        if self.random_proposals and self.rng.random() < self.opt.propose_p:
            self._propose()
        self._supervise()
        for _ in range(self.opt.events_per_tick_max):
            progressed = False
            order = self.live()
            self.rng.shuffle(order)
            for node_id in order:
                if node_id in self.nodes and self._handle_ready(node_id):
                    progressed = True
            for msg in self._due_messages():
                self._deliver(msg)
                progressed = True
            if not progressed:
                break

    def run(self) -> SimResult:
        try:
            for _ in range(self.opt.fault_ticks):
                self._run_tick()
            self._liveness()
        except SimulationFailure:
            raise
        except Exception as error:  # an assertion inside raft, or a storage refusal
            self.fail(f"{type(error).__name__}: {error}")
        return SimResult(
            seed=self.seed,
            nodes=self.node_count,
            steps=self.steps,
            ticks=self.tick_now,
            committed=len(self.committed),
            acked=len(self.acked),
            faults=dict(self.faults),
            stats=dict(self.stats),
        )

    def _liveness(self) -> None:
        """Faults stop. Within bounds: a leader and settled membership, then every proposal
        commits within `commit_ticks_max` of being proposed, then all members converge."""
        self.faults_on = False
        self.blocked.clear()
        for node_id in sorted(set(self.disks) - self.retired - set(self.nodes)):
            self._start(node_id)
        self._log("faults stop")
        opt = self.opt
        start = self.tick_now
        while self._settled_leader() is None or self.replacements:
            if self.tick_now - start >= opt.leader_ticks_max:
                self._liveness_failure(
                    f"no settled leader {opt.leader_ticks_max} ticks after faults stopped"
                )
            self._run_tick_quiet()
        self.stats["liveness_leader_ticks"] = self.tick_now - start
        self._log(f"liveness: leader {self.leader().id} after {self.tick_now - start} ticks")
        pending: dict[int, int] = {}  # value -> tick proposed
        proposed = 0
        while proposed < opt.liveness_proposals or pending:
            leader = self._settled_leader()
            if proposed < opt.liveness_proposals and leader is not None:
                try:
                    leader.propose(self.next_value)
                    self.proposed[self.next_value] = leader.id
                    pending[self.next_value] = self.tick_now
                    self.next_value += 1
                    proposed += 1
                except (NotLeaderError, ProposalDroppedError):
                    pass  # e.g. a priority transfer in progress: the client retries
            self._run_tick_quiet()
            for value, at in list(pending.items()):
                if value in self.acked:
                    del pending[value]
                    self.stats["liveness_commit_ticks_max"] = max(
                        self.stats.get("liveness_commit_ticks_max", 0), self.tick_now - at
                    )
                elif self.tick_now - at > opt.commit_ticks_max:
                    self._liveness_failure(
                        f"proposal {value} not committed {opt.commit_ticks_max} ticks after "
                        f"it was proposed at t{at}"
                    )
        start = self.tick_now
        while not self._converged():
            if self.tick_now - start >= opt.converge_ticks_max:
                self._liveness_failure(
                    f"members did not converge in {opt.converge_ticks_max} ticks"
                )
            self._run_tick_quiet()
        self._check_final(self.leader())

    def _settled_leader(self) -> RaftNode | None:
        """A leader no live node has overtaken, that has committed an entry of its term.

        A stale leader (e.g. just healed from a partition) may still claim the role; what it
        accepts is rightly lost, so the liveness clock starts only under a settled one."""
        leader = self.leader()
        if leader is None or any(n.term > leader.term for n in self.nodes.values()):
            return None
        if leader.term_at(leader.commit_index) != leader.term:
            return None
        return leader

    def _liveness_failure(self, what: str) -> None:
        leader = self.leader()
        self.fail(
            f"liveness: {what}; leader={leader.id if leader else None}, replacements pending "
            f"{list(self.replacements)}, nodes (id, role, term, commit, last): "
            f"{[(n.id, n.role.value, n.term, n.commit_index, n.last_index) for n in self.nodes.values()]}"
        )

    def _run_tick_quiet(self) -> None:
        self.random_proposals = False
        self._run_tick()

    def _converged(self) -> bool:
        leader = self.leader()
        if leader is None:
            return False
        return all(
            self.nodes[m].applied_index == leader.commit_index == leader.last_index
            for m in leader.members
            if m in self.nodes
        ) and all(m in self.nodes for m in leader.members)

    def _check_final(self, leader: RaftNode) -> None:
        expected = [
            data
            for index, (_, kind, data) in sorted(self.committed.items())
            if kind == EntryKind.NORMAL and index <= leader.commit_index
        ]
        lost = sorted(v for v in self.acked if v not in set(expected))
        if lost:
            self.fail(f"acknowledged proposals lost: {lost[:10]}")
        for member in sorted(leader.members):
            values = self.machines[member].values
            if values != expected:
                self.fail(f"node {member} state differs from the committed log")
        self._log(f"converged: {len(expected)} values on {sorted(leader.members)}")


def run_simulation(
    seed: int, options: SimOptions | None = None, node_count: int | None = None
) -> SimResult:
    """Run one seeded simulation; raises SimulationFailure (with the seed) on any violation."""
    return Simulator(seed, options, node_count).run()


# ---------------------------------------------------------------------- a cluster for tests


def describe_message(msg: Message) -> str:
    """One short line per message, as transcripts show them."""
    name = type(msg).__name__
    head = f"{msg.frm}->{msg.to} {name} term={msg.term}"
    if isinstance(msg, VoteRequest):
        flags = (" pre" if msg.pre_vote else "") + (" transfer" if msg.transfer else "")
        return f"{head} last={msg.last_index}/{msg.last_term}{flags}"
    if isinstance(msg, VoteResponse):
        return f"{head} {'granted' if msg.granted else 'rejected'}{' pre' if msg.pre_vote else ''}"
    if isinstance(msg, AppendRequest):
        shown = " ".join(_describe_entry(e) for e in msg.entries)
        return f"{head} prev={msg.prev_index}/{msg.prev_term} commit={msg.commit} [{shown}]"
    if isinstance(msg, AppendResponse):
        if msg.success:
            return f"{head} ok index={msg.index}"
        return f"{head} reject index={msg.index} hint={msg.reject_hint}"
    if isinstance(msg, Heartbeat):
        return f"{head} commit={msg.commit}"
    if isinstance(msg, SnapshotChunk):
        return (
            f"{head} snap={msg.meta.index}/{msg.meta.term} offset={msg.offset} "
            f"bytes={len(msg.data)}{' done' if msg.done else ''}"
        )
    if isinstance(msg, SnapshotResponse):
        return (
            f"{head} snap={msg.snapshot_index} next_offset={msg.next_offset}"
            f"{' done' if msg.done else ''}"
        )
    return head


def _describe_entry(entry: Entry) -> str:
    if entry.kind == EntryKind.NORMAL:
        return f"{entry.index}/{entry.term}:{entry.data}"
    if entry.kind == EntryKind.NOOP:
        return f"{entry.index}/{entry.term}:noop"
    conf: ConfState = entry.data
    return (
        f"{entry.index}/{entry.term}:conf(v={','.join(map(str, sorted(conf.voters)))}"
        f" l={','.join(map(str, sorted(conf.learners)))})"
    )


class InMemoryCluster:
    """Nodes on MemoryStorage with a lossless network the test controls; no randomness but
    the per-node rngs seeded from `seed`. The host loop follows the Ready contract exactly."""

    def __init__(self, config: RaftConfig | None = None, seed: int = 0) -> None:
        self.config = config or RaftConfig()
        self.seed = seed
        self.nodes: dict[int, RaftNode] = {}
        self.storages: dict[int, MemoryStorage] = {}
        self.values: dict[int, list[object]] = {}
        self.blocked: set[tuple[int, int]] = set()
        self.in_flight: list[Message] = []
        # A test may drop chosen messages: return True to drop.
        self.drop: Callable[[Message], bool] = lambda msg: False

    def add_node(self, node_id: int, conf: ConfState | None = None) -> RaftNode:
        """A founding member (with `conf`) or a blank node waiting to be added (without)."""
        storage = MemoryStorage.bootstrap(conf) if conf is not None else MemoryStorage()
        self.storages[node_id] = storage
        return self._start(node_id)

    def _start(self, node_id: int) -> RaftNode:
        storage = self.storages[node_id]
        snap = storage.snapshot()
        self.values[node_id] = json.loads(snap.data) if snap.data else []
        node = RaftNode(node_id, self.config, storage, random.Random(self.seed * 1000 + node_id))
        self.nodes[node_id] = node
        return node

    def restart(self, node_id: int) -> RaftNode:
        """Crash and restart from storage (MemoryStorage writes are durable here)."""
        return self._start(node_id)

    def isolate(self, node_id: int) -> None:
        for other in self.storages:
            if other != node_id:
                self.blocked.add((node_id, other))
                self.blocked.add((other, node_id))

    def heal(self) -> None:
        self.blocked.clear()

    def handle_ready(self, node_id: int) -> list[Message]:
        node = self.nodes[node_id]
        if not node.has_ready():
            return []
        rd = node.ready()
        storage = self.storages[node_id]
        if rd.snapshot is not None:
            storage.apply_snapshot(rd.snapshot)
            self.values[node_id] = json.loads(rd.snapshot.data) if rd.snapshot.data else []
        if rd.entries:
            storage.append(rd.entries)
        storage.flush()
        if rd.hard_state is not None:
            storage.set_hard_state(rd.hard_state)
        for entry in rd.committed_entries:
            if entry.kind == EntryKind.NORMAL:
                self.values[node_id].append(entry.data)
        node.advance(rd)
        return list(rd.messages)

    def stabilize(self, rounds_max: int = 1000) -> list[str]:
        """Handle Readies and deliver messages until nothing moves; returns what was sent."""
        lines: list[str] = []
        for _ in range(rounds_max):
            sent: list[Message] = []
            for node_id in sorted(self.nodes):
                sent.extend(self.handle_ready(node_id))
            sent = self.in_flight + sent
            self.in_flight = []
            if not sent:
                return lines
            for msg in sent:
                blocked = (
                    (msg.frm, msg.to) in self.blocked or msg.to not in self.nodes or self.drop(msg)
                )
                lines.append(describe_message(msg) + (" DROPPED" if blocked else ""))
                if not blocked:
                    self.nodes[msg.to].step(msg)
        raise AssertionError(f"cluster did not stabilize within {rounds_max} rounds")

    def tick(self, node_id: int, ticks: int = 1) -> None:
        for _ in range(ticks):
            self.nodes[node_id].tick()

    def leader(self) -> RaftNode | None:
        leaders = [n for n in self.nodes.values() if n.role == Role.LEADER]
        return max(leaders, key=lambda n: n.term) if leaders else None

    def compact(self, node_id: int, index: int) -> Snapshot:
        node = self.nodes[node_id]
        assert index <= node.applied_index, (index, node.applied_index)
        committed = [
            e.data
            for e in node.entries(node.snapshot_index() + 1, index + 1)
            if e.kind == EntryKind.NORMAL
        ]
        prior = self.storages[node_id].snapshot()
        values = (json.loads(prior.data) if prior.data else []) + committed
        return self.storages[node_id].create_snapshot(
            index, node.conf_at(index), json.dumps(values).encode()
        )


def main(argv: list[str] | None = None) -> int:
    """`python -m raybee.raft.testing SEED [--trace]`: replay one seed, print what happened."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m raybee.raft.testing")
    parser.add_argument("seed", type=int)
    parser.add_argument("--trace", action="store_true", help="print the trace even on success")
    parser.add_argument("--messages", action="store_true", help="trace every delivered message")
    opts = parser.parse_args(argv)
    sim = Simulator(opts.seed, trace_messages=opts.messages)
    try:
        result = sim.run()
    except SimulationFailure as failure:
        print(failure)
        return 1
    if opts.trace:
        print("\n".join(sim.trace))
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

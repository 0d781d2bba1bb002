"""A deterministic simulator for Raft groups: one seed chooses every fault.

The simulator runs N RaftNodes, each on a `SimDisk`, over a simulated network. The host
loop is the one every real host runs: take a Ready, hand it to the real `persist_ready` (from
`raybee.raft`), then send, apply and advance; so a bug in `persist_ready` is a bug here too.

Faults, each counted in `SimResult.faults` only when it changed something (FAULT_KINDS):
  network   drops, duplicates, delays (and so reorders), delays longer than an election
            timeout, congested links, partitions (one-way too) and heals;
  clocks    per-node clock skew (a node takes 0 or 2 ticks where others take 1), pauses (a
            process that neither ticks nor reads its messages for up to three timeouts) and
            election timers that fire early;
  disks     crashes with unflushed writes lost or torn, crashes inside the hard-state write
            and before sending, slow fsyncs during which messages keep arriving (a leader's
            appends may leave meanwhile), failed appends, fsyncs (with the dropped pages of
            fsyncgate), hard-state and snapshot writes -- after which the host stops the
            replica, as it must;
  nodes     crashes, restarts, restarts with an empty disk (under a new identity, below),
            membership churn, concurrent membership proposals, compaction, leader transfers,
            and clients that propose to whichever node believes it leads.

After every step `raft/_private/sim_checks.py` checks the safety invariants listed there, most
at the moment they could first break (a commit, a durable write, a stepped message). Then a
liveness phase stops the faults and requires a leader and the commit of every proposal within
bounds.

Empty-disk restarts: a node that lost its disk has forgotten its votes and the entries it
acknowledged, so letting it back under its old identity could elect two leaders in one term or
lose a committed entry. We do what a supervisor replacing a dead broker does: the wiped
identity is retired for good, a fresh node (new id, empty disk) starts, and the leader removes
the old id, adds the new one as a learner and promotes it once it has caught up. The invariants
therefore hold per identity, with no exemption for wiped nodes.

Run `run_simulation(seed)` and read its `SimResult`; a failure raises `SimulationFailure`
carrying the seed, the invariant and the trace tail, and replays exactly from that seed:
`python -m raybee.raft.testing SEED --trace`.
"""

from __future__ import annotations

import contextlib
import heapq
import importlib
import json
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from ._private.sim_checks import Checker
from ._private.sim_disk import WRITE_FAULTS, SimCrash, SimDisk
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

# The package itself: `persist_ready` is looked up on it at every call, so the simulator runs
# exactly the function hosts run (and a mutant planted there).
raft_api = importlib.import_module(__package__)

TRACE_LINES_MAX = 400
# After faults stop, a proposal whose leader is deposed is proposed again at most this often.
LIVENESS_REPROPOSALS_MAX = 3

# Every fault the simulator injects, by the name its counters and the bench report use. Each is
# counted only when it changed something: what that means is beside it.
FAULT_KINDS = (
    "drops",  # a message lost that would have reached a live node over an open link
    "duplicates",  # a second copy stepped by its receiver
    "delays",  # a message stepped 1..3 ticks late
    "long_delays",  # a message stepped more than an election timeout late
    "congested_links",  # a message stepped late because its link was congested
    "partitions",  # a two-way partition that stopped at least one message
    "one_way_partitions",  # the same, one way only
    "heals",  # a heal that reopened a link a partition had used to stop a message
    "clock_skews",  # a tick in which a node's clock took 0 or 2 ticks instead of 1
    "pauses",  # a process paused for at least one tick (no ticks, no messages read)
    "crashes",  # a running process killed
    "crashes_before_send",  # a crash after persisting a Ready, with its messages unsent
    "lost_writes",  # a crash that lost unflushed writes
    "torn_writes",  # a crash that cut an append to a strict prefix
    "lost_hard_state_writes",  # a crash that left an older term/vote/commit on disk
    "failed_hard_state_writes",  # writing the hard state failed: the host stops the replica
    "storage_write_errors",  # an append, fsync or snapshot write failed: the same
    "slow_fsyncs",  # a Ready whose write took ticks while the node stepped or ticked
    "restarts",  # a stopped node started again from its disk
    "wipes",  # a node lost its disk and was replaced under a new id
    "churns",  # a leader appended the removal of a member that is then added back
    "concurrent_conf_changes",  # a membership change proposed while another was uncommitted
    "snapshots",  # a node compacted its log
    "transfers",  # a leader began handing leadership to another voter
    "early_elections",  # a voter's timer fired early and it began campaigning
)


class SimulationFailure(AssertionError):
    def __init__(self, seed: int, what: str, trace: list[str], invariant: str = "failure") -> None:
        tail = "\n".join(trace[-60:])
        super().__init__(
            f"seed {seed}: [{invariant}] {what}\n  replay: python -m raybee.raft.testing {seed} "
            f"--trace  (or RAYBEE_SIM_SEED={seed} pytest tests/raft/test_raft_simulation.py)\n"
            f"--- trace tail ---\n{tail}"
        )
        self.seed = seed
        self.what = what
        self.invariant = invariant
        self.trace = trace


@dataclass(frozen=True)
class SimOptions:
    fault_ticks: int = 150
    leader_ticks_max: int = 200  # faults stop -> a leader with membership settled
    commit_ticks_max: int = 30  # a proposal made under that leader -> committed
    converge_ticks_max: int = 100  # then every member has applied everything
    liveness_proposals: int = 10
    steps_max: int = 50_000  # more is a runaway (correct runs take a few thousand)
    drop_p: float = 0.05
    duplicate_p: float = 0.03
    delay_ticks_max: int = 3
    long_delay_p: float = 0.01  # per message: held for one to three election timeouts
    long_delay_timeouts_max: int = 3
    congestion_p: float = 0.03  # per tick: a link to or from the leader slows down for a while
    congestion_ticks_max: int = 20
    congestion_delay_ticks_max: int = 6
    partition_p: float = 0.03
    one_way_p: float = 0.4
    heal_p: float = 0.08
    skew_p: float = 0.3  # per node start: its clock runs at a rate in [0.5, 1.6)
    pause_p: float = 0.02  # per tick: a process stops for up to pause_ticks_max ticks
    pause_ticks_max: int = 30
    crash_p: float = 0.04
    crash_during_persist_p: float = 0.03  # per Ready: in fsync, in the hard state, before send
    write_error_p: float = 0.01  # per Ready: an append, fsync, hard-state or snapshot write fails
    slow_fsync_p: float = 0.05  # per Ready: the write takes a few ticks; messages keep coming
    slow_fsync_ticks_max: int = 6
    # A host may send a leader's appends while its own fsync runs (Raft thesis 10.2.1): the
    # leader counts itself toward a quorum only for entries it has persisted.
    leader_appends_before_fsync: bool = True
    leader_bias_p: float = 0.5  # chance that a crash, pause or partition aims at the leader
    torn_write_p: float = 0.5
    restart_p: float = 0.15
    wipe_p: float = 0.004
    churn_p: float = 0.01
    concurrent_conf_p: float = 0.3  # per tick with two membership tasks queued: propose both
    propose_p: float = 0.5
    stale_route_p: float = 0.3  # a client proposes to any node that thinks it leads
    snapshot_p: float = 0.08  # per tick: a node (the leader, half the time) compacts its log
    early_election_p: float = 0.02  # per tick: a voter's election timer fires early
    transfer_p: float = 0.01
    priorities_p: float = 0.3
    snapshot_chunk_bytes_max: int = 48
    # Rounds (every Ready handled, every due message delivered) one tick may take; correct runs
    # need ~120 (a chunked snapshot sent with no delay). A tick still busy after this many is a
    # message storm, reported as a runaway.
    events_per_tick_max: int = 1000


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


class _StateMachine:
    """The replicated state: the list of applied proposal values."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.values: list[int] = json.loads(snapshot.data) if snapshot.data else []
        self.applied = snapshot.meta.index

    def data(self) -> bytes:
        return json.dumps(self.values).encode()


class _InFlight(NamedTuple):
    due: int  # the tick it arrives
    seq: int
    msg: Message
    late: str | None  # the fault kind that delays it, counted when it arrives
    duplicate: bool


@dataclass
class _SlowWrite:
    """A Ready whose fsync is still running: persisted when `due`, then `late` is sent."""

    ready: Ready
    due: int
    late: tuple[Message, ...]  # what may only leave once the Ready is durable
    activity: int = 0  # messages stepped and ticks taken by the node meanwhile


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
        self.checker = Checker(self)
        self.disks: dict[int, SimDisk] = {
            i: SimDisk(i, MemoryStorage.bootstrap(conf), self.checker) for i in ids
        }
        self.nodes: dict[int, RaftNode] = {}
        self.machines: dict[int, _StateMachine] = {}
        self.retired: set[int] = set()
        self.next_id = self.node_count + 1
        # Membership tasks, in order: (action, node id, why).
        self.replacements: deque[tuple[str, int, str]] = deque()
        self.in_flight: list[_InFlight] = []  # a heap: by due tick, then sending order
        self.blocked: dict[tuple[int, int], int] = {}  # link -> the partition that blocks it
        self.partition_kinds: dict[int, str] = {}
        self.partitions_felt: set[int] = set()  # partitions that blocked a message
        self.congested: dict[tuple[int, int], tuple[int, int]] = {}  # link -> (extra, until)
        self.paused: dict[int, int] = {}  # node -> tick its pause ends
        self.pauses_felt: set[int] = set()
        self.clock_rates: dict[int, float] = {}
        self.clock_debt: dict[int, float] = {}
        self.slow: dict[int, _SlowWrite] = {}
        self.tick_now = 0
        self.seq = 0
        self.trace: deque[str] = deque(maxlen=None if trace_messages else TRACE_LINES_MAX)
        self.faults = dict.fromkeys(FAULT_KINDS, 0)
        self.steps = 0
        self.stats = dict.fromkeys(("elections", "snapshot_installs", "conf_changes"), 0)
        self.proposed: dict[int, int] = {}  # value -> proposer id
        self.acked: set[int] = set()
        self.next_value = 1
        self.faults_on = True
        self.random_proposals = True
        for i in ids:
            self._start(i)

    # ------------------------------------------------------------------ helpers

    @property
    def committed(self) -> dict[int, tuple[int, int, object]]:
        return self.checker.committed

    def _log(self, line: str) -> None:
        self.trace.append(f"[t{self.tick_now} s{self.steps}] {line}")

    def fail(self, what: str, invariant: str = "failure") -> None:
        raise SimulationFailure(self.seed, what, list(self.trace), invariant)

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
        skewed = self.faults_on and self.rng.random() < self.opt.skew_p
        self.clock_rates[node_id] = self.rng.uniform(0.5, 1.6) if skewed else 1.0
        self.clock_debt[node_id] = 0.0
        self.checker.on_start(node)
        self._log(
            f"start {node_id} term={node.term} commit={node.commit_index} last={node.last_index}"
            f" clock={self.clock_rates[node_id]:.2f}"
        )

    def live(self) -> list[int]:
        return sorted(self.nodes)

    def leader(self) -> RaftNode | None:
        best = None
        for node in self.nodes.values():
            if node.role == Role.LEADER and (best is None or node.term > best.term):
                best = node
        return best

    def _reachable_leader(self) -> RaftNode | None:
        """The leader, unless its process is paused (a paused process takes no requests)."""
        leader = self.leader()
        return None if leader is None or leader.id in self.paused else leader

    def _after_event(self, node_id: int, was_leader: bool) -> None:
        node = self.nodes.get(node_id)
        if node is None:
            return
        if self.checker.after_event(node, was_leader):
            self.stats["elections"] += 1
            self._log(f"leader {node_id} term={node.term} last={node.last_index}")

    # ------------------------------------------------------------------ network

    def _send(self, msg: Message) -> None:
        self.checker.on_send(msg)
        if msg.to in self.retired:
            return
        copies, delay, lateness = 1, 0, None
        if self.faults_on:
            if self.rng.random() < self.opt.drop_p:
                if msg.to in self.nodes and (msg.frm, msg.to) not in self.blocked:
                    self.faults["drops"] += 1  # it would have arrived
                return
            if self.rng.random() < self.opt.duplicate_p:
                copies = 2
            timeout = self.raft_config.election_timeout_ticks
            if self.rng.random() < self.opt.long_delay_p:
                delay = self.rng.randint(timeout + 1, self.opt.long_delay_timeouts_max * timeout)
                lateness = "long_delays"
            else:
                delay = self.rng.randint(0, self.opt.delay_ticks_max)
                lateness = "delays" if delay else None
            extra, until = self.congested.get((msg.frm, msg.to), (0, 0))
            if until > self.tick_now:
                delay += extra
                lateness = "congested_links"
        for copy in range(copies):
            self.seq += 1
            extra = self.rng.randint(0, self.opt.delay_ticks_max) if copy else 0
            late = lateness if lateness or not extra else "delays"
            item = _InFlight(self.tick_now + delay + extra, self.seq, msg, late, copy > 0)
            heapq.heappush(self.in_flight, item)

    def _deliver(self, item: _InFlight) -> None:
        msg = item.msg
        link = (msg.frm, msg.to)
        if link in self.blocked:
            partition = self.blocked[link]
            if partition not in self.partitions_felt:
                self.partitions_felt.add(partition)
                self.faults[self.partition_kinds[partition]] += 1
            return
        node = self.nodes.get(msg.to)
        if node is None:
            return
        if self.trace_messages:
            self._log(describe_message(msg) + (f" ({item.late})" if item.late else ""))
        if msg.to in self.slow:
            self.slow[msg.to].activity += 1
        was_leader = node.role == Role.LEADER
        before = self.checker.before_step(node, msg)
        node.step(msg)
        self.steps += 1
        if item.duplicate:
            self.faults["duplicates"] += 1
        if item.late:  # counted once it arrived, late
            self.faults[item.late] += 1
        self.checker.after_step(node, msg, before)
        self._after_event(msg.to, was_leader)

    def _due_messages(self) -> list[_InFlight]:
        due: list[_InFlight] = []
        waiting: list[_InFlight] = []  # for a paused process, which reads nothing
        while self.in_flight and self.in_flight[0].due <= self.tick_now:
            item = heapq.heappop(self.in_flight)
            (waiting if item.msg.to in self.paused else due).append(item)
        for item in waiting:
            heapq.heappush(self.in_flight, item)
        due.sort(key=lambda item: item.seq)
        if self.faults_on:
            self.rng.shuffle(due)  # reorder, across and within links
        return due

    # ------------------------------------------------------------------ ready handling

    def _handle_ready(self, node_id: int) -> bool:
        if node_id in self.paused:
            return False
        slow = self.slow.get(node_id)
        if slow is not None:
            if slow.due > self.tick_now:
                return False
            del self.slow[node_id]
            if slow.activity:
                self.faults["slow_fsyncs"] += 1
            self._persist_and_send(node_id, slow.ready, slow.late)
            return True
        node = self.nodes[node_id]
        if not node.has_ready():
            return False
        rd = node.ready()
        self.checker.on_ready(node, rd)
        writes = bool(rd.entries) or rd.snapshot is not None or rd.hard_state is not None
        if self.faults_on and writes and self.rng.random() < self.opt.slow_fsync_p:
            due = self.tick_now + self.rng.randint(1, self.opt.slow_fsync_ticks_max)
            early: list[Message] = []
            late = rd.messages
            if self.opt.leader_appends_before_fsync and node.role == Role.LEADER:
                early = [m for m in rd.messages if isinstance(m, AppendRequest)]
                late = tuple(m for m in rd.messages if not isinstance(m, AppendRequest))
            self.slow[node_id] = _SlowWrite(rd, due, late)
            self._log(f"slow fsync on {node_id} until t{due}, {len(early)} appends sent")
            for msg in early:
                self._send(msg)
            return True
        self._persist_and_send(node_id, rd, rd.messages)
        return True

    def _write_fault_for(self, rd: Ready) -> str | None:
        """At most one fault for the host's handling of this Ready, among those it can hit."""
        if not self.faults_on:
            return None
        roll = self.rng.random()
        if roll < self.opt.crash_during_persist_p:
            options = ["crash_in_flush", "crash_in_flush", "crash_before_send"]
            if rd.hard_state is not None:
                options.append("crash_in_hard_state")
            return self.rng.choice(options)
        if roll < self.opt.crash_during_persist_p + self.opt.write_error_p:
            options = []
            if rd.entries:
                options.append("append_error")
            if rd.entries or rd.snapshot is not None:
                options.append("flush_error")
            if rd.hard_state is not None:
                options.append("hard_state_error")
            if rd.snapshot is not None:
                options.append("snapshot_error")
            return self.rng.choice(options) if options else None
        return None

    def _persist_and_send(self, node_id: int, rd: Ready, messages: tuple[Message, ...]) -> None:
        node, disk = self.nodes[node_id], self.disks[node_id]
        if rd.snapshot is not None:
            self.stats["snapshot_installs"] += 1
            self._log(f"install snapshot {node_id} at {rd.snapshot.meta.index}")
        fault = self._write_fault_for(rd)
        if fault in WRITE_FAULTS:
            disk.arm(fault, self.rng)
        try:
            raft_api.persist_ready(disk, rd)  # snapshot, entries, flush, hard state
        except SimCrash:
            self._crash(node_id, rd)
            return
        except OSError as error:
            if disk.fired is None:
                raise  # not a fault we injected
            kind = "failed_hard_state_writes" if disk.fired == "hard_state_error" else None
            self.faults[kind or "storage_write_errors"] += 1
            self._log(f"write error on {node_id} ({error}): the host stops the replica")
            self._crash(node_id, rd, counted=False)
            return
        finally:
            disk.disarm()
        self.checker.after_persist(disk)
        if fault == "crash_before_send":  # everything durable, nothing sent
            if messages:
                self.faults["crashes_before_send"] += 1
            self._crash(node_id)
            return
        for msg in messages:
            self._send(msg)
        self._apply(node_id, rd)
        was_leader = node.role == Role.LEADER
        node.advance(rd)
        self.steps += 1
        self._after_event(node_id, was_leader)

    def _apply(self, node_id: int, rd: Ready) -> None:
        machine, node = self.machines[node_id], self.nodes[node_id]
        if rd.snapshot is not None:
            meta = rd.snapshot.meta
            machine.values = json.loads(rd.snapshot.data) if rd.snapshot.data else []
            machine.applied = meta.index
        for entry in rd.committed_entries:
            if entry.index != machine.applied + 1:
                self.fail(
                    f"node {node_id} applied {entry.index} after {machine.applied}",
                    "applied in order",
                )
            self.checker.on_apply(node, entry)
            machine.applied = entry.index
            if entry.kind == EntryKind.NORMAL:
                machine.values.append(entry.data)
                if self.proposed.get(entry.data) == node_id:
                    self.acked.add(entry.data)

    # ------------------------------------------------------------------ faults

    def _crash(self, node_id: int, rd: Ready | None = None, counted: bool = True) -> None:
        """The process dies: unflushed writes are lost (a prefix may survive, torn)."""
        disk = self.disks[node_id]
        slow = self.slow.pop(node_id, None)
        if slow is not None:  # its fsync was running: the writes are in the page cache
            rd = slow.ready
            disk.arm("crash_in_flush", self.rng)
            try:
                raft_api.persist_ready(disk, rd)
            except SimCrash:
                pass
            finally:
                disk.disarm()
        tear = self.rng.random() < self.opt.torn_write_p
        lost, torn = disk.crash(self.rng, tear)
        if counted:
            self.faults["crashes"] += 1
        if lost:
            self.faults["lost_writes"] += 1
        if torn:
            self.faults["torn_writes"] += 1
        hard_state_lost = (
            rd is not None
            and rd.hard_state is not None
            and disk.durable.hard_state() != rd.hard_state
        )
        if hard_state_lost:
            self.faults["lost_hard_state_writes"] += 1
        self._remove(node_id)
        self._log(
            f"crash {node_id} writes_lost={lost} torn={torn} hard_state_lost={hard_state_lost}"
        )

    def _remove(self, node_id: int) -> None:
        del self.nodes[node_id]
        del self.machines[node_id]
        self.paused.pop(node_id, None)
        self.slow.pop(node_id, None)
        self.checker.on_stop(node_id)

    def _wipe(self, node_id: int) -> None:
        """The node's disk is gone: retire the identity, start a blank replacement."""
        if node_id in self.nodes:
            self._remove(node_id)
        self.retired.add(node_id)
        new_id = self.next_id
        self.next_id += 1
        self.disks[new_id] = SimDisk(new_id, MemoryStorage(), self.checker)
        self._start(new_id)
        self.replacements.extend(
            (("remove", node_id, "wipe"), ("add", new_id, "wipe"), ("promote", new_id, "wipe"))
        )
        self.faults["wipes"] += 1
        self._log(f"wipe {node_id} -> replacement {new_id}")

    def _pick(self, candidates: list[int]) -> int:
        leader = self.leader()
        biased = self.rng.random() < self.opt.leader_bias_p
        if biased and leader is not None and leader.id in candidates:
            return leader.id
        return self.rng.choice(candidates)

    def _random_faults(self) -> None:
        rng, opt = self.rng, self.opt
        everyone = sorted(set(self.disks) - self.retired)
        if rng.random() < opt.partition_p and len(everyone) > 1:
            group = set(rng.sample(everyone, rng.randint(1, len(everyone) // 2)))
            leader = self.leader()
            if leader is not None and rng.random() < opt.leader_bias_p:
                group = {leader.id} | set(list(group)[1:])
            one_way = rng.random() < opt.one_way_p
            partition = len(self.partition_kinds)
            self.partition_kinds[partition] = "one_way_partitions" if one_way else "partitions"
            for a in sorted(group):
                for b in everyone:
                    if b not in group:
                        self.blocked.setdefault((a, b), partition)
                        if not one_way:
                            self.blocked.setdefault((b, a), partition)
            self._log(f"partition {sorted(group)} one_way={one_way}")
        leader = self.leader()
        if leader is not None and rng.random() < opt.congestion_p:
            peer = rng.choice(sorted(set(everyone) - {leader.id}) or [leader.id])
            link = (leader.id, peer) if rng.random() < 0.5 else (peer, leader.id)
            extra = rng.randint(2, opt.congestion_delay_ticks_max)
            self.congested[link] = (extra, self.tick_now + rng.randint(3, opt.congestion_ticks_max))
            self._log(f"congestion {link[0]}->{link[1]} +{extra} ticks")
        if self.blocked and rng.random() < opt.heal_p:
            if set(self.blocked.values()) & self.partitions_felt:
                self.faults["heals"] += 1  # it let through what a partition was stopping
            self.blocked.clear()
            self._log("heal")
        live = self.live()
        if live and rng.random() < opt.crash_p:
            self._crash(self._pick(live))
        awake = [n for n in self.live() if n not in self.paused]
        if awake and rng.random() < opt.pause_p:
            node_id = self._pick(awake)
            ticks = rng.randint(1, opt.pause_ticks_max)
            self.paused[node_id] = self.tick_now + 1 + ticks
            self._log(f"pause {node_id} for {ticks} ticks")
        down = sorted(set(self.disks) - self.retired - set(self.nodes))
        if down and rng.random() < opt.restart_p:
            self.faults["restarts"] += 1
            self._start(rng.choice(down))
        live = self.live()
        if live and not self.replacements and rng.random() < opt.wipe_p:
            self._wipe(rng.choice(live))
        leader = self.leader()
        if leader is not None and not self.replacements and rng.random() < opt.churn_p:
            # Remove a member and add it back under the same id: its disk is intact, so it
            # may rejoin (unlike a wiped one); it catches up as a learner first.
            node = rng.choice(sorted(leader.members))
            self.replacements.extend(
                (("remove", node, "churn"), ("add", node, "churn"), ("promote", node, "churn"))
            )
            self._log(f"churn {node}")
        if rng.random() < opt.snapshot_p and self.nodes:
            node_id = self._pick(self.live())
            if node_id not in self.paused:
                self._snapshot(node_id)
        if rng.random() < opt.early_election_p:
            self._early_election()
        leader = self._reachable_leader()
        if leader is not None and rng.random() < opt.transfer_p:
            target = rng.choice(sorted(leader.voters))
            before = leader.lead_transferee
            with contextlib.suppress(NotLeaderError):
                leader.transfer_leadership(target)
            if leader.lead_transferee == target != before:
                self.faults["transfers"] += 1
                self._log(f"transfer {leader.id} -> {target}")

    def _early_election(self) -> None:
        """A follower's timer fires early (a clock jump): it campaigns now."""
        leader = self.leader()
        voters = leader.voters if leader is not None else frozenset(self.nodes)
        candidates = [
            i
            for i in sorted(voters)
            if i in self.nodes and i not in self.paused and self.nodes[i].role != Role.LEADER
        ]
        if not candidates:
            return
        node = self.nodes[self.rng.choice(candidates)]
        role = node.role
        node.campaign()
        if node.role != role:
            self.faults["early_elections"] += 1
            self._log(f"early election by {node.id}: {node.role.value} term={node.term}")
        self._after_event(node.id, False)

    def _snapshot(self, node_id: int) -> None:
        node, machine, disk = self.nodes[node_id], self.machines[node_id], self.disks[node_id]
        index = machine.applied
        if index <= node.snapshot_index():  # on disk, or received and still being written
            return
        disk.create_snapshot(index, node.conf_at(index), machine.data())
        self.faults["snapshots"] += 1
        self._log(f"snapshot {node_id} at {index}")

    def _ticks_for(self, node_id: int) -> int:
        """How many ticks this node's clock takes in this tick of the simulation."""
        if node_id in self.paused:
            if self.paused[node_id] > self.tick_now:
                if node_id not in self.pauses_felt:
                    self.pauses_felt.add(node_id)
                    self.faults["pauses"] += 1
                return 0
            del self.paused[node_id]
            self.pauses_felt.discard(node_id)
            self._log(f"resume {node_id}")
        if not self.faults_on:
            return 1
        self.clock_debt[node_id] += self.clock_rates[node_id]
        ticks = int(self.clock_debt[node_id])
        self.clock_debt[node_id] -= ticks
        if ticks != 1:
            self.faults["clock_skews"] += 1
        return ticks

    # ------------------------------------------------------------------ workload

    def _propose(self) -> None:
        leader = self._reachable_leader()
        if self.rng.random() < self.opt.stale_route_p:
            # A client with stale routing: whoever believes it leads takes the proposal; a
            # stale leader's entries are rightly lost, and leave divergent logs behind.
            believers = [
                n
                for i, n in sorted(self.nodes.items())
                if n.role == Role.LEADER and i not in self.paused
            ]
            leader = self.rng.choice(believers) if believers else None
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
        self._after_event(leader.id, True)

    def _supervise(self) -> None:
        """Carry out membership tasks through whoever leads: ("remove", id), ("add", id) as a
        learner, ("promote", id) once it has caught up. A task is done once committed. Under
        faults the supervisor may also propose the next task at once, without waiting."""
        if not self.replacements:
            return
        leader = self._reachable_leader()
        if leader is None:
            return
        self._membership_task(leader, self.replacements[0], head=True)
        if (
            self.faults_on
            and len(self.replacements) >= 2
            and leader.role == Role.LEADER
            and self.rng.random() < self.opt.concurrent_conf_p
        ):
            self._membership_task(leader, self.replacements[1], head=False)

    def _membership_task(self, leader: RaftNode, task: tuple[str, int, str], head: bool) -> None:
        action, node, why = task
        conf = leader.conf
        done = {
            "remove": node not in conf.members,
            "add": node in conf.members,
            "promote": node in conf.voters,
        }[action]
        if done:
            if head and leader.conf_at(leader.commit_index) == conf:  # committed, not appended
                self.replacements.popleft()
                self._log(f"membership {action} {node} done")
            return
        # Another change, or this leader's first entry, is not committed yet.
        in_flight = (
            leader.conf_at(leader.commit_index) != conf
            or leader.term_at(leader.commit_index) != leader.term
        )
        if action == "remove":
            change = ConfChange(ConfChangeKind.REMOVE, node)
        elif action == "add":
            change = ConfChange(ConfChangeKind.ADD_LEARNER, node, priority=1)
        else:
            pr = leader.progress().get(node)
            if pr is None or pr.match_index < leader.commit_index:
                return  # not caught up yet
            change = ConfChange(ConfChangeKind.PROMOTE, node)
        if in_flight and self.faults_on:
            self.faults["concurrent_conf_changes"] += 1  # a correct leader refuses it
        try:
            leader.propose_conf_change(change)
        except (ConfChangeError, NotLeaderError, ProposalDroppedError):
            return
        if why == "churn" and action == "remove":
            self.faults["churns"] += 1
        self.stats["conf_changes"] += 1
        self._log(
            f"conf change by {leader.id}: {action} {node}, conf now "
            f"{sorted(leader.voters)}/{sorted(leader.learners)}"
        )
        self._after_event(leader.id, True)  # a smaller quorum may commit more at once

    # ------------------------------------------------------------------ the loop

    def _run_tick(self) -> None:
        self.tick_now += 1
        for node_id in self.live():
            for _ in range(self._ticks_for(node_id)):
                node = self.nodes.get(node_id)
                if node is None:
                    break
                was_leader = node.role == Role.LEADER
                self.checker.on_tick(node)
                if node_id in self.slow:
                    self.slow[node_id].activity += 1
                node.tick()
                self._after_event(node_id, was_leader)
        if self.faults_on:
            self._random_faults()
        if self.random_proposals and self.rng.random() < self.opt.propose_p:
            self._propose()
        self._supervise()
        progressed = True
        for _ in range(self.opt.events_per_tick_max):
            progressed = False
            order = self.live()
            self.rng.shuffle(order)
            for node_id in order:
                if node_id in self.nodes and self._handle_ready(node_id):
                    progressed = True
            for item in self._due_messages():
                self._deliver(item)
                progressed = True
            if not progressed:
                break
        if progressed:
            self.fail(
                f"still busy after {self.opt.events_per_tick_max} rounds in one tick: a message "
                f"storm",
                "runaway",
            )
        if self.steps > self.opt.steps_max:
            self.fail(f"more than {self.opt.steps_max} steps: a runaway", "runaway")

    def run(self) -> SimResult:
        try:
            for _ in range(self.opt.fault_ticks):
                self._run_tick()
            self._liveness()
        except SimulationFailure:
            raise
        except Exception as error:  # an assertion inside raft, or a storage refusal
            kind = "raft assertion" if isinstance(error, AssertionError) else "exception"
            self.fail(f"{type(error).__name__}: {error}", kind)
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
        self.paused.clear()
        for node_id in sorted(set(self.disks) - self.retired - set(self.nodes)):
            self._start(node_id)
        self._log("faults stop")
        opt = self.opt
        self._await_settled_leader()
        # value -> (tick proposed, leader, its term). A proposal whose leader stops leading
        # before it commits is rightly lost (e.g. check-quorum deposed a leader whose
        # followers had just restarted): the client proposes again, a bounded number of times.
        pending: dict[int, tuple[int, int, int]] = {}
        proposed = reproposed = 0
        while proposed < opt.liveness_proposals or pending:
            leader = self._settled_leader()
            if proposed < opt.liveness_proposals and leader is not None:
                try:
                    leader.propose(self.next_value)
                    self.proposed[self.next_value] = leader.id
                    pending[self.next_value] = (self.tick_now, leader.id, leader.term)
                    self.next_value += 1
                    proposed += 1
                    self._after_event(leader.id, True)
                except (NotLeaderError, ProposalDroppedError):
                    pass  # e.g. a priority transfer in progress: the client retries
            self._run_tick_quiet()
            for value, (at, by, term) in list(pending.items()):
                proposer = self.nodes.get(by)
                if value in self.acked:
                    del pending[value]
                    self.stats["liveness_commit_ticks_max"] = max(
                        self.stats.get("liveness_commit_ticks_max", 0), self.tick_now - at
                    )
                elif proposer is None or proposer.role != Role.LEADER or proposer.term != term:
                    del pending[value]
                    proposed -= 1
                    reproposed += 1
                    self.stats["liveness_reproposals"] = reproposed
                    self._log(f"liveness: leader {by} of term {term} lost {value}: propose again")
                    if reproposed > LIVENESS_REPROPOSALS_MAX:
                        self._liveness_failure(
                            f"leadership changed {reproposed} times after faults stopped"
                        )
                    if self._settled_leader() is None:
                        self._await_settled_leader()
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

    def _await_settled_leader(self) -> None:
        opt, start = self.opt, self.tick_now
        while self._settled_leader() is None or self.replacements:
            if self.tick_now - start >= opt.leader_ticks_max:
                self._liveness_failure(
                    f"no settled leader {opt.leader_ticks_max} ticks after faults stopped"
                )
            self._run_tick_quiet()
        self.stats["liveness_leader_ticks"] = max(
            self.stats.get("liveness_leader_ticks", 0), self.tick_now - start
        )
        self._log(f"liveness: leader {self.leader().id} after {self.tick_now - start} ticks")

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
            f"{[(n.id, n.role.value, n.term, n.commit_index, n.last_index) for n in self.nodes.values()]}",
            "liveness",
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
            self.fail(f"acknowledged proposals lost: {lost[:10]}", "acknowledged stays committed")
        for member in sorted(leader.members):
            values = self.machines[member].values
            if values != expected:
                self.fail(
                    f"node {member} state differs from the committed log", "replicas converge"
                )
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
        raft_api.persist_ready(self.storages[node_id], rd)
        if rd.snapshot is not None:
            self.values[node_id] = json.loads(rd.snapshot.data) if rd.snapshot.data else []
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
    """`python -m raybee.raft.testing SEED [--trace] [--messages]`: replay one seed.

    RAYBEE_MUTANT=name plants one of raft/mutations.py's bugs first (to replay a catch)."""
    import argparse

    from .mutations import planted_from_env

    parser = argparse.ArgumentParser(prog="python -m raybee.raft.testing")
    parser.add_argument("seed", type=int)
    parser.add_argument("--trace", action="store_true", help="print the whole trace")
    parser.add_argument("--messages", action="store_true", help="trace every delivered message")
    opts = parser.parse_args(argv)
    with planted_from_env() as mutant:
        if mutant is not None:
            print(f"mutant planted: {mutant.name} ({mutant.bug})")
        sim = Simulator(opts.seed, trace_messages=opts.messages)
        try:
            result = sim.run()
        except SimulationFailure as failure:
            if opts.trace:
                print("\n".join(failure.trace))
                print("---")
            print(failure)
            return 1
    if opts.trace:
        print("\n".join(sim.trace))
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

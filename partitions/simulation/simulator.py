"""A seeded simulator of one replicated partition: one seed chooses every fault.

Three replicas (real journals, real RocksDB, in a temporary directory), clients that submit job
and BPMN commands with request ids and retry them (same ids) after a timeout, a lost answer or
an unknown outcome, and a supervisor that replaces a replica that lost its disk. Time is
simulated in milliseconds: replicas tick every `tick_ms`, messages arrive after a latency.
Faults (faults.py) are those of the Raft simulator (`raft/testing.py`) plus the composition's:
crashes at every step of the processing cycle, RocksDB memtable loss, snapshot installs
interrupted half-way and chunks damaged on the way, replacement with an empty disk.

Checks (history.py) run as things happen - committed records never change, answers only after
commit, equal state at equal processed positions, no key minted twice, no job completed twice
- and at the end over the whole history: every command answered once in the log, exactly once
with retries, every acknowledged command committed. Then a liveness phase: faults stop, crashed
replicas restart, and within bounds every request must be answered and the replicas converge.

A failure raises `SimulationFailure` with the seed, the invariant and the trace; it replays
exactly: `python -m raybee.partitions.simulation SEED --trace`.
"""

import contextlib
import dataclasses
import errno
import heapq
import random
import shutil
import tempfile
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.protocol import (
    JobBatchIntent,
    JobIntent,
    JobRecordValue,
    Record,
    ValueType,
)
from raybee.partitions.replica import (
    BackpressureError,
    MemoryState,
    NotLeaderError,
    PartitionReplica,
    ReplicaClosedError,
    ReplicaConfig,
    RocksDBState,
)
from raybee.partitions.testing import (
    FakeClock,
    activate,
    create,
    create_instance,
    deploy,
    job_command,
    one_task_process,
)
from raybee.raft import ConfChangeError, RaftConfig, RaftError, SnapshotChunk

from .faults import (
    CRASH_POINT_KINDS,
    FAULT_KINDS,
    SimCrash,
    lose_memtables,
    lose_unflushed,
)
from .history import HistoryChecker, Violation

TRACE_LINES_MAX = 400
PROCESS_ID = "sim-process"
TASK_TYPE = "task"
JOB_TYPE = "a"
# A replica's state digest is compared at most this often (it reads the whole store).
DIGEST_EVERY_MS = 40
# The client that holds job streams open (push) on the replica it thinks leads: jobs are
# activated for them at once (leader-local input: what a deposed leader did may differ).
STREAM_CLIENT = 2
STREAMS = ((1, TASK_TYPE), (2, JOB_TYPE))
# Fault points reached on every batch or Ready (the others: snapshots, installs, rebuilds).
FREQUENT_POINTS = frozenset({"after_batch", "after_persist", "after_commit"})


class SimulationFailure(AssertionError):
    def __init__(self, seed: int, invariant: str, what: str, trace: list[str]) -> None:
        tail = "\n".join(trace[-60:])
        super().__init__(
            f"seed {seed}: [{invariant}] {what}\n  replay: python -m "
            f"raybee.partitions.simulation {seed} --trace\n--- trace tail ---\n{tail}"
        )
        self.seed = seed
        self.invariant = invariant
        self.what = what
        self.trace = trace


@dataclass(frozen=True)
class SimOptions:
    fault_ms: int = 1_500  # simulated time with faults and new requests
    liveness_ms_max: int = 8_000  # then: every request answered, replicas converged, within
    tick_ms: int = 10
    election_timeout_ticks: int = 10
    clients: int = 3
    requests_in_flight_per_client: int = 3
    client_timeout_ms: int = 250
    # Clients (a gateway) know which replicas are up and send only to those (the promotion
    # benchmark: it measures the replica, not how long clients knock on a dead one's door).
    clients_know_live_replicas: bool = False
    latency_ms_max: int = 3
    # network (per message)
    drop_p: float = 0.03
    duplicate_p: float = 0.02
    delay_p: float = 0.05
    delay_ms_max: int = 30
    long_delay_p: float = 0.005
    # per tick
    partition_p: float = 0.01
    one_way_p: float = 0.4
    heal_p: float = 0.06
    pause_p: float = 0.01
    pause_ms_max: int = 300
    skew_p: float = 0.3  # per replica start: its clock runs at a rate in [0.5, 1.6)
    crash_p: float = 0.012
    restart_p: float = 0.08
    wipe_p: float = 0.002
    transfer_p: float = 0.005
    leader_bias_p: float = 0.5  # a crash, pause or partition aims at the leader
    # per fault point reached (replica.FAULT_POINTS; the rare points more often) and per
    # storage write
    crash_point_p: float = 0.004
    rare_crash_point_p: float = 0.1
    # per batch processed: the leader is cut off right after proposing it (its state is ahead
    # of commit when it is deposed: the rebuild path)
    isolate_after_batch_p: float = 0.01
    flush_crash_p: float = 0.004
    torn_p: float = 0.5
    hard_state_crash_p: float = 0.05  # per term or vote change written
    write_error_p: float = 0.001
    memtable_loss_p: float = 0.5  # per crash
    chunk_corruption_p: float = 0.05  # per snapshot chunk
    install_interrupt_p: float = 0.05  # per snapshot chunk (not the last)
    lost_request_p: float = 0.02
    lost_response_p: float = 0.03
    snapshot_interval_positions: int = 60
    snapshot_chunk_bytes_max: int = 16 * 1024
    # Seeds whose replicas keep their state in RocksDB (the rest: in memory, same code above
    # the store, 20x cheaper to open and checkpoint). Memtable loss needs RocksDB.
    rocksdb_p: float = 0.25


@dataclass
class SimReport:
    seed: int
    simulated_ms: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    promotion_ms: list[int] = field(default_factory=list)


@dataclass
class _Request:
    rid: int
    command: Record
    sent_ms: int = 0
    attempts: int = 0
    target: int | None = None
    answer: Record | None = None


class _Client:
    def __init__(self, rsid: int) -> None:
        self.rsid = rsid
        self.next_rid = 0
        self.leader_hint: int | None = None
        self.pending: dict[int, _Request] = {}
        self.activated: list[int] = []  # job keys this client may complete or fail
        self.deployed = False
        self.stream_replica: PartitionReplica | None = None  # where its job stream is open


class _Host:
    """A replica slot: its directory, its process (None while down) and its clock."""

    def __init__(self, replica_id: int, directory: Path, rate: float) -> None:
        self.id = replica_id
        self.dir = directory
        self.replica: PartitionReplica | None = None
        self.rate = rate
        self.debt = 0.0
        self.paused_until = 0
        self.pause_felt = False
        self.seen_position = 0  # committed records already handed to the checker
        self.digest_position = 0
        self.digest_ms = -(10**9)
        self.clock = FakeClock(0)
        self.was_leader_term = 0
        self.promotion_seen: int | None = None
        # An input reached the replica since it last had nothing ready (a message, a tick,
        # a command, a start): only then can it have something ready.
        self.dirty = True


class PartitionSimulator:
    def __init__(
        self,
        seed: int,
        options: SimOptions | None = None,
        trace_all: bool = False,
        root: str | None = None,
    ) -> None:
        self.seed = seed
        self.opt = options or SimOptions()
        self.rng = random.Random(seed)
        # Half the seeds crash often (every step of the cycle), half mostly partition the
        # leader (deposed leaders live on with what they did: the rebuild path).
        self.profile = self.rng.choice(("crashes", "partitions"))
        if self.profile == "partitions":
            self.opt = dataclasses.replace(
                self.opt,
                crash_p=self.opt.crash_p / 4,
                crash_point_p=self.opt.crash_point_p / 4,
                flush_crash_p=self.opt.flush_crash_p / 4,
                partition_p=self.opt.partition_p * 3,
                isolate_after_batch_p=self.opt.isolate_after_batch_p * 4,
            )
        self.trace: deque[str] = deque(maxlen=None if trace_all else TRACE_LINES_MAX)
        self.faults = dict.fromkeys(FAULT_KINDS, 0)
        self.counts: Counter = Counter()
        self.history = HistoryChecker()
        base = root or ("/dev/shm" if Path("/dev/shm").is_dir() else None)
        self.root = Path(tempfile.mkdtemp(prefix=f"raybee-sim-{seed}-", dir=base))
        self.now = 0
        self.seq = 0
        self.network: list = []  # heap of (due ms, seq, kind, payload)
        self.blocked: dict[tuple[int, int], int] = {}  # link -> partition id
        self.partition_kinds: dict[int, str] = {}
        self.partitions_felt: set[int] = set()
        self.partition_seq = 0
        self.faults_on = False  # not while the founding members bootstrap
        self.promotion_ms: list[int] = []
        self.replica_stats: Counter = Counter()  # of replicas that crashed since
        opt = self.opt
        self.config = ReplicaConfig(
            tick_ms=opt.tick_ms,
            raft=RaftConfig(
                election_timeout_ticks=opt.election_timeout_ticks,
                heartbeat_interval_ticks=1,
                max_inflight_appends=self.rng.choice((2, 8, 64)),
                max_entries_per_append=self.rng.choice((4, 64)),
                snapshot_chunk_bytes_max=opt.snapshot_chunk_bytes_max,
                pre_vote=self.rng.random() < 0.8,
                check_quorum=self.rng.random() < 0.8,
            ),
            snapshot_interval_positions=opt.snapshot_interval_positions,
            due_check_ticks=self.rng.choice((1, 5)),
            commands_per_batch_max=self.rng.choice((1, 4, 200)),
            segment_size_bytes_max=64 * 1024,
        )
        self.state = RocksDBState() if self.rng.random() < opt.rocksdb_p else MemoryState()
        self.hosts: dict[int, _Host] = {}
        self.retired: set[int] = set()
        self.next_id = 4
        voters = {i: (self.rng.randrange(3) if self.rng.random() < 0.3 else 0) for i in (1, 2, 3)}
        for replica_id in voters:
            self._new_host(replica_id)
            self._start(replica_id)
            self.hosts[replica_id].replica.bootstrap(voters)
        self.clients = [_Client(rsid) for rsid in range(1, opt.clients + 1)]
        self.faults_on = True
        self._log(
            f"seed {seed}: voters {voters}, state {self.state.name}, profile {self.profile}, "
            f"config {self.config}"
        )

    # ------------------------------------------------------------------ helpers
    def _log(self, line: str) -> None:
        self.trace.append(f"[{self.now}ms] {line}")

    def fail(self, invariant: str, what: str) -> None:
        raise SimulationFailure(self.seed, invariant, what, list(self.trace))

    def _new_host(self, replica_id: int) -> _Host:
        skewed = self.rng.random() < self.opt.skew_p
        rate = self.rng.uniform(0.5, 1.6) if skewed else 1.0
        host = _Host(replica_id, self.root / f"replica-{replica_id}", rate)
        self.hosts[replica_id] = host
        return host

    def _start(self, replica_id: int) -> None:
        host = self.hosts[replica_id]
        host.clock.now_ms = self.now
        replica = PartitionReplica.open(
            host.dir,
            partition_id=1,
            replica_id=replica_id,
            partition_count=1,
            clock=host.clock,
            rng=random.Random(self.rng.getrandbits(64)),
            config=self.config,
            faults=lambda point, rid=replica_id: self._fault_point(rid, point),
            state=self.state,
        )
        self._wrap_storage(replica_id, replica)
        host.replica = replica
        host.dirty = True
        host.seen_position = replica.committed_position
        host.digest_position = 0
        self._log(
            f"start {replica_id}: term {replica.term}, committed position "
            f"{replica.committed_position}, processed {replica.processed_position}"
        )

    def _wrap_storage(self, replica_id: int, replica: PartitionReplica) -> None:
        """Faults inside the Raft storage's writes (the test's liberty: instance attributes)."""
        storage = replica._storage
        real_flush, real_append, real_hard = storage.flush, storage.append, storage.set_hard_state

        def flush():
            if self.faults_on and self.rng.random() < self.opt.flush_crash_p:
                self._crashing = (replica_id, "flush")
                raise SimCrash("crash inside the journal flush")
            real_flush()

        def append(entries):
            if self.faults_on and entries and self.rng.random() < self.opt.write_error_p:
                self._crashing = (replica_id, "write_error")
                raise OSError(errno.ENOSPC, "simulated: no space left appending entries")
            real_append(entries)

        def set_hard_state(hard_state):
            stored = storage._stored_hard_state
            changes_vote = (hard_state.term, hard_state.vote) != (stored.term, stored.vote)
            if self.faults_on and changes_vote and self.rng.random() < self.opt.hard_state_crash_p:
                self._crashing = (replica_id, "hard_state")
                raise SimCrash("crash before the hard state reached the disk")
            real_hard(hard_state)

        storage.flush, storage.append, storage.set_hard_state = flush, append, set_hard_state

    def _fault_point(self, replica_id: int, point: str) -> None:
        if (
            point == "after_batch"
            and self.faults_on
            and self.rng.random() < self.opt.isolate_after_batch_p
        ):
            self._partition(replica_id, one_way=False)
        p = self.opt.crash_point_p if point in FREQUENT_POINTS else self.opt.rare_crash_point_p
        if self.faults_on and self.rng.random() < p:
            self._crashing = (replica_id, point)
            raise SimCrash(f"crash at {point}")

    _crashing: tuple[int, str] | None = None

    def live(self) -> list[int]:
        return sorted(i for i, h in self.hosts.items() if h.replica is not None)

    def leader(self) -> PartitionReplica | None:
        best = None
        for host in self.hosts.values():
            r = host.replica
            if r is not None and r.role == "leader" and (best is None or r.term > best.term):
                best = r
        return best

    def _pick(self, ids: list[int]) -> int | None:
        if not ids:
            return None
        leader = self.leader()
        biased = leader is not None and leader.replica_id in ids
        if biased and self.rng.random() < self.opt.leader_bias_p:
            return leader.replica_id
        return self.rng.choice(ids)

    # ------------------------------------------------------------------ calling replicas
    def _call(self, replica_id: int, fn, *args):
        """Call into a replica; a crash raised inside stops it (as the host would)."""
        self.hosts[replica_id].dirty = True
        try:
            return fn(*args)
        except SimCrash:
            where = self._crashing[1] if self._crashing else "?"
            self._crash(replica_id, where)
        except OSError as error:
            if self._crashing is None or self._crashing[1] != "write_error":
                raise
            self.faults["storage_write_errors"] += 1
            self._log(f"write error on {replica_id} ({error}): the host stops the replica")
            self._crash(replica_id, "write_error", counted=False)
        finally:
            self._crashing = None
        return None

    def _crash(self, replica_id: int, where: str = "plain", counted: bool = True) -> None:
        host = self.hosts[replica_id]
        replica = host.replica
        if replica is None:
            return
        host.replica = None
        self.replica_stats.update(replica.stats)
        if where == "flush":
            lost, torn = lose_unflushed(
                replica._storage, self.rng, self.rng.random() < self.opt.torn_p
            )
            self.faults["lost_writes"] += lost
            self.faults["torn_writes"] += torn
        elif where == "hard_state":
            self.faults["lost_hard_state_writes"] += 1
        elif where in CRASH_POINT_KINDS:
            self.faults[CRASH_POINT_KINDS[where]] += 1
        elif counted:
            self.faults["crashes"] += 1
        replica.crash()
        rocksdb = isinstance(self.state, RocksDBState)
        lose = rocksdb and self.faults_on and self.rng.random() < self.opt.memtable_loss_p
        if lose and lose_memtables(host.dir, host.dir / "snapshots"):
            self.faults["memtable_losses"] += 1
        self._log(f"crash {replica_id} ({where})")

    # ------------------------------------------------------------------ network
    def _schedule(self, delay_ms: int, kind: str, payload) -> None:
        self.seq += 1
        heapq.heappush(self.network, (self.now + delay_ms, self.seq, kind, payload))

    def _latency(self) -> int:
        return self.rng.randint(0, self.opt.latency_ms_max)

    def _send_raft(self, message) -> None:
        if message.to in self.retired:
            return
        opt = self.opt
        delay = self._latency()
        late = None
        if self.faults_on:
            if self.rng.random() < opt.drop_p:
                target = self.hosts.get(message.to)
                reachable = (message.frm, message.to) not in self.blocked
                if target is not None and target.replica is not None and reachable:
                    self.faults["drops"] += 1
                return
            if self.rng.random() < opt.long_delay_p:
                timeout_ms = opt.election_timeout_ticks * opt.tick_ms
                delay += self.rng.randint(timeout_ms + 1, 3 * timeout_ms)
                late = "long_delays"
            elif self.rng.random() < opt.delay_p:
                delay += self.rng.randint(1, opt.delay_ms_max)
                late = "delays"
            if self.rng.random() < opt.duplicate_p:
                self._schedule(delay + self.rng.randint(0, 5), "raft", (message, "duplicates"))
        self._schedule(delay, "raft", (message, late))

    def _deliver_raft(self, message, late: str | None) -> None:
        link = (message.frm, message.to)
        if link in self.blocked:
            partition = self.blocked[link]
            if partition not in self.partitions_felt:
                self.partitions_felt.add(partition)
                self.faults[self.partition_kinds[partition]] += 1
            return
        host = self.hosts.get(message.to)
        if host is None or host.replica is None:
            return
        chunk = isinstance(message, SnapshotChunk) and self.faults_on and message.data
        if chunk and self.rng.random() < self.opt.chunk_corruption_p:
            data = bytearray(message.data)
            data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
            message = _replace_chunk(message, bytes(data))
            self.faults["corrupted_snapshot_chunks"] += 1
            self._log(f"chunk to {message.to} at offset {message.offset} damaged")
        self._call(host.id, host.replica.step, message)
        if late is not None:
            self.faults[late] += 1
        if (
            isinstance(message, SnapshotChunk)
            and not message.done
            and self.faults_on
            and host.replica is not None
            and self.rng.random() < self.opt.install_interrupt_p
        ) and (host.dir / "snapshots" / "incoming").exists():
            self.faults["interrupted_snapshot_installs"] += 1
            self._crash(host.id, "install interrupted", counted=False)

    # ------------------------------------------------------------------ clients
    def _client_of(self, rsid: int) -> _Client:
        return self.clients[rsid - 1]

    def _next_command(self, client: _Client) -> Record:
        rng = self.rng
        if client.rsid == 1 and not client.deployed and client.next_rid == 0:
            return deploy(("sim.bpmn", one_task_process(PROCESS_ID, TASK_TYPE)))
        roll = rng.random()
        if roll < 0.25:
            return create(job_type=JOB_TYPE, retries=rng.randint(1, 3))
        if roll < 0.40 and self.clients[0].deployed:
            return create_instance(PROCESS_ID, variables={"n": rng.randrange(100)})
        if roll < 0.60 or not client.activated:
            return activate(
                job_type=rng.choice((JOB_TYPE, TASK_TYPE)),
                max_jobs=rng.randint(1, 4),
                timeout_ms=rng.choice((100, 400, 1500)),
                worker=f"w{client.rsid}",
            )
        key = client.activated.pop(rng.randrange(len(client.activated)))
        if roll < 0.9:
            return job_command(JobIntent.COMPLETE, key)
        return job_command(JobIntent.FAIL, key, retries=rng.randint(0, 2))

    def _client_tick(self, client: _Client, new_requests: bool) -> None:
        if client.rsid == STREAM_CLIENT:
            self._keep_stream_open(client)
        if new_requests:
            while len(client.pending) < self.opt.requests_in_flight_per_client:
                command = self._next_command(client)
                request = _Request(client.next_rid, command)
                client.next_rid += 1
                client.pending[request.rid] = request
                self._send_request(client, request)
        for request in list(client.pending.values()):
            if self.now - request.sent_ms >= self.opt.client_timeout_ms:
                self.counts["client_timeouts"] += 1
                self._send_request(client, request)

    def _keep_stream_open(self, client: _Client) -> None:
        """A worker holds a job stream open on the leader it knows (leader-local, lost with
        the replica's process): jobs of TASK_TYPE are pushed to it after commit."""
        host = self.hosts.get(client.leader_hint) if client.leader_hint is not None else None
        replica = host.replica if host is not None else None
        if replica is None or replica is client.stream_replica or replica.role != "leader":
            return
        for stream_id, job_type in STREAMS:
            # One worker per broker, as when each holds its own connection.
            worker = f"stream-{client.rsid}@{replica.replica_id}"
            stream = JobStream(stream_id, job_type, worker, timeout_ms=400)
            with contextlib.suppress(ValueError):  # already open there
                replica.open_job_stream(stream)
        client.stream_replica = replica
        self.counts["streams_opened"] += 1

    def _deliver_push(self, replica_id: int, job_key: int) -> None:
        """A pushed job reaches the stream's worker: it works on it, or hands it back."""
        client = self._client_of(STREAM_CLIENT)
        if self.rng.random() < 0.8:
            client.activated.append(job_key)
            self.counts["jobs_pushed"] += 1
            return
        host = self.hosts.get(replica_id)
        if host is None or host.replica is None:
            return
        yield_command = Record(ValueType.JOB, JobIntent.YIELD, JobRecordValue(), key=job_key)
        try:
            self._call(replica_id, host.replica.submit, [yield_command])
            self.counts["jobs_yielded"] += 1
        except (NotLeaderError, BackpressureError):
            pass

    def _send_request(self, client: _Client, request: _Request) -> None:
        candidates = [i for i in self.hosts if i not in self.retired]
        if self.opt.clients_know_live_replicas:
            candidates = [i for i in candidates if self.hosts[i].replica is not None] or candidates
        target = client.leader_hint
        if target is None or target not in candidates or request.attempts % 3 == 2:
            target = self.rng.choice(candidates)
        request.attempts += 1
        request.sent_ms = self.now
        request.target = target
        if request.attempts > 1:
            self.counts["retries"] += 1
        if self.faults_on and self.rng.random() < self.opt.lost_request_p:
            self.faults["lost_requests"] += 1
            return
        self._schedule(self._latency(), "request", (client.rsid, request.rid, target))

    def _deliver_request(self, rsid: int, rid: int, target: int) -> None:
        client = self._client_of(rsid)
        request = client.pending.get(rid)
        if request is None:
            return
        host = self.hosts.get(target)
        if host is None or host.replica is None or host.paused_until > self.now:
            return  # no answer: the client times out and retries
        command = request.command.stamped(request_stream_id=rsid, request_id=rid)
        try:
            self._call(target, host.replica.submit, [command])
        except NotLeaderError as error:
            client.leader_hint = error.leader_id
            request.sent_ms = self.now - self.opt.client_timeout_ms + 2 * self.opt.tick_ms
            self.counts["not_leader"] += 1
        except BackpressureError:
            self.counts["backpressure"] += 1
        else:
            client.leader_hint = target

    def _deliver_answer(self, rsid: int, rid: int, record: Record | None) -> None:
        client = self._client_of(rsid)
        request = client.pending.get(rid)
        if request is None:
            return
        if record is None:  # unknown outcome: retry with the same ids
            self.counts["unknown_received"] += 1
            self._send_request(client, request)
            return
        del client.pending[rid]
        request.answer = record
        self.history.on_acked((rsid, rid), record)
        self.counts["acked"] += 1
        if record.is_rejection:
            self.counts["acked_rejections"] += 1
        if record.value_type == ValueType.DEPLOYMENT and record.is_event:
            client.deployed = True
        if record.value_type == ValueType.JOB_BATCH and record.intent == JobBatchIntent.ACTIVATED:
            client.activated.extend(record.value.job_keys)

    # ------------------------------------------------------------------ a replica's readies
    def _drain(self, replica_id: int) -> None:
        host = self.hosts[replica_id]
        if not host.dirty:
            return
        for _ in range(50):
            replica = host.replica
            if replica is None or host.paused_until > self.now:
                return
            has = self._call(replica_id, replica.has_ready)
            if not has or host.replica is None:
                host.dirty = False
                break
            ready = self._call(replica_id, replica.ready)
            if ready is None:
                return  # crashed inside: nothing of it left the process
            replica.advance(ready)
            for message in ready.messages:
                self._send_raft(message)
            self._check_replica(host)
            for response in ready.responses:
                self.history.on_released(replica_id, response.record)
                self._answer(response.request_stream_id, response.request_id, response.record)
            for ids in ready.unknown:
                self.counts["unknown_outcomes"] += 1
                self._answer(*ids, None)
            for push in ready.job_pushes:
                self._schedule(self._latency(), "push", (replica_id, push.job_key))
        self._check_replica(host)

    def _answer(self, rsid: int, rid: int, record: Record | None) -> None:
        if not 1 <= rsid <= len(self.clients):
            return
        if self.faults_on and self.rng.random() < self.opt.lost_response_p:
            request = self._client_of(rsid).pending.get(rid)
            if request is not None:
                self.faults["lost_responses"] += 1
            return
        self._schedule(self._latency(), "answer", (rsid, rid, record))

    def _check_replica(self, host: _Host) -> None:
        replica = host.replica
        if replica is None:
            return
        committed = replica.committed_position
        if committed > host.seen_position:
            start = max(host.seen_position + 1, replica._view.first_position)
            records = replica.read_committed(start, committed - start + 1)
            self.history.on_committed(host.id, records)
            host.seen_position = committed
        if replica.role == "leader" and replica.term != host.was_leader_term:
            host.was_leader_term = replica.term
            self.counts["elections"] += 1
            self._log(f"leader {host.id} in term {replica.term}")
        promoted, first = replica.promoted_at_ms, replica.first_processed_ms
        if first is not None and promoted != host.promotion_seen:
            host.promotion_seen = promoted
            self.promotion_ms.append(first - promoted)
        processed = replica.processed_position
        if (
            processed != host.digest_position
            and self.now - host.digest_ms >= DIGEST_EVERY_MS
            and not replica.has_uncommitted_state
            and replica.mode != "promoting"
        ):
            host.digest_position = processed
            host.digest_ms = self.now
            self.history.on_digest(host.id, processed, replica.digest())

    # ------------------------------------------------------------------ faults per tick
    def _tick_faults(self) -> None:
        opt, rng = self.opt, self.rng
        live = self.live()
        if rng.random() < opt.crash_p and len(live) > 1:
            self._crash(self._pick(live))
        for replica_id in sorted(self.hosts):
            host = self.hosts[replica_id]
            down = host.replica is None and replica_id not in self.retired
            if down and rng.random() < opt.restart_p:
                self._start(replica_id)
        if rng.random() < opt.pause_p and live:
            victim = self.hosts[self._pick(live)]
            victim.paused_until = self.now + rng.randint(opt.tick_ms, opt.pause_ms_max)
            victim.pause_felt = True
            self.faults["pauses"] += 1
            self._log(f"pause {victim.id} until {victim.paused_until}ms")
        if rng.random() < opt.partition_p and len(live) > 1:
            self._partition(self._pick(live), one_way=rng.random() < opt.one_way_p)
        if self.blocked and rng.random() < opt.heal_p:
            if set(self.blocked.values()) & self.partitions_felt:
                self.faults["heals"] += 1
            self.blocked.clear()
            self._log("heal")
        if rng.random() < opt.wipe_p and len(live) == 3 and self._membership_settled():
            self._wipe(self._pick(live))
        leader = self.leader()
        if leader is not None and rng.random() < opt.transfer_p:
            others = [i for i in self.live() if i != leader.replica_id]
            if others:
                target = rng.choice(others)
                try:
                    leader.transfer_leadership(target)
                    self.faults["transfers"] += 1
                    self._log(f"transfer {leader.replica_id} -> {target}")
                except RaftError:
                    pass

    def _partition(self, victim: int, one_way: bool) -> None:
        """Cut `victim` off from the others (one way: its messages out are lost)."""
        self.partition_seq += 1
        kind = "one_way_partitions" if one_way else "partitions"
        self.partition_kinds[self.partition_seq] = kind
        for other in self.hosts:
            if other != victim:
                self.blocked[(victim, other)] = self.partition_seq
                if not one_way:
                    self.blocked[(other, victim)] = self.partition_seq
        self._log(f"{kind[:-1]} around {victim}")

    def _wipe(self, replica_id: int) -> None:
        """The replica's disk is gone: it is retired for good and replaced by a new id."""
        self._crash(replica_id, "wiped", counted=False)
        shutil.rmtree(self.hosts[replica_id].dir, ignore_errors=True)
        self.retired.add(replica_id)
        new_id = self.next_id
        self.next_id += 1
        self._new_host(new_id)
        self._start(new_id)
        self.faults["replacements"] += 1
        self._log(f"wipe {replica_id}: replaced by {new_id}")

    def _membership(self) -> tuple[set[int], set[int]] | None:
        """(voters, learners) as the leader sees them, or None without a leader."""
        leader = self.leader()
        if leader is None:
            return None
        members = leader.status()["members"]
        voters = {int(m) for m, v in members.items() if v["voter"]}
        return voters, {int(m) for m in members} - voters

    def _membership_settled(self) -> bool:
        membership = self._membership()
        desired = {i for i in self.hosts if i not in self.retired}
        return membership is not None and membership == (desired, set())

    def _supervise(self) -> None:
        """What a supervisor does after replacing a lost replica: bring the leader's
        membership to the replicas it wants, one change at a time - remove the retired, add the
        new as a learner, promote it once caught up. Derived again every tick from what the
        leader says (a change whose entry was lost is simply made again)."""
        leader = self.leader()
        if leader is None or leader.mode != "leader":
            return
        voters, learners = self._membership()
        desired = {i for i in self.hosts if i not in self.retired}
        extra = sorted((voters | learners) - desired)
        missing = sorted(desired - voters - learners)
        lag = leader.status()["lag"]
        ready = sorted(i for i in learners & desired if lag.get(str(i), 1 << 62) <= 2)
        if extra:
            action, replica_id, change = "remove", extra[0], leader.remove
        elif missing:
            action, replica_id, change = "add", missing[0], leader.add_learner
        elif ready:
            action, replica_id, change = "promote", ready[0], leader.promote
        else:
            return
        try:
            change(replica_id)
        except (ConfChangeError, NotLeaderError, RaftError):
            return  # another change in flight, or leadership moving: next tick
        self._log(f"supervisor: {action} {replica_id}")

    # ------------------------------------------------------------------ the loop
    def _tick_replicas(self) -> None:
        for replica_id in sorted(self.hosts):
            host = self.hosts[replica_id]
            if host.replica is None:
                continue
            if host.paused_until > self.now:
                continue
            host.clock.now_ms = self.now
            host.debt += host.rate
            ticks = int(host.debt)
            host.debt -= ticks
            if ticks != 1 and self.faults_on:
                self.faults["clock_skews"] += 1
            for _ in range(ticks):
                if host.replica is not None:
                    self._call(replica_id, host.replica.tick)

    def _step_ms(self, new_requests: bool) -> None:
        self.now += 1
        for host in self.hosts.values():
            host.clock.now_ms = self.now
        while self.network and self.network[0][0] <= self.now:
            _, _, kind, payload = heapq.heappop(self.network)
            if kind == "raft":
                message, late = payload
                host = self.hosts.get(message.to)
                if host is not None and host.paused_until > self.now:
                    self.seq += 1
                    heapq.heappush(self.network, (host.paused_until, self.seq, kind, payload))
                    continue
                self._deliver_raft(message, late)
            elif kind == "request":
                self._deliver_request(*payload)
            elif kind == "push":
                self._deliver_push(*payload)
            else:
                self._deliver_answer(*payload)
        if self.now % self.opt.tick_ms == 0:
            if self.faults_on:
                self._tick_faults()
            self._tick_replicas()
            self._supervise()
            for client in self.clients:
                self._client_tick(client, new_requests)
        for replica_id in sorted(self.hosts):
            self._drain(replica_id)

    def run(self) -> SimReport:
        try:
            try:
                while self.now < self.opt.fault_ms:
                    self._step_ms(new_requests=True)
                self._liveness()
                self.history.check_final()
            except Violation as violation:
                self.fail(violation.invariant, violation.what)
            except SimulationFailure:
                raise
            except Exception as error:  # an assertion inside a replica, or a refusal
                import traceback

                self._log("".join(traceback.format_exception(error))[-3000:])
                self.fail("exception", f"{type(error).__name__}: {error}")
            return self._report()
        finally:
            self.close()

    def _liveness(self) -> None:
        """Faults stop: within bounds, a leader, every request answered, replicas converged."""
        self.faults_on = False
        self.blocked.clear()
        for host in self.hosts.values():
            host.paused_until = 0
            host.rate = 1.0
        for replica_id in sorted(self.hosts):
            if self.hosts[replica_id].replica is None and replica_id not in self.retired:
                self._start(replica_id)
        self._log("faults stop")
        start = self.now
        while True:
            pending = sum(len(c.pending) for c in self.clients)
            settled = self._membership_settled()
            if not pending and settled and self._converged():
                break
            if self.now - start > self.opt.liveness_ms_max:
                leader = self.leader()
                self.fail(
                    "liveness",
                    f"{self.opt.liveness_ms_max} ms after faults stopped: {pending} requests "
                    f"unanswered, membership {self._membership()} (settled: {settled}), leader "
                    f"{leader.replica_id if leader else None}, replicas "
                    f"{[(i, h.replica.status()['mode'], h.replica.committed_position, h.replica.processed_position) for i, h in sorted(self.hosts.items()) if h.replica]}",
                )
            self._step_ms(new_requests=False)
        self.counts["liveness_ms"] = self.now - start
        leader = self.leader()
        for replica_id in self.live():
            host = self.hosts[replica_id]
            host.digest_ms = -(10**9)
            host.digest_position = 0
            self._check_replica(host)
        self._log(f"converged on leader {leader.replica_id}, position {leader.committed_position}")

    def _converged(self) -> bool:
        leader = self.leader()
        if leader is None or leader.mode != "leader" or leader.has_uncommitted_state:
            return False
        members = leader.status()["members"]
        for member in members:
            host = self.hosts.get(int(member))
            if host is None or host.replica is None:
                return False
            r = host.replica
            if (
                r.committed_position != leader.committed_position
                or r.processed_position != leader.processed_position
            ):
                return False
        return True

    def _report(self) -> SimReport:
        counts = Counter(self.counts)
        counts.update(self.history.counts)
        stats = Counter(self.replica_stats)
        for host in self.hosts.values():
            if host.replica is not None:
                stats.update(host.replica.stats)
        for name in ("rebuilds", "snapshots_taken", "snapshots_installed", "promotions"):
            counts[name] = stats[name]
        counts["requests"] = sum(c.next_rid for c in self.clients)
        return SimReport(
            seed=self.seed,
            simulated_ms=self.now,
            faults=dict(self.faults),
            counts=dict(counts),
            promotion_ms=self.promotion_ms,
        )

    def close(self) -> None:
        for host in self.hosts.values():
            if host.replica is not None:
                with contextlib.suppress(ReplicaClosedError, OSError):
                    host.replica.close()
                host.replica = None
        shutil.rmtree(self.root, ignore_errors=True)


def _replace_chunk(chunk: SnapshotChunk, data: bytes) -> SnapshotChunk:
    return SnapshotChunk(
        chunk.frm, chunk.to, chunk.term, chunk.meta, chunk.offset, data, chunk.done
    )


def run_simulation(seed: int, options: SimOptions | None = None) -> SimReport:
    """Run one seeded simulation; raises SimulationFailure (with the seed) on any violation."""
    return PartitionSimulator(seed, options).run()

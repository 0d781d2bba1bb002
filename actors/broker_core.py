"""What a broker does, without Ray: host partition replicas, drive them, route what they say.

The Ray actor (`actors/broker.py`) owns one `BrokerCore` and calls it from a single asyncio
thread: inbound calls (Raft messages from peers, client commands, job streams, the
supervisor's membership operations) go straight into the core, and the actor's loop calls
`run_once(now_ms)` on every wake-up. No method here blocks on another process; everything
that leaves goes through the `send_messages` / `send_commands` callables the actor provides
(fire-and-forget actor calls, batched per destination broker per loop iteration).

One iteration of `run_once`:
1. tick every replica for each `tick_ms` that passed (at most `TICK_CATCH_UP_MAX` at once: a
   long pause is reported, not replayed as a burst of elections);
2. for each replica, while it has a Ready: take it, `advance` it (the replica persists in
   ready/advance), then route its contents - Raft messages grouped by destination broker,
   responses and unknown outcomes to the callers waiting for them, commands for other
   partitions to their leaders, pushed jobs to the job streams' buffers;
3. send one batch of messages per destination broker (at most every `FLUSH_INTERVAL_MS`);
4. every `HOUSEKEEPING_INTERVAL_MS`: expire requests past their deadline (UNKNOWN outcome),
   close job streams nobody polled for `STREAM_IDLE_MS_MAX` (their buffered jobs are handed
   back with JOB YIELD), notice leader changes.

Messages are sent after `advance`, so whatever the replica persists in the Ready is durable
before any peer hears of it (Raft's rule: persist, then send).

Data: `<root>/hosted.json` lists the replicas (partition, replica id, partition count) and the
last routes; each replica's directory is `<root>/p<partition>-r<replica>`. A broker process
restarted on the same node reopens them from there (`recover`).
"""

import json
import random
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from raybee.actors import hosting
from raybee.actors.backpressure import AimdLimiter, is_exempt
from raybee.partitions.engine.job_streams import JobPush, JobStream
from raybee.partitions.files import write_atomically
from raybee.partitions.protocol import (
    JobIntent,
    JobRecordValue,
    ProcessInstanceCreationIntent,
    Record,
    ValueType,
)

TICK_CATCH_UP_MAX = 5
HOUSEKEEPING_INTERVAL_MS = 100
REQUEST_TIMEOUT_MS_DEFAULT = 15_000
STREAM_IDLE_MS_MAX = 5_000
STREAM_BUFFER_JOBS_MAX = 256
# Readies taken from one replica per loop iteration: calls waiting to come in are served in
# between (the loop measures how long an iteration holds the thread).
READIES_PER_REPLICA_PER_ITERATION_MAX = 1
# Raft messages to one broker leave at most this often (each actor call costs ~0.2 ms of this
# loop's time in Ray's client code: a busy loop would otherwise send one call per iteration).
FLUSH_INTERVAL_MS = 2
# A command for another partition goes to the broker its sender believes leads it, and from
# there at most once more (leadership moved meanwhile).
PARTITION_COMMAND_HOPS_MAX = 2
HOSTED_FILE = "hosted.json"

# Outcome kinds
OK = "ok"  # the answer record (an event, or a rejection the client turns into an exception)
NOT_LEADER = "not_leader"  # nothing happened; `leader_broker` names the leader when known
UNKNOWN = "unknown"  # may or may not have happened; retry with the same request id
EXHAUSTED = "exhausted"  # backpressure refused it before it was written; `reason` says why
UNAVAILABLE = "unavailable"  # this broker holds no replica of the partition
REFUSED = "refused"  # a membership operation the replica refused; `reason` says why


@dataclass(frozen=True)
class Outcome:
    kind: str
    record: Record | None = None
    leader_broker: int | None = None
    reason: str = ""


@dataclass
class Hosted:
    partition_id: int
    replica_id: int
    partition_count: int
    replica: object
    role: str = ""
    leader_id: int | None = None
    term: int = 0


@dataclass
class Pending:
    resolvers: list[Callable[[Outcome], None]]
    submitted_ms: int
    deadline_ms: int
    counted: bool  # held a place in the partition's backpressure limit


@dataclass
class StreamBuffer:
    partition_id: int
    stream: JobStream
    capacity: int
    last_poll_ms: int
    jobs: deque = field(default_factory=deque)
    open: bool = True


@dataclass
class BrokerStats:
    iterations: int = 0
    ticks: int = 0
    ticks_skipped: int = 0
    readies: int = 0
    messages_in: int = 0
    messages_out: int = 0
    messages_unroutable: int = 0
    messages_for_unknown_replicas: int = 0
    sends: int = 0
    commands_submitted: int = 0
    answers: int = 0
    unknown_outcomes: int = 0
    expired: int = 0
    exhausted: int = 0
    jobs_pushed: int = 0
    jobs_yielded: int = 0
    partition_commands_sent: int = 0
    partition_commands_dropped: int = 0
    leader_changes: int = 0


class BrokerCore:
    def __init__(
        self,
        broker_id: int,
        root: Path,
        clock_ms: Callable[[], int],
        rng: random.Random,
        tick_ms: int,
        send_messages: Callable[[int, list], None],
        send_commands: Callable[[int, int, list[Record], int], None],
        replica_settings: dict[str, int] | None = None,
    ) -> None:
        assert tick_ms >= 1
        self.broker_id = broker_id
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock_ms = clock_ms
        self.rng = rng
        self.tick_ms = tick_ms
        self.send_messages = send_messages
        self.send_commands = send_commands
        self.replica_config = hosting.replica_config(tick_ms, replica_settings)
        self.replicas: dict[int, Hosted] = {}  # by partition id: one replica per partition
        self.routes: dict[int, int] = {}  # replica id -> broker id, cluster-wide
        self.leader_hints: dict[int, int] = {}  # partition -> broker of its last known leader
        self.replica_partitions: dict[int, int] = {}  # replica id -> partition, cluster-wide
        self.pending: dict[tuple[int, int, int], Pending] = {}
        self.limiters: dict[int, AimdLimiter] = {}
        self.streams: dict[int, StreamBuffer] = {}
        self.stats = BrokerStats()
        self.on_jobs: Callable[[int], None] = lambda stream_id: None
        self.on_leader_change: Callable[[int, Hosted], None] = lambda partition, hosted: None
        self._next_tick_ms = clock_ms() + tick_ms
        self._next_housekeeping_ms = 0
        self._next_flush_ms = 0
        self._outbox: dict[int, list] = {}

    # ------------------------------------------------------------------ hosting
    def recover(self) -> list[int]:
        """Reopen the replicas listed in hosted.json (a restarted broker process)."""
        path = self.root / HOSTED_FILE
        if not path.exists():
            return []
        saved = json.loads(path.read_text())
        self.routes = {int(r): b for r, b in saved.get("routes", {}).items()}
        for entry in saved["replicas"]:
            self._open(entry["partition_id"], entry["replica_id"], entry["partition_count"])
        return sorted(self.replicas)

    def _directory(self, partition_id: int, replica_id: int) -> Path:
        return self.root / f"p{partition_id}-r{replica_id}"

    def _open(self, partition_id: int, replica_id: int, partition_count: int) -> Hosted:
        replica = hosting.ReplicaClass.open(
            self._directory(partition_id, replica_id),
            partition_id=partition_id,
            replica_id=replica_id,
            partition_count=partition_count,
            clock=self.clock_ms,
            rng=random.Random(self.rng.getrandbits(64)),
            config=self.replica_config,
        )
        hosted = Hosted(partition_id, replica_id, partition_count, replica)
        self.replicas[partition_id] = hosted
        self.limiters.setdefault(partition_id, AimdLimiter(partition_id))
        return hosted

    def _save_hosted(self) -> None:
        saved = {
            "broker_id": self.broker_id,
            "replicas": [
                {
                    "partition_id": h.partition_id,
                    "replica_id": h.replica_id,
                    "partition_count": h.partition_count,
                }
                for h in self.replicas.values()
            ],
            "routes": {str(r): b for r, b in self.routes.items()},
        }
        write_atomically(self.root / HOSTED_FILE, json.dumps(saved, sort_keys=True).encode())

    def host(
        self,
        partition_id: int,
        replica_id: int,
        partition_count: int,
        voters: dict[int, int] | None = None,
    ) -> dict:
        """Open a replica of the partition here. `voters` (replica id -> priority) bootstraps a
        founding member on an empty directory; without it the replica starts empty and waits
        to be added as a learner by the leader. Hosting the same replica again is a no-op."""
        existing = self.replicas.get(partition_id)
        if existing is not None:
            if existing.replica_id != replica_id:
                raise ValueError(
                    f"broker {self.broker_id} already hosts replica {existing.replica_id} of "
                    f"partition {partition_id}; refusing replica {replica_id} (one per broker)"
                )
            return self.replica_status(partition_id)
        directory = self._directory(partition_id, replica_id)
        fresh = not directory.exists()
        hosted = self._open(partition_id, replica_id, partition_count)
        if voters is not None and fresh:
            hosted.replica.bootstrap({int(r): p for r, p in voters.items()})
        self._save_hosted()
        return self.replica_status(partition_id)

    def unhost(self, partition_id: int, replica_id: int) -> bool:
        """Close and delete a replica that was removed from its partition."""
        hosted = self.replicas.get(partition_id)
        if hosted is None or hosted.replica_id != replica_id:
            return False
        del self.replicas[partition_id]
        self._fail_pending(partition_id, NOT_LEADER, "the replica was removed from this broker")
        hosted.replica.close()
        self._save_hosted()
        shutil.rmtree(self._directory(partition_id, replica_id), ignore_errors=True)
        return True

    def set_routes(
        self,
        routes: dict[int, int],
        leader_hints: dict[int, int],
        partitions: dict[int, int] | None = None,
    ) -> None:
        """Where every replica lives (replica -> broker), which broker leads each partition
        as far as the supervisor knows, and each replica's partition."""
        self.routes = {int(r): int(b) for r, b in routes.items()}
        self.leader_hints.update({int(p): int(b) for p, b in leader_hints.items()})
        if partitions is not None:
            self.replica_partitions = {int(r): int(p) for r, p in partitions.items()}
        self._save_hosted()

    # ------------------------------------------------------------------ inbound
    def deliver(self, messages: list) -> None:
        """Raft messages from a peer broker."""
        self.stats.messages_in += len(messages)
        by_replica = {h.replica_id: h for h in self.replicas.values()}
        for message in messages:
            hosted = by_replica.get(message.to)
            if hosted is None:
                self.stats.messages_for_unknown_replicas += 1
                continue
            hosted.replica.step(message)

    def submit(
        self,
        partition_id: int,
        commands: list[Record],
        resolvers: list[Callable[[Outcome], None]],
        timeout_ms: int = REQUEST_TIMEOUT_MS_DEFAULT,
    ) -> None:
        """Client commands (each with its request stream id and request id) for a partition;
        each resolver is called once with the command's Outcome."""
        assert len(commands) == len(resolvers)
        hosted = self.replicas.get(partition_id)
        if hosted is None:
            for resolve in resolvers:
                resolve(
                    Outcome(
                        NOT_LEADER,
                        leader_broker=self.leader_hints.get(partition_id),
                        reason=f"broker {self.broker_id} holds no replica of partition "
                        f"{partition_id}",
                    )
                )
            return
        if hosted.replica.role != "leader":
            self._refuse_not_leader(hosted, resolvers)
            return
        now_ms = self.clock_ms()
        counted = [not is_exempt(c) and not _awaits_result(c) for c in commands]
        limiter = self.limiters[partition_id]
        admitted, refusal = limiter.admit(sum(counted))
        if refusal is not None:
            # The first `admitted` counted commands (in order) fit; the later ones do not.
            kept, kept_counted = [], []
            for command, resolve, count in zip(commands, resolvers, counted, strict=True):
                if count and admitted == 0:
                    self.stats.exhausted += 1
                    resolve(Outcome(EXHAUSTED, reason=refusal))
                    continue
                if count:
                    admitted -= 1
                kept.append((command, resolve))
                kept_counted.append(count)
            if not kept:
                return
            commands, resolvers = [c for c, _ in kept], [r for _, r in kept]
            counted = kept_counted
        fresh = []
        for command, resolve, count in zip(commands, resolvers, counted, strict=True):
            key = (partition_id, command.request_stream_id, command.request_id)
            pending = self.pending.get(key)
            if pending is not None:  # a retry of a command still in flight here
                pending.resolvers.append(resolve)
                if count:
                    limiter.release(1)  # the first copy holds the place
                continue
            self.pending[key] = Pending([resolve], now_ms, now_ms + timeout_ms, count)
            fresh.append(command)
        if not fresh:
            return
        try:
            hosted.replica.submit(fresh)
        except hosting.NOT_LEADER_ERRORS as error:
            self._answer_all(partition_id, fresh, self._not_leader_outcome(hosted, error))
            return
        except hosting.BACKPRESSURE_ERRORS as error:
            self.stats.exhausted += len(fresh)
            outcome = Outcome(EXHAUSTED, reason=hosting.backpressure_reason(error))
            self._answer_all(partition_id, fresh, outcome)
            return
        self.stats.commands_submitted += len(fresh)

    def accept_partition_commands(
        self, partition_id: int, records: list[Record], hops: int
    ) -> None:
        """Commands another partition sent this one (after its commit), `hops` brokers ago.
        Best effort: the sender keeps what is not acknowledged and sends it again, so a broker
        that cannot place them drops them (counted)."""
        hosted = self.replicas.get(partition_id)
        if hosted is not None and hosted.replica.role == "leader":
            try:
                hosted.replica.submit(records)
                return
            except (*hosting.NOT_LEADER_ERRORS, *hosting.BACKPRESSURE_ERRORS):
                pass
        target = self._leader_broker(partition_id)
        if target is None or target == self.broker_id:
            target = self._member_broker(partition_id)
        if hops < PARTITION_COMMAND_HOPS_MAX and target is not None and target != self.broker_id:
            self.send_commands(target, partition_id, records, hops + 1)
            self.stats.partition_commands_sent += len(records)
        else:
            self.stats.partition_commands_dropped += len(records)

    # ------------------------------------------------------------------ membership
    def _leader_replica(self, partition_id: int):
        hosted = self.replicas.get(partition_id)
        if hosted is None:
            raise LookupError(f"broker {self.broker_id} holds no replica of {partition_id}")
        return hosted.replica

    def membership(self, operation: str, partition_id: int, replica_id: int, priority=None):
        """The supervisor's operations on a partition's leader: add_learner, promote, remove,
        transfer_leadership. Returns an Outcome (NOT_LEADER names the leader's broker)."""
        hosted = self.replicas.get(partition_id)
        if hosted is None:
            return Outcome(
                NOT_LEADER,
                leader_broker=self.leader_hints.get(partition_id),
                reason=f"broker {self.broker_id} holds no replica of partition {partition_id}",
            )
        replica = hosted.replica
        try:
            if operation == "add_learner":
                replica.add_learner(replica_id, priority or 0)
            elif operation == "promote":
                replica.promote(replica_id)
            elif operation == "remove":
                replica.remove(replica_id)
            elif operation == "transfer_leadership":
                replica.transfer_leadership(replica_id)
            else:
                raise ValueError(f"unknown membership operation {operation!r}")
        except hosting.NOT_LEADER_ERRORS as error:
            return self._not_leader_outcome(hosted, error)
        except hosting.MEMBERSHIP_ERRORS as error:
            return Outcome(REFUSED, reason=f"{operation} of replica {replica_id}: {error}")
        return Outcome(OK)

    # ------------------------------------------------------------------ job streams
    def open_stream(self, partition_id: int, stream: JobStream, capacity: int) -> Outcome:
        hosted = self.replicas.get(partition_id)
        if hosted is None or hosted.replica.role != "leader":
            return Outcome(
                NOT_LEADER,
                leader_broker=self._leader_broker(partition_id),
                reason=f"broker {self.broker_id} does not lead partition {partition_id}",
            )
        buffer = self.streams.get(stream.stream_id)
        now_ms = self.clock_ms()
        if buffer is not None and buffer.open and buffer.partition_id == partition_id:
            buffer.last_poll_ms = now_ms
            return Outcome(OK)
        hosted.replica.open_job_stream(stream)
        capacity = max(1, min(capacity, STREAM_BUFFER_JOBS_MAX))
        old = self.streams.get(stream.stream_id)
        self.streams[stream.stream_id] = StreamBuffer(partition_id, stream, capacity, now_ms)
        if old is not None:
            self.streams[stream.stream_id].jobs.extend(old.jobs)
        return Outcome(OK)

    def close_stream(self, stream_id: int) -> None:
        buffer = self.streams.pop(stream_id, None)
        if buffer is None:
            return
        self._close_on_replica(buffer)
        self._yield_jobs(buffer.partition_id, [push.job_key for push in buffer.jobs])

    def _close_on_replica(self, buffer: StreamBuffer) -> None:
        if not buffer.open:
            return
        buffer.open = False
        hosted = self.replicas.get(buffer.partition_id)
        if hosted is not None:
            hosted.replica.close_job_stream(buffer.stream.stream_id)

    def take_jobs(self, stream_id: int, jobs_max: int) -> tuple[list[JobPush], bool]:
        """Buffered pushed jobs (up to jobs_max) and whether the stream is still open here (a
        closed stream - leadership moved, idle, unknown - must be reopened on the leader)."""
        buffer = self.streams.get(stream_id)
        if buffer is None:
            return [], False
        buffer.last_poll_ms = self.clock_ms()
        taken = []
        while buffer.jobs and len(taken) < jobs_max:
            taken.append(buffer.jobs.popleft())
        if not buffer.open and not buffer.jobs:
            del self.streams[stream_id]
        return taken, buffer.open

    def has_jobs(self, stream_id: int) -> bool:
        buffer = self.streams.get(stream_id)
        return buffer is None or bool(buffer.jobs) or not buffer.open

    def _push(self, partition_id: int, pushes: list[JobPush]) -> None:
        handed_back = []
        for push in pushes:
            buffer = self.streams.get(push.stream_id)
            if buffer is None or not buffer.open or len(buffer.jobs) >= buffer.capacity:
                handed_back.append(push.job_key)
                continue
            buffer.jobs.append(push)
            self.stats.jobs_pushed += 1
            self.on_jobs(push.stream_id)
        self._yield_jobs(partition_id, handed_back)

    def _yield_jobs(self, partition_id: int, job_keys: list[int]) -> None:
        """Hand jobs nobody will take back to the partition (JOB YIELD), so none waits out its
        timeout. If that fails the job times out as usual."""
        if not job_keys:
            return
        hosted = self.replicas.get(partition_id)
        if hosted is None:
            return
        commands = [
            Record(ValueType.JOB, JobIntent.YIELD, JobRecordValue(), key=key) for key in job_keys
        ]
        try:
            hosted.replica.submit(commands)
            self.stats.jobs_yielded += len(commands)
        except (*hosting.NOT_LEADER_ERRORS, *hosting.BACKPRESSURE_ERRORS):
            pass

    # ------------------------------------------------------------------ the loop
    def run_once(self) -> None:
        now_ms = self.clock_ms()
        self.stats.iterations += 1
        if now_ms >= self._next_tick_ms:
            due = (now_ms - self._next_tick_ms) // self.tick_ms + 1
            ticks = min(due, TICK_CATCH_UP_MAX)
            self.stats.ticks_skipped += due - ticks
            for _ in range(ticks):
                for hosted in self.replicas.values():
                    hosted.replica.tick()
            self.stats.ticks += ticks
            self._next_tick_ms += due * self.tick_ms
        for hosted in list(self.replicas.values()):
            self._drain(hosted)
        if self._outbox and now_ms >= self._next_flush_ms:
            self._flush()
            self._next_flush_ms = now_ms + FLUSH_INTERVAL_MS
        if now_ms >= self._next_housekeeping_ms:
            self._next_housekeeping_ms = now_ms + HOUSEKEEPING_INTERVAL_MS
            self._housekeeping(now_ms)

    def restart_clock(self) -> None:
        """The loop starts (or starts again): ticks count from now, not from construction."""
        self._next_tick_ms = self.clock_ms() + self.tick_ms

    def next_wake_ms(self) -> int:
        if self._outbox:
            return min(self._next_tick_ms, self._next_flush_ms)
        return self._next_tick_ms

    def has_work(self) -> bool:
        return any(h.replica.has_ready() for h in self.replicas.values())

    def _drain(self, hosted: Hosted) -> None:
        replica = hosted.replica
        for _ in range(READIES_PER_REPLICA_PER_ITERATION_MAX):
            if not replica.has_ready():
                break
            ready = replica.ready()
            replica.advance(ready)
            self.stats.readies += 1
            for message in ready.messages:
                broker = self.routes.get(message.to)
                if broker is None:
                    self.stats.messages_unroutable += 1
                    continue
                self._outbox.setdefault(broker, []).append(message)
            partition = hosted.partition_id
            for response in ready.responses:
                self._answer(
                    (partition, response.request_stream_id, response.request_id),
                    Outcome(OK, record=response.record),
                )
            for stream_id, request_id in ready.unknown:
                self.stats.unknown_outcomes += 1
                self._answer(
                    (partition, stream_id, request_id),
                    Outcome(
                        UNKNOWN,
                        reason=f"partition {partition}: leadership was lost "
                        "before the command committed",
                    ),
                )
            if ready.partition_commands:
                by_target: dict[int, list[Record]] = {}
                for target, record in ready.partition_commands:
                    by_target.setdefault(target, []).append(record)
                for target, records in by_target.items():
                    self.accept_partition_commands(target, records, hops=0)
            if ready.job_pushes:
                self._push(partition, ready.job_pushes)
        self._observe(hosted)

    def _flush(self) -> None:
        outbox, self._outbox = self._outbox, {}
        for broker, messages in outbox.items():
            if broker == self.broker_id:
                self.deliver(messages)  # a replica here talking to another here: tests only
                continue
            self.stats.messages_out += len(messages)
            self.stats.sends += 1
            self.send_messages(broker, messages)

    def _observe(self, hosted: Hosted) -> None:
        replica = hosted.replica
        role, leader, term = replica.role, replica.leader_id, replica.term
        if (role, leader, term) == (hosted.role, hosted.leader_id, hosted.term):
            return
        was_leader = hosted.role == "leader"
        hosted.role, hosted.leader_id, hosted.term = role, leader, term
        if leader is not None and leader in self.routes:
            self.leader_hints[hosted.partition_id] = self.routes[leader]
        self.stats.leader_changes += 1
        if was_leader and role != "leader":
            for buffer in self.streams.values():
                if buffer.partition_id == hosted.partition_id:
                    self._close_on_replica(buffer)
        self.on_leader_change(hosted.partition_id, hosted)

    def _housekeeping(self, now_ms: int) -> None:
        expired = [key for key, p in self.pending.items() if p.deadline_ms <= now_ms]
        for key in expired:
            self.stats.expired += 1
            # Still led from here: the command is slow, not lost (a retry finds it pending).
            self._answer(
                key,
                Outcome(
                    UNKNOWN,
                    leader_broker=self._leader_broker(key[0]),
                    reason="no answer before the deadline",
                ),
            )
        for stream_id, buffer in list(self.streams.items()):
            if now_ms - buffer.last_poll_ms > STREAM_IDLE_MS_MAX:
                self.close_stream(stream_id)

    # ------------------------------------------------------------------ answers
    def _answer(self, key: tuple[int, int, int], outcome: Outcome) -> None:
        pending = self.pending.pop(key, None)
        if pending is None:
            return  # nobody waits here (a retry elsewhere, or an internal command)
        self.stats.answers += 1
        if pending.counted:
            now_ms = self.clock_ms()
            self.limiters[key[0]].answered(now_ms - pending.submitted_ms, now_ms)
        for resolve in pending.resolvers:
            resolve(outcome)

    def _answer_all(self, partition_id: int, commands: list[Record], outcome: Outcome) -> None:
        for command in commands:
            self._answer((partition_id, command.request_stream_id, command.request_id), outcome)

    def _fail_pending(self, partition_id: int, kind: str, reason: str) -> None:
        for key in [k for k in self.pending if k[0] == partition_id]:
            self._answer(key, Outcome(kind, reason=reason))

    def _leader_broker(self, partition_id: int) -> int | None:
        hosted = self.replicas.get(partition_id)
        if hosted is not None and hosted.replica.leader_id is not None:
            broker = self.routes.get(hosted.replica.leader_id)
            if broker is not None:
                return broker
        return self.leader_hints.get(partition_id)

    def _member_broker(self, partition_id: int) -> int | None:
        """Some other broker holding a replica of the partition (it knows its leader)."""
        for replica, partition in sorted(self.replica_partitions.items()):
            broker = self.routes.get(replica)
            if partition == partition_id and broker is not None and broker != self.broker_id:
                return broker
        return None

    def _not_leader_outcome(self, hosted: Hosted, error: BaseException | None) -> Outcome:
        leader = hosting.leader_hint(error) if error is not None else hosted.replica.leader_id
        broker = self.routes.get(leader) if leader is not None else None
        return Outcome(
            NOT_LEADER,
            leader_broker=broker
            if broker is not None
            else self._leader_broker(hosted.partition_id),
            reason=f"replica {hosted.replica_id} of partition {hosted.partition_id} on broker "
            f"{self.broker_id} is {hosted.replica.role}, leader replica {leader}",
        )

    def _refuse_not_leader(self, hosted: Hosted, resolvers) -> None:
        outcome = self._not_leader_outcome(hosted, None)
        for resolve in resolvers:
            resolve(outcome)

    # ------------------------------------------------------------------ observation
    def replica_status(self, partition_id: int) -> dict:
        hosted = self.replicas[partition_id]
        status = dict(hosted.replica.status())
        status["partition_id"] = partition_id
        status["replica_id"] = hosted.replica_id
        status["role"] = hosted.replica.role
        status["leader_id"] = hosted.replica.leader_id
        status["term"] = hosted.replica.term
        limiter = self.limiters.get(partition_id)
        if limiter is not None:
            status["backpressure"] = limiter.status()
        return status

    def status(self) -> dict:
        return {
            "broker_id": self.broker_id,
            "replicas": {str(p): self.replica_status(p) for p in sorted(self.replicas)},
            "routes": {str(r): b for r, b in sorted(self.routes.items())},
            "streams": len(self.streams),
            "pending": len(self.pending),
            "stats": dict(vars(self.stats)),
        }

    def close(self) -> None:
        for hosted in self.replicas.values():
            hosted.replica.close()
        self.replicas.clear()


def _awaits_result(command: Record) -> bool:
    return (
        command.value_type == ValueType.PROCESS_INSTANCE_CREATION
        and command.intent == ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT
    )


def wall_clock_ms() -> int:
    """Record timestamps and deadlines: the engine reads time from command records."""
    return time.time_ns() // 1_000_000

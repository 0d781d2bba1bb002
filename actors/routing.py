"""Routing: which partition a command goes to, which broker leads it, and what to do when the
answer does not come. One library for the Python client and the gRPC gateway.

Partition of a command:
- a command about an existing entity goes to the partition in its key (`key >> 51`);
- a new process instance goes round-robin over the partitions;
- a message goes by its correlation key (`partitions.protocol.partition_for_correlation_key`,
  the function the engine registers subscriptions by);
- a deployment goes to partition 1, which distributes it (see `DISTRIBUTION_WAIT_MS`).

Leader: the router keeps the last known leader broker of each partition (from the supervisor's
topology and from the brokers' NOT_LEADER answers, which name the leader when they know it).
When it does not know one, it asks the partition's member brokers, then the supervisor, backing
off from `LEADER_BACKOFF_MS_MIN` to `LEADER_BACKOFF_MS_MAX` until the command's deadline.

Exactly once: every command gets its (request stream id, request id) once, when first sent. An
outcome that is not known (the broker died or timed out after the command reached it, or the
leader was lost before commit) is retried with the SAME ids until the deadline; the partition
answers a repeated id with its earlier answer instead of applying it again. If the deadline
passes after such an outcome the caller gets `UnknownOutcomeError` (it may have applied), else
`UnavailableError` (it did not).

Batching: commands for one partition that are sent while a call to its leader is in flight
travel together in the next call (at most `CALLS_IN_FLIGHT_PER_PARTITION_MAX` calls in flight
per partition, `COMMANDS_PER_CALL_MAX` commands per call), so under load the number of actor
calls stays far below the number of commands. (A create that awaits its result travels alone,
outside this limit: it is answered only when its instance has run.)

Backpressure: a broker refuses a command its partition has no room for (AIMD on the commands in
flight, `backpressure.py`) before writing it; the router raises `ResourceExhaustedError` with the
broker's reason. Callers that must not give up (job workers completing jobs) retry with back-off.

Jobs: `activate_jobs` long-polls: it asks the partitions in turn and, while none has a job, asks
again after a back-off until the request timeout. `JobStreamPump` keeps a job stream open on each
partition's leader and takes pushed jobs as they come (reopening it after a leader change).
"""

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import ray

from raybee.actors import errors
from raybee.actors.broker_core import EXHAUSTED, NOT_LEADER, OK, UNKNOWN, Outcome
from raybee.actors.transport import decode, encode
from raybee.partitions.protocol import (
    KEY_PARTITION_SHIFT_BITS,
    JobBatchIntent,
    JobBatchRecordValue,
    ProcessInstanceCreationIntent,
    Record,
    RecordType,
    ValueType,
    partition_for_correlation_key,  # noqa: F401  (part of the routing library's interface)
)

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_MS_DEFAULT = 15_000
CALL_TIMEOUT_MS_SLACK = 5_000
# One call per partition at a time: what comes meanwhile rides the next call. Every actor call
# costs the broker's loop and the machine's cores more than the commands in it (more, smaller
# calls also make more, smaller log entries and Raft rounds): on 2 cores at 100 instances/s,
# 4 calls in flight measured latency_ms p50 567-582 / p99 1147-1481 against 322-352 / 500-568
# with one (`raybee bench cluster`, interleaved runs on a loaded machine).
CALLS_IN_FLIGHT_PER_PARTITION_MAX = 1
COMMANDS_PER_CALL_MAX = 200
LEADER_BACKOFF_MS_MIN = 20
LEADER_BACKOFF_MS_MAX = 250
LEADER_QUERY_TIMEOUT_MS = 500
TOPOLOGY_REFRESH_MS_MIN = 100
TOPOLOGY_TIMEOUT_MS = 2_000
ACTIVATE_BACKOFF_MS_MIN = 20
ACTIVATE_BACKOFF_MS_MAX = 500
STREAM_TAKE_WAIT_MS = 1_000
STREAM_REOPEN_BACKOFF_MS = 100
# A deployment is answered by partition 1 once created there; the engine then distributes it
# to the other partitions (engine/distribution.py). A create that reaches a partition before
# the process did is refused NOT_FOUND (nothing written): the client tries it again, with a new
# request id, for up to this long after deploying that process.
DISTRIBUTION_WAIT_MS = 10_000
REQUEST_ID_BITS = 62


def partition_for_key(key: int) -> int:
    return key >> KEY_PARTITION_SHIFT_BITS


@dataclass
class _Queued:
    command: Record
    broker: int
    future: asyncio.Future
    timeout_ms: int


@dataclass
class _PartitionQueue:
    waiting: list[_Queued] = field(default_factory=list)
    in_flight: int = 0


def _deadline(timeout_ms: int) -> float:
    return time.monotonic() + timeout_ms / 1000


def _left_ms(deadline: float) -> int:
    return int((deadline - time.monotonic()) * 1000)


class Router:
    """Asyncio; one per client process, used from one event loop."""

    def __init__(self, supervisor, request_stream_id: int) -> None:
        assert 0 < request_stream_id < (1 << 31)
        self.supervisor = supervisor
        self.request_stream_id = request_stream_id
        self._request_ids = itertools.count(1)
        self._round_robin = itertools.count()
        self.partition_count = 0
        self.topology: dict | None = None
        self.handles: dict[int, object] = {}
        self.leaders: dict[int, int] = {}  # partition -> broker
        self.members: dict[int, list[int]] = {}  # partition -> brokers holding a replica
        self._queues: dict[int, _PartitionQueue] = {}
        self._topology_at = 0.0
        self._refreshing: asyncio.Future | None = None
        self.stats = {
            "calls": 0,
            "commands": 0,
            "retries_unknown": 0,
            "retries_not_leader": 0,
            "call_failures": 0,
            "exhausted": 0,
            "topology_refreshes": 0,
        }

    # ------------------------------------------------------------------ topology
    async def refresh(self, force: bool = False) -> dict:
        now = time.monotonic()
        if (
            not force
            and self.topology is not None
            and now - self._topology_at < (TOPOLOGY_REFRESH_MS_MIN / 1000)
        ):
            return self.topology
        if self._refreshing is not None:
            return await asyncio.shield(self._refreshing)
        self._refreshing = asyncio.get_running_loop().create_future()
        try:
            topology = await asyncio.wait_for(
                asyncio.wrap_future(self.supervisor.topology.remote().future()),
                TOPOLOGY_TIMEOUT_MS / 1000,
            )
            self._apply(topology)
            self._refreshing.set_result(topology)
            return topology
        except BaseException as error:
            self._refreshing.set_exception(error)
            self._refreshing.exception()  # retrieved: waiters re-raise it themselves
            raise
        finally:
            self._refreshing = None

    def _apply(self, topology: dict) -> None:
        self.stats["topology_refreshes"] += 1
        self.topology = topology
        self._topology_at = time.monotonic()
        self.partition_count = topology["partition_count"]
        self.handles = {
            int(b): v["handle"] for b, v in topology["brokers"].items() if v["state"] != "lost"
        }
        for p, info in topology["partitions"].items():
            p = int(p)
            brokers = [m["broker"] for m in info["members"].values() if m.get("broker")]
            self.members[p] = [b for b in brokers if b in self.handles]
            if info["leader_broker"] is not None and info["leader_broker"] in self.handles:
                self.leaders.setdefault(p, info["leader_broker"])

    def partitions(self) -> list[int]:
        return list(range(1, self.partition_count + 1))

    def next_partition(self) -> int:
        return next(self._round_robin) % self.partition_count + 1

    def next_request_id(self) -> int:
        return next(self._request_ids) % (1 << REQUEST_ID_BITS)

    async def _leader(self, partition: int, deadline: float) -> int:
        backoff_ms = LEADER_BACKOFF_MS_MIN
        while True:
            broker = self.leaders.get(partition)
            if broker is not None and broker in self.handles:
                return broker
            broker = await self._ask_members(partition)
            if broker is None:
                try:
                    topology = await self.refresh()
                    info = topology["partitions"].get(partition) or topology["partitions"].get(
                        str(partition)
                    )
                    if info and info["leader_broker"] in self.handles:
                        broker = info["leader_broker"]
                except Exception:  # the supervisor may be restarting: the brokers still know
                    pass
            if broker is not None:
                self.leaders[partition] = broker
                return broker
            if _left_ms(deadline) <= 0:
                raise errors.UnavailableError(partition, "no leader found before the deadline")
            await asyncio.sleep(min(backoff_ms, max(_left_ms(deadline), 1)) / 1000)
            backoff_ms = min(backoff_ms * 2, LEADER_BACKOFF_MS_MAX)

    async def _ask_members(self, partition: int) -> int | None:
        brokers = [b for b in self.members.get(partition, []) if b in self.handles]
        if not brokers:
            return None
        calls = [
            asyncio.wait_for(
                asyncio.wrap_future(self.handles[b].leader_of.remote(partition).future()),
                LEADER_QUERY_TIMEOUT_MS / 1000,
            )
            for b in brokers
        ]
        answers = await asyncio.gather(*calls, return_exceptions=True)
        votes: dict[int, int] = {}
        for answer in answers:
            if isinstance(answer, int) and answer in self.handles:
                votes[answer] = votes.get(answer, 0) + 1
        if not votes:
            return None
        return max(votes, key=lambda b: votes[b])

    def _forget_leader(self, partition: int, broker: int) -> None:
        if self.leaders.get(partition) == broker:
            del self.leaders[partition]

    # ------------------------------------------------------------------ sending
    async def send(
        self,
        partition: int,
        command: Record,
        timeout_ms: int = COMMAND_TIMEOUT_MS_DEFAULT,
        request_id: int | None = None,
    ) -> Record:
        """The answer record (an event, or a rejection: see `answer`) of one command; retries
        with the same request id on unknown outcomes, follows leader changes. A caller that
        retries after UnknownOutcomeError passes the request id of its first try
        (`next_request_id()`), so the partition answers it once whatever happened."""
        if self.topology is None:
            await self.refresh()
        if not 1 <= partition <= self.partition_count:
            raise ValueError(f"partition {partition} does not exist (1..{self.partition_count})")
        if request_id is None:
            request_id = self.next_request_id()
        command = command.stamped(request_stream_id=self.request_stream_id, request_id=request_id)
        self.stats["commands"] += 1
        deadline = _deadline(timeout_ms)
        unknown = False
        backoff_ms = LEADER_BACKOFF_MS_MIN
        while True:
            left_ms = _left_ms(deadline)
            if left_ms <= 0:
                break
            try:
                broker = await self._leader(partition, deadline)
            except errors.UnavailableError:
                break
            try:
                outcome = await self._enqueue(partition, broker, command, left_ms)
            except (ray.exceptions.RayError, TimeoutError) as error:
                # The call failed: the command may or may not have reached the leader.
                self.stats["call_failures"] += 1
                self.stats["retries_unknown"] += 1
                unknown = True
                self._forget_leader(partition, broker)
                log.debug("partition %d: call to broker %d failed: %r", partition, broker, error)
                await asyncio.sleep(backoff_ms / 1000)
                backoff_ms = min(backoff_ms * 2, LEADER_BACKOFF_MS_MAX)
                continue
            if outcome.kind == OK:
                return outcome.record
            if outcome.kind == NOT_LEADER:
                self.stats["retries_not_leader"] += 1
                self._forget_leader(partition, broker)
                hint = outcome.leader_broker
                if hint is not None and hint != broker and hint in self.handles:
                    self.leaders[partition] = hint
                else:
                    await asyncio.sleep(backoff_ms / 1000)
                    backoff_ms = min(backoff_ms * 2, LEADER_BACKOFF_MS_MAX)
                continue
            if outcome.kind == UNKNOWN:
                self.stats["retries_unknown"] += 1
                unknown = True
                if outcome.leader_broker != broker:  # leadership moved, not just slow
                    self._forget_leader(partition, broker)
                continue
            if outcome.kind == EXHAUSTED:
                self.stats["exhausted"] += 1
                raise errors.ResourceExhaustedError(partition, outcome.reason)
            raise errors.UnavailableError(partition, f"{outcome.kind}: {outcome.reason}")
        if unknown:
            raise errors.UnknownOutcomeError(
                partition, command.request_id, f"no definite answer within {timeout_ms} ms"
            )
        raise errors.UnavailableError(partition, f"no leader answered within {timeout_ms} ms")

    async def _enqueue(
        self, partition: int, broker: int, command: Record, timeout_ms: int
    ) -> Outcome:
        future = asyncio.get_running_loop().create_future()
        item = _Queued(command, broker, future, timeout_ms)
        if _awaits_result(command):
            # Answered only when the whole instance has run: in a shared call it would hold
            # the partition's call slots (and the commands that finish the instance) hostage.
            asyncio.get_running_loop().create_task(
                self._call(partition, broker, [item], slotted=False)
            )
            return await future
        queue = self._queues.setdefault(partition, _PartitionQueue())
        queue.waiting.append(item)
        self._pump(partition)
        return await future

    def _pump(self, partition: int) -> None:
        """Send what waits, one call per broker (commands sent while the leader moved may
        name different brokers), at most CALLS_IN_FLIGHT_PER_PARTITION_MAX calls at a time."""
        queue = self._queues[partition]
        while queue.waiting and queue.in_flight < CALLS_IN_FLIGHT_PER_PARTITION_MAX:
            broker = queue.waiting[0].broker
            batch, rest = [], []
            for item in queue.waiting:
                if item.broker == broker and len(batch) < COMMANDS_PER_CALL_MAX:
                    batch.append(item)
                else:
                    rest.append(item)
            queue.waiting = rest
            queue.in_flight += 1
            asyncio.get_running_loop().create_task(self._call(partition, broker, batch))

    async def _call(
        self, partition: int, broker: int, batch: list[_Queued], slotted: bool = True
    ) -> None:
        queue = self._queues.setdefault(partition, _PartitionQueue())
        try:
            handle = self.handles.get(broker)
            if handle is None:
                for item in batch:
                    if not item.future.done():
                        item.future.set_result(
                            Outcome(NOT_LEADER, reason=f"broker {broker} is not known")
                        )
                return
            timeout_ms = max(item.timeout_ms for item in batch)
            self.stats["calls"] += 1
            ref = handle.submit.remote(
                partition, encode([item.command for item in batch]), timeout_ms
            )
            try:
                outcomes = decode(
                    await asyncio.wait_for(
                        asyncio.wrap_future(ref.future()),
                        (timeout_ms + CALL_TIMEOUT_MS_SLACK) / 1000,
                    )
                )
            except BaseException as error:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                return
            for item, outcome in zip(batch, outcomes, strict=True):
                if not item.future.done():
                    item.future.set_result(outcome)
        finally:
            if slotted:
                queue.in_flight -= 1
                if queue.waiting:
                    self._pump(partition)

    # ------------------------------------------------------------------ conveniences
    async def execute(
        self,
        partition: int,
        command: Record,
        timeout_ms: int = COMMAND_TIMEOUT_MS_DEFAULT,
        request_id: int | None = None,
    ) -> Record:
        """`send`, and a rejection raised as its typed exception."""
        return answer(await self.send(partition, command, timeout_ms, request_id))

    async def activate_jobs(
        self,
        job_type: str,
        jobs_max: int,
        job_timeout_ms: int,
        worker: str,
        request_timeout_ms: int,
        fetch_variables: list[str] | None = None,
    ) -> list[tuple[int, object]]:
        """Long-polling activation: (job key, job) pairs, at most jobs_max, from any partition;
        waits up to request_timeout_ms for the first."""
        if self.topology is None:
            await self.refresh()
        deadline = _deadline(request_timeout_ms)
        backoff_ms = ACTIVATE_BACKOFF_MS_MIN
        start = next(self._round_robin)
        while True:
            jobs: list[tuple[int, object]] = []
            for i in range(self.partition_count):
                partition = (start + i) % self.partition_count + 1
                value = JobBatchRecordValue(
                    type=job_type,
                    worker=worker,
                    timeout_ms=job_timeout_ms,
                    max_jobs_to_activate=jobs_max - len(jobs),
                    fetch_variables=fetch_variables or [],
                )
                command = Record(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE, value)
                try:
                    record = await self.execute(partition, command, max(_left_ms(deadline), 1000))
                except (errors.UnavailableError, errors.ResourceExhaustedError):
                    continue
                jobs.extend(zip(record.value.job_keys, record.value.jobs, strict=True))
                if len(jobs) >= jobs_max:
                    return jobs
            if jobs or _left_ms(deadline) <= 0:
                return jobs
            await asyncio.sleep(min(backoff_ms, max(_left_ms(deadline), 1)) / 1000)
            backoff_ms = min(backoff_ms * 2, ACTIVATE_BACKOFF_MS_MAX)


def _awaits_result(command: Record) -> bool:
    return (
        command.value_type == ValueType.PROCESS_INSTANCE_CREATION
        and command.intent == ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT
    )


def answer(record: Record) -> Record:
    """The record, or its rejection raised as the typed exception."""
    if record.record_type == RecordType.COMMAND_REJECTION:
        raise errors.rejection_error(record)
    return record


class JobStreamPump:
    """Keeps one job stream per partition open on its leader and hands pushed jobs to
    `on_job(partition, push)`; `free()` says how many more jobs the worker can take now."""

    def __init__(
        self,
        router: Router,
        stream_id: int,
        job_type: str,
        worker: str,
        timeout_ms: int,
        fetch_variables: tuple[str, ...],
        capacity: int,
        free: Callable[[], int],
        slot_freed: asyncio.Event,
        on_job: Callable[[int, object], Awaitable[None]],
    ) -> None:
        self.router = router
        self.stream_id = stream_id
        self.job_type = job_type
        self.worker = worker
        self.timeout_ms = timeout_ms
        self.fetch_variables = fetch_variables
        self.capacity = capacity
        self.free = free
        self.slot_freed = slot_freed
        self.on_job = on_job
        self.tasks: list[asyncio.Task] = []
        self.reopened = 0
        self.pushed = 0
        self._stopped = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [
            loop.create_task(self._pump(partition)) for partition in self.router.partitions()
        ]

    async def stop(self) -> None:
        self._stopped = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for broker, handle in self.router.handles.items():
            del broker
            handle.close_stream.remote(self.stream_id)

    async def _pump(self, partition: int) -> None:
        router = self.router
        while not self._stopped:
            try:
                broker = await router._leader(partition, _deadline(COMMAND_TIMEOUT_MS_DEFAULT))
                handle = router.handles[broker]
                outcome = await asyncio.wrap_future(
                    handle.open_stream.remote(
                        partition,
                        self.stream_id,
                        self.job_type,
                        self.worker,
                        self.timeout_ms,
                        self.fetch_variables,
                        self.capacity,
                    ).future()
                )
                if outcome.kind != OK:
                    router._forget_leader(partition, broker)
                    if outcome.leader_broker in router.handles:
                        router.leaders[partition] = outcome.leader_broker
                    await asyncio.sleep(STREAM_REOPEN_BACKOFF_MS / 1000)
                    continue
                self.reopened += 1
                while not self._stopped:
                    free = self.free()
                    if free <= 0:
                        self.slot_freed.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.slot_freed.wait(), 1.0)
                        free = self.free()
                    wait_ms = STREAM_TAKE_WAIT_MS if free > 0 else 0
                    jobs, still_open = await asyncio.wrap_future(
                        handle.take_jobs.remote(self.stream_id, max(free, 0), wait_ms).future()
                    )
                    jobs = decode(jobs)
                    for push in jobs:
                        self.pushed += 1
                        await self.on_job(partition, push)
                    if not still_open:
                        break
            except asyncio.CancelledError:
                raise
            except (ray.exceptions.RayError, errors.RaybeeError, KeyError) as error:
                log.debug("job stream on partition %d: %r", partition, error)
                await asyncio.sleep(STREAM_REOPEN_BACKOFF_MS / 1000)
                with contextlib.suppress(Exception):
                    await router.refresh()
            # leadership moved (or the stream idled out): reopen on the leader
            router_leader = router.leaders.get(partition)
            if router_leader is not None:
                router._forget_leader(partition, router_leader)

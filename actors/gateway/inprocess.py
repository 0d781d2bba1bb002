"""A test backend: the router's interface over ONE partition in this process, no Ray.

`InProcessRouter` has what `AsyncClient` and the gateway's `Backend` call on the real `Router`
(`refresh`, `partitions`, `next_partition`, `execute`, `activate_jobs`, `partition_count`,
`topology`), implemented over `raybee.partitions.local.LocalPartition` (the engine, a log and a
store; in memory unless given a directory). A background task drives it: it processes what
clients wrote as soon as they wrote it, runs the partition's due work (timers, job deadlines,
message expiry, back-offs) every `TICK_INTERVAL_MS`, and answers each waiting caller with the
answer to its own command. So the real `AsyncClient` and the real gateway run against it, and
pyzeebe and zbctl tests take seconds instead of a cluster start.

It stands beside the Ray backend, never instead of it: one partition, replication factor 1,
no failover; `raybee gateway --in-process` says so when it starts.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from raybee.actors import errors
from raybee.actors.client import AsyncClient
from raybee.actors.gateway.backend import Backend, JobStreams, OnJob, StreamRequest
from raybee.actors.routing import COMMAND_TIMEOUT_MS_DEFAULT, answer
from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream, MemoryLogStream
from raybee.partitions.protocol import (
    JobBatchIntent,
    JobBatchRecordValue,
    Record,
    ValueType,
)
from raybee.state import MemoryStore, RocksDBStore

log = logging.getLogger(__name__)

PARTITION_ID = 1
CLIENT_STREAM_ID = 1
TICK_INTERVAL_MS = 20
IMPLEMENTATION = "in-process (one partition, no Ray, replication factor 1)"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class InProcessRouter:
    """One partition, driven by a task on the event loop that created it (`start`)."""

    def __init__(
        self,
        directory: Path | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        tick_interval_ms: int = TICK_INTERVAL_MS,
    ) -> None:
        assert tick_interval_ms >= 1
        if directory is None:
            store, log_stream = MemoryStore(ENGINE_FAMILIES), MemoryLogStream()
        else:
            directory = Path(directory)
            store = RocksDBStore(directory / "state", ENGINE_FAMILIES)
            log_stream = JournalLogStream.open(directory / "log")
        self.partition = LocalPartition(store, log_stream, PARTITION_ID, clock)
        self.clock = clock
        self.tick_interval_ms = tick_interval_ms
        self.partition_count = 1
        self.request_stream_id = CLIENT_STREAM_ID
        self.topology = {
            "replica_implementation": IMPLEMENTATION,
            "job_push": True,
            "partition_count": 1,
            "replication_factor": 1,
            "partitions": {
                PARTITION_ID: {
                    "leader_replica": 1,
                    "leader_broker": 1,
                    "term": 1,
                    "members": {1: {"broker": 1, "voter": True, "priority": 1}},
                }
            },
            "brokers": {
                1: {"handle": None, "node_id": "in-process", "state": "alive", "pid": os.getpid()}
            },
        }
        self.stats = {"commands": 0, "batches": 0, "ticks": 0, "timeouts": 0}
        self._waiting: dict[int, asyncio.Future] = {}
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # set after every processed round
        self._task: asyncio.Task | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drive())

    async def close(self) -> None:
        # The loop also stops by the flag: Python 3.11's asyncio.wait_for swallows a
        # cancellation that arrives as the awaited event fires (gh-86296), and the loop then
        # went on waiting forever - a gateway teardown hung on a loaded machine.
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(errors.UnavailableError(PARTITION_ID, "the gateway stopped"))
        self._waiting.clear()
        self.partition.close()

    async def _drive(self) -> None:
        next_tick_ms = self.clock() + self.tick_interval_ms
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_interval_ms / 1000)
            if self._closed:
                return
            self._wake.clear()
            try:
                responses = self.partition.process()
                if self.clock() >= next_tick_ms:
                    next_tick_ms = self.clock() + self.tick_interval_ms
                    self.stats["ticks"] += 1
                    responses += self.partition.tick()
            except Exception:  # the partition is broken: answer nobody, say why loudly
                log.exception("the in-process partition failed")
                raise
            self.stats["batches"] += 1
            for response in responses:
                if response.request_stream_id != CLIENT_STREAM_ID:
                    continue
                future = self._waiting.pop(response.request_id, None)
                if future is not None and not future.done():
                    future.set_result(response.record)
            self._progress.set()
            self._progress = asyncio.Event()

    # ------------------------------------------------------------------ the Router's interface
    async def refresh(self, force: bool = False) -> dict:
        del force
        return self.topology

    def partitions(self) -> list[int]:
        return [PARTITION_ID]

    def next_partition(self) -> int:
        return PARTITION_ID

    async def send(
        self, partition: int, command: Record, timeout_ms: int = COMMAND_TIMEOUT_MS_DEFAULT
    ) -> Record:
        if partition != PARTITION_ID:
            raise ValueError(f"partition {partition} does not exist (1..1)")
        if self._closed:
            raise errors.UnavailableError(partition, "the gateway stopped")
        (written,) = self.partition.write_commands([command], request_stream_id=CLIENT_STREAM_ID)
        self.stats["commands"] += 1
        future = asyncio.get_running_loop().create_future()
        self._waiting[written.request_id] = future
        self._wake.set()
        try:
            return await asyncio.wait_for(future, timeout_ms / 1000)
        except TimeoutError:
            self.stats["timeouts"] += 1
            raise errors.UnknownOutcomeError(
                partition, written.request_id, f"no answer within {timeout_ms} ms"
            ) from None
        finally:
            self._waiting.pop(written.request_id, None)

    async def execute(
        self, partition: int, command: Record, timeout_ms: int = COMMAND_TIMEOUT_MS_DEFAULT
    ) -> Record:
        return answer(await self.send(partition, command, timeout_ms))

    async def activate_jobs(
        self,
        job_type: str,
        jobs_max: int,
        job_timeout_ms: int,
        worker: str,
        request_timeout_ms: int,
        fetch_variables: list[str] | None = None,
    ) -> list[tuple[int, object]]:
        """Long polling: activate; while nothing is found, wait for the partition's next
        processed round (something may have become activatable) until the request timeout."""
        deadline = time.monotonic() + request_timeout_ms / 1000
        while True:
            value = JobBatchRecordValue(
                type=job_type,
                worker=worker,
                timeout_ms=job_timeout_ms,
                max_jobs_to_activate=jobs_max,
                fetch_variables=fetch_variables or [],
            )
            command = Record(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE, value)
            record = await self.execute(PARTITION_ID, command)
            jobs = list(zip(record.value.job_keys, record.value.jobs, strict=True))
            left_s = deadline - time.monotonic()
            if jobs or left_s <= 0:
                return jobs
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left_s)

    # ------------------------------------------------------------------ job push
    def open_job_stream(self, stream: JobStream, consumer) -> None:
        self.partition.open_job_stream(stream, consumer)

    def close_job_stream(self, stream_id: int) -> None:
        self.partition.close_job_stream(stream_id)


class _InProcessStream:
    def __init__(self, router: InProcessRouter, stream_id: int) -> None:
        self.router = router
        self.stream_id = stream_id
        self.tasks: set[asyncio.Task] = set()

    async def stop(self) -> None:
        self.router.close_job_stream(self.stream_id)
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


class InProcessJobStreams(JobStreams):
    def __init__(self, router: InProcessRouter) -> None:
        self.router = router
        self._ids = itertools.count(1)

    def open(self, request: StreamRequest, free, slot_freed, on_job: OnJob) -> _InProcessStream:
        del slot_freed
        handle = _InProcessStream(self.router, next(self._ids))
        reserved = 0  # taken by the consumer, not yet handed to on_job
        loop = asyncio.get_running_loop()

        def delivered(task: asyncio.Task) -> None:
            nonlocal reserved
            reserved -= 1
            handle.tasks.discard(task)

        def consumer(push) -> bool:
            # Called inside the partition's processing (on this loop): take the job only if
            # the stream has room, else the partition hands it back (JOB YIELD).
            nonlocal reserved
            if free() - reserved <= 0:
                return False
            reserved += 1
            task = loop.create_task(on_job(PARTITION_ID, push))
            handle.tasks.add(task)
            task.add_done_callback(delivered)
            return True

        stream = JobStream(
            handle.stream_id,
            request.job_type,
            request.worker,
            request.timeout_ms,
            request.fetch_variables,
        )
        self.router.open_job_stream(stream, consumer)
        return handle


async def in_process_backend(
    directory: Path | None = None,
    clock: Callable[[], int] = wall_clock_ms,
    tick_interval_ms: int = TICK_INTERVAL_MS,
) -> Backend:
    """A started in-process backend on the running loop; `await backend.close()` stops it."""
    router = InProcessRouter(directory, clock, tick_interval_ms)
    router.start()
    client = AsyncClient(router, asyncio.get_running_loop())
    return InProcessBackend(client, router, InProcessJobStreams(router))


class InProcessBackend(Backend):
    async def close(self) -> None:
        await self.router.close()

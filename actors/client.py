"""The Python client: `client = raybee.connect()`.

- `raybee.connect()` with no Ray running starts an embedded cluster: three Ray nodes on
  127.0.0.1 (no dashboard), one broker each, the supervisor, 3 partitions; `client.close()` (or
  the end of the process) stops every process it started.
- `raybee.connect(address="auto")` (or an address) joins a running Ray cluster in which raybee
  was started (`raybee start --address auto`).

Commands: `deploy`, `create_instance` (and `create_instance_with_result`), `cancel_instance`,
`set_variables`, `publish_message`, `resolve_incident`, `update_job_retries`, `activate_jobs`,
`complete_job`, `fail_job`, `throw_error`, `topology`. Every refusal is a typed exception
(`raybee.actors.errors`). Job workers:

    @client.worker("payment", concurrency=8)
    def pay(job):                       # or `async def`
        return {"paid": True}           # -> complete with these variables
        # raise BpmnError("NO_FUNDS")   # -> throw a BPMN error
        # raise AnythingElse            # -> fail: retries - 1, back-off, message = the error

Sync and asyncio: the client runs its own event loop in a background thread. The methods above
block; `client.aio` has the same methods as coroutines, awaitable from any event loop.
"""

import asyncio
import atexit
import concurrent.futures
import contextlib
import inspect
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import ray

from raybee.actors import deploy as deployment
from raybee.actors import errors
from raybee.actors.broker import NAMESPACE
from raybee.actors.routing import (
    COMMAND_TIMEOUT_MS_DEFAULT,
    DISTRIBUTION_WAIT_MS,
    JobStreamPump,
    Router,
    partition_for_correlation_key,
    partition_for_key,
)
from raybee.partitions.protocol import (
    NO_KEY,
    DeploymentIntent,
    DeploymentRecordValue,
    DeploymentResource,
    IncidentIntent,
    IncidentRecordValue,
    JobIntent,
    JobRecordValue,
    MessageIntent,
    MessageRecordValue,
    ProcessInstanceCreationIntent,
    ProcessInstanceCreationRecordValue,
    ProcessInstanceIntent,
    ProcessInstanceRecordValue,
    Record,
    ValueType,
    VariableDocumentIntent,
    VariableDocumentRecordValue,
)

log = logging.getLogger(__name__)

JOB_TIMEOUT_MS_DEFAULT = 30_000
RETRY_BACKOFF_MS_DEFAULT = 1_000
WORKER_COMMAND_RETRY_MS = 50
WORKER_COMMAND_DEADLINE_MS = 60_000
RESULT_TIMEOUT_MS_DEFAULT = 30_000
ACTIVATION_FALLBACK_INTERVAL_S = 1.0
TOPOLOGY_WAIT_S = 30.0
DEPLOYMENT_PARTITION = 1
DISTRIBUTION_RETRY_MS = 50
# Jobs the broker may hold pushed for a worker beyond what it runs now (more are handed back
# to the partition and found again by activation).
STREAM_BUFFER_PER_SLOT = 4
STREAM_BUFFER_JOBS_MIN = 32


@dataclass(frozen=True)
class Deployment:
    key: int
    processes: list[dict]


@dataclass(frozen=True)
class ProcessInstance:
    process_instance_key: int
    bpmn_process_id: str
    version: int
    process_definition_key: int


@dataclass(frozen=True)
class InstanceResult:
    process_instance_key: int
    bpmn_process_id: str
    variables: dict


@dataclass(frozen=True)
class Job:
    key: int
    type: str
    variables: dict
    custom_headers: dict
    retries: int
    deadline_ms: int
    process_instance_key: int
    bpmn_process_id: str
    element_id: str
    element_instance_key: int
    partition_id: int

    @classmethod
    def of(cls, key: int, value: JobRecordValue) -> "Job":
        return cls(
            key=key,
            type=value.type,
            variables=dict(value.variables),
            custom_headers=dict(value.custom_headers),
            retries=value.retries,
            deadline_ms=value.deadline_ms,
            process_instance_key=value.process_instance_key,
            bpmn_process_id=value.bpmn_process_id,
            element_id=value.element_id,
            element_instance_key=value.element_instance_key,
            partition_id=partition_for_key(key),
        )


@dataclass
class WorkerStats:
    received: int = 0
    completed: int = 0
    failed: int = 0
    errors_thrown: int = 0
    rejected: int = 0
    handler_errors: int = 0
    activated_by_polling: int = 0
    completed_keys: list[int] = field(default_factory=list)
    # process instance key -> time.monotonic() when its job's completion was acknowledged
    completed_at: dict[int, float] = field(default_factory=dict)


def _resource(item) -> tuple[str, bytes]:
    if isinstance(item, tuple):
        name, content = item
        return name, content.encode() if isinstance(content, str) else content
    if isinstance(item, str) and item.lstrip().startswith("<"):
        return "process.bpmn", item.encode()
    path = Path(item)
    return path.name, path.read_bytes()


class AsyncClient:
    """The client's commands as coroutines, run on the client's own event loop."""

    def __init__(self, router: Router, loop: asyncio.AbstractEventLoop) -> None:
        self._router = router
        self._loop = loop
        self.workers: list[Worker] = []
        self._deployed: dict[str, float] = {}  # bpmn process id -> when this client deployed it

    async def _on_loop(self, coro):
        if asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    # ------------------------------------------------------------------ processes
    async def deploy(self, *resources) -> Deployment:
        """Deploy BPMN resources: file paths, XML strings, or (name, content) pairs."""
        return await self._on_loop(self._deploy(resources))

    async def _deploy(self, resources) -> Deployment:
        router = self._router
        if router.topology is None:
            await router.refresh()
        value = DeploymentRecordValue(
            resources=[
                DeploymentResource(resource_name=name, resource=content)
                for name, content in map(_resource, resources)
            ]
        )
        command = Record(ValueType.DEPLOYMENT, DeploymentIntent.CREATE, value)
        record = await router.execute(DEPLOYMENT_PARTITION, command)
        for process in record.value.processes_metadata:
            self._deployed[process.bpmn_process_id] = time.monotonic()
        return Deployment(
            record.key,
            [m.model_dump(exclude={"checksum"}) for m in record.value.processes_metadata],
        )

    async def create_instance(
        self,
        bpmn_process_id: str = "",
        variables: dict | None = None,
        *,
        version: int = -1,
        process_definition_key: int = NO_KEY,
    ) -> ProcessInstance:
        return await self._on_loop(
            self._create(bpmn_process_id, variables, version, process_definition_key)
        )

    async def _create(self, bpmn_process_id, variables, version, definition_key):
        router = self._router
        if router.topology is None:
            await router.refresh()
        value = ProcessInstanceCreationRecordValue(
            bpmn_process_id=bpmn_process_id,
            version=version,
            process_definition_key=definition_key,
            variables=variables or {},
        )
        command = Record(
            ValueType.PROCESS_INSTANCE_CREATION, ProcessInstanceCreationIntent.CREATE, value
        )
        record = await self._execute_create(command, bpmn_process_id, COMMAND_TIMEOUT_MS_DEFAULT)
        created = record.value
        return ProcessInstance(
            created.process_instance_key,
            created.bpmn_process_id,
            created.version,
            created.process_definition_key,
        )

    async def create_instance_with_result(
        self,
        bpmn_process_id: str,
        variables: dict | None = None,
        *,
        version: int = -1,
        timeout_ms: int = RESULT_TIMEOUT_MS_DEFAULT,
        fetch_variables: list[str] | None = None,
    ) -> InstanceResult:
        return await self._on_loop(
            self._create_with_result(
                bpmn_process_id, variables, version, timeout_ms, fetch_variables
            )
        )

    async def _create_with_result(self, bpmn_process_id, variables, version, timeout_ms, fetch):
        router = self._router
        if router.topology is None:
            await router.refresh()
        value = ProcessInstanceCreationRecordValue(
            bpmn_process_id=bpmn_process_id,
            version=version,
            variables=variables or {},
            fetch_variables=fetch or [],
        )
        command = Record(
            ValueType.PROCESS_INSTANCE_CREATION,
            ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT,
            value,
        )
        record = await self._execute_create(command, bpmn_process_id, timeout_ms)
        result = record.value
        return InstanceResult(
            result.process_instance_key, result.bpmn_process_id, dict(result.variables)
        )

    async def _execute_create(self, command: Record, bpmn_process_id: str, timeout_ms: int):
        """A create goes to the next partition round-robin. One this client deployed moments
        ago may reach a partition before the deployment's distribution did: refused NOT_FOUND
        (nothing written), it is sent again - with a new request id - for up to
        DISTRIBUTION_WAIT_MS after the deployment."""
        router = self._router
        while True:
            try:
                return await router.execute(router.next_partition(), command, timeout_ms)
            except errors.NotFoundError:
                deployed_at = self._deployed.get(bpmn_process_id)
                if deployed_at is None or (
                    time.monotonic() - deployed_at > DISTRIBUTION_WAIT_MS / 1000
                ):
                    raise
                await asyncio.sleep(DISTRIBUTION_RETRY_MS / 1000)

    async def cancel_instance(self, process_instance_key: int) -> None:
        command = Record(
            ValueType.PROCESS_INSTANCE,
            ProcessInstanceIntent.CANCEL,
            ProcessInstanceRecordValue(),
            key=process_instance_key,
        )
        await self._keyed(process_instance_key, command)

    async def set_variables(
        self, element_instance_key: int, variables: dict, *, local: bool = False
    ) -> int:
        value = VariableDocumentRecordValue(
            scope_key=element_instance_key,
            update_semantics="LOCAL" if local else "PROPAGATE",
            variables=variables,
        )
        command = Record(ValueType.VARIABLE_DOCUMENT, VariableDocumentIntent.UPDATE, value)
        return (await self._keyed(element_instance_key, command)).key

    async def publish_message(
        self,
        name: str,
        correlation_key: str,
        variables: dict | None = None,
        *,
        time_to_live_ms: int = 0,
        message_id: str = "",
    ) -> int:
        return await self._on_loop(
            self._publish(name, correlation_key, variables, time_to_live_ms, message_id)
        )

    async def _publish(self, name, correlation_key, variables, ttl_ms, message_id) -> int:
        router = self._router
        if router.topology is None:
            await router.refresh()
        value = MessageRecordValue(
            name=name,
            correlation_key=correlation_key,
            time_to_live_ms=ttl_ms,
            message_id=message_id,
            variables=variables or {},
        )
        command = Record(ValueType.MESSAGE, MessageIntent.PUBLISH, value)
        partition = partition_for_correlation_key(correlation_key, router.partition_count)
        return (await router.execute(partition, command)).key

    async def resolve_incident(self, incident_key: int) -> None:
        command = Record(
            ValueType.INCIDENT, IncidentIntent.RESOLVE, IncidentRecordValue(), key=incident_key
        )
        await self._keyed(incident_key, command)

    async def _keyed(self, key: int, command: Record, request_id: int | None = None) -> Record:
        partition = partition_for_key(key)
        if request_id is None:
            return await self._on_loop(self._router.execute(partition, command))
        return await self._on_loop(
            self._router.execute(
                partition, command, COMMAND_TIMEOUT_MS_DEFAULT, request_id=request_id
            )
        )

    # ------------------------------------------------------------------ jobs
    async def activate_jobs(
        self,
        job_type: str,
        max_jobs: int = 32,
        *,
        timeout_ms: int = JOB_TIMEOUT_MS_DEFAULT,
        worker: str = "raybee-python",
        request_timeout_ms: int = 10_000,
        fetch_variables: list[str] | None = None,
    ) -> list[Job]:
        pairs = await self._on_loop(
            self._router.activate_jobs(
                job_type, max_jobs, timeout_ms, worker, request_timeout_ms, fetch_variables
            )
        )
        return [Job.of(key, job) for key, job in pairs]

    async def complete_job(
        self, job_key: int, variables: dict | None = None, *, request_id: int | None = None
    ) -> None:
        command = Record(
            ValueType.JOB,
            JobIntent.COMPLETE,
            JobRecordValue(variables=variables or {}),
            key=job_key,
        )
        await self._keyed(job_key, command, request_id)

    async def fail_job(
        self,
        job_key: int,
        retries: int,
        error_message: str = "",
        *,
        retry_backoff_ms: int = 0,
        request_id: int | None = None,
    ) -> None:
        value = JobRecordValue(
            retries=retries, error_message=error_message[:4000], retry_backoff_ms=retry_backoff_ms
        )
        command = Record(ValueType.JOB, JobIntent.FAIL, value, key=job_key)
        await self._keyed(job_key, command, request_id)

    async def throw_error(
        self,
        job_key: int,
        error_code: str,
        error_message: str = "",
        variables: dict | None = None,
        *,
        request_id: int | None = None,
    ) -> None:
        value = JobRecordValue(
            error_code=error_code, error_message=error_message[:4000], variables=variables or {}
        )
        command = Record(ValueType.JOB, JobIntent.THROW_ERROR, value, key=job_key)
        await self._keyed(job_key, command, request_id)

    async def update_job_retries(self, job_key: int, retries: int) -> None:
        value = JobRecordValue(retries=retries)
        await self._keyed(
            job_key, Record(ValueType.JOB, JobIntent.UPDATE_RETRIES, value, key=job_key)
        )

    async def topology(self) -> dict:
        """Partitions (leader, members), brokers (node, state).
        While the supervisor restarts, asks again for up to TOPOLOGY_WAIT_S."""
        deadline = time.monotonic() + TOPOLOGY_WAIT_S
        while True:
            try:
                topology = await self._on_loop(self._router.refresh(force=True))
                return _public_topology(topology)
            except (ray.exceptions.RayActorError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def _public_topology(topology: dict) -> dict:
    return {
        "replica_implementation": topology["replica_implementation"],
        "job_push": topology["job_push"],
        "partition_count": topology["partition_count"],
        "replication_factor": topology["replication_factor"],
        "partitions": topology["partitions"],
        "brokers": {
            b: {k: v for k, v in info.items() if k != "handle"}
            for b, info in topology["brokers"].items()
        },
    }


class Worker:
    """A job worker: jobs pushed by the partitions' leaders (and, as a fallback, activated by
    long polling every `ACTIVATION_FALLBACK_INTERVAL_S` for jobs that were waiting before the
    streams opened) run the handler, at most `concurrency` at a time."""

    def __init__(
        self,
        client: AsyncClient,
        job_type: str,
        handler: Callable,
        concurrency: int,
        timeout_ms: int,
        retry_backoff_ms: int,
        name: str,
        fetch_variables: tuple[str, ...],
        stream_id: int,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"a worker needs a concurrency of at least 1, got {concurrency}")
        self.client = client
        self.job_type = job_type
        self.handler = handler
        self.concurrency = concurrency
        self.timeout_ms = timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.name = name
        self.fetch_variables = fetch_variables
        self.stats = WorkerStats()
        self._active = 0
        self._slot_freed = asyncio.Event()
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix=f"raybee-{job_type}"
        )
        self._is_async = inspect.iscoroutinefunction(handler)
        self._tasks: set[asyncio.Task] = set()
        self._seen: set[int] = set()
        self.pump = JobStreamPump(
            client._router,
            stream_id,
            job_type,
            name,
            timeout_ms,
            fetch_variables,
            max(concurrency * STREAM_BUFFER_PER_SLOT, STREAM_BUFFER_JOBS_MIN),
            self._free,
            self._slot_freed,
            self._on_push,
        )
        self._fallback: asyncio.Task | None = None

    def _free(self) -> int:
        return self.concurrency - self._active

    def start(self) -> None:
        self.pump.start()
        self._fallback = asyncio.get_running_loop().create_task(self._poll_fallback())

    async def stop(self) -> None:
        if self._fallback is not None:
            self._fallback.cancel()
        await self.pump.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def _poll_fallback(self) -> None:
        """Jobs that became activatable without a push (they were waiting before the streams
        opened, or a push was handed back because the stream's buffer was full) are activated
        here: as long as activation finds jobs it goes on at once, else it looks again after
        ACTIVATION_FALLBACK_INTERVAL_S."""
        router = self.client._router
        while True:
            await asyncio.sleep(ACTIVATION_FALLBACK_INTERVAL_S)
            while (free := self._free()) > 0:
                try:
                    pairs = await router.activate_jobs(
                        self.job_type,
                        free,
                        self.timeout_ms,
                        self.name,
                        0,
                        list(self.fetch_variables),
                    )
                except errors.RaybeeError:
                    break
                self.stats.activated_by_polling += len(pairs)
                for key, job in pairs:
                    self._start(key, job)
                if not pairs:
                    break
                if self._free() <= 0:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()

    async def _on_push(self, partition: int, push) -> None:
        del partition
        self._start(push.job_key, push.job)

    def _start(self, key: int, value: JobRecordValue) -> None:
        self.stats.received += 1
        self._active += 1
        task = asyncio.get_running_loop().create_task(self._handle(Job.of(key, value)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, job: Job) -> None:
        try:
            try:
                if self._is_async:
                    result = await self.handler(job)
                else:
                    loop = asyncio.get_running_loop()
                    result = await loop.run_in_executor(self._threads, self.handler, job)
                if result is not None and not isinstance(result, dict):
                    raise TypeError(
                        f"a job handler returns a dict of variables or None, "
                        f"{self.handler.__name__} returned {type(result).__name__}"
                    )
            except errors.BpmnError as error:
                await self._settle(job, "throw_error", error.code, error.message, error.variables)
                self.stats.errors_thrown += 1
                return
            except Exception as error:
                self.stats.handler_errors += 1
                await self._settle(
                    job,
                    "fail_job",
                    max(job.retries - 1, 0),
                    f"{type(error).__name__}: {error}",
                    retry_backoff_ms=self.retry_backoff_ms,
                )
                self.stats.failed += 1
                return
            if await self._settle(job, "complete_job", result or {}):
                self.stats.completed += 1
                self.stats.completed_keys.append(job.key)
                self.stats.completed_at[job.process_instance_key] = time.monotonic()
        finally:
            self._active -= 1
            self._slot_freed.set()

    async def _settle(self, job: Job, method: str, *args, **kwargs) -> bool:
        """Complete, fail or throw for a job; retried while the cluster is busy or failing
        over, always with the request id of the first try: a try whose outcome was unknown may
        have applied, and the partition answers the same id with that first answer instead of
        NOT_FOUND. A rejection (the job timed out and went elsewhere, was cancelled) is
        counted and dropped."""
        deadline = time.monotonic() + WORKER_COMMAND_DEADLINE_MS / 1000
        call = getattr(self.client, method)
        request_id = self.client._router.next_request_id()
        while True:
            try:
                await call(job.key, *args, request_id=request_id, **kwargs)
                return True
            except errors.RejectedError as rejection:
                self.stats.rejected += 1
                log.info(
                    "worker %s: %s of job %d rejected: %s", self.name, method, job.key, rejection
                )
                return False
            except (
                errors.ResourceExhaustedError,
                errors.UnavailableError,
                errors.UnknownOutcomeError,
            ):
                if time.monotonic() > deadline:
                    log.warning("worker %s: giving up on %s of job %d", self.name, method, job.key)
                    return False
                await asyncio.sleep(WORKER_COMMAND_RETRY_MS / 1000)


class _LoopThread:
    """An asyncio event loop in a daemon thread: the sync client's engine room."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="raybee-client", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro, timeout_s: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self) -> None:
        """Cancel what still runs on the loop (calls in flight), then stop it."""

        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_the_rest(), timeout_s=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


_stream_ids = itertools.count(1)


class Client:
    """Blocking facade over `AsyncClient` (see the module docstring)."""

    def __init__(self, supervisor, cluster=None, owns_ray: bool = False) -> None:
        self._cluster = cluster
        self._owns_ray = owns_ray
        self._loop = _LoopThread()
        request_stream_id = int.from_bytes(os.urandom(4), "big") % ((1 << 31) - (1 << 20)) + (
            1 << 20
        )
        self._router = Router(supervisor, request_stream_id)
        self.aio = AsyncClient(self._router, self._loop.loop)
        self._closed = False
        self._loop.run(self._router.refresh(force=True), timeout_s=30)
        atexit.register(self.close)

    @property
    def router(self) -> Router:
        return self._router

    @property
    def cluster(self):
        """The embedded LocalCluster when this client started one (tests and the demo kill its
        nodes), else None."""
        return self._cluster

    def _run(self, coro):
        return self._loop.run(coro)

    def deploy(self, *resources) -> Deployment:
        return self._run(self.aio.deploy(*resources))

    def create_instance(self, bpmn_process_id: str = "", variables: dict | None = None, **kw):
        return self._run(self.aio.create_instance(bpmn_process_id, variables, **kw))

    def create_instance_with_result(self, bpmn_process_id: str, variables=None, **kw):
        return self._run(self.aio.create_instance_with_result(bpmn_process_id, variables, **kw))

    def cancel_instance(self, process_instance_key: int) -> None:
        return self._run(self.aio.cancel_instance(process_instance_key))

    def set_variables(self, element_instance_key: int, variables: dict, **kw) -> int:
        return self._run(self.aio.set_variables(element_instance_key, variables, **kw))

    def publish_message(self, name: str, correlation_key: str, variables=None, **kw) -> int:
        return self._run(self.aio.publish_message(name, correlation_key, variables, **kw))

    def resolve_incident(self, incident_key: int) -> None:
        return self._run(self.aio.resolve_incident(incident_key))

    def activate_jobs(self, job_type: str, max_jobs: int = 32, **kw) -> list[Job]:
        return self._run(self.aio.activate_jobs(job_type, max_jobs, **kw))

    def complete_job(self, job_key: int, variables: dict | None = None) -> None:
        return self._run(self.aio.complete_job(job_key, variables))

    def fail_job(self, job_key: int, retries: int, error_message: str = "", **kw) -> None:
        return self._run(self.aio.fail_job(job_key, retries, error_message, **kw))

    def throw_error(self, job_key: int, error_code: str, error_message: str = "", **kw) -> None:
        return self._run(self.aio.throw_error(job_key, error_code, error_message, **kw))

    def update_job_retries(self, job_key: int, retries: int) -> None:
        return self._run(self.aio.update_job_retries(job_key, retries))

    def topology(self) -> dict:
        return self._run(self.aio.topology())

    def status(self) -> dict:
        """The supervisor's full status (what `raybee status` prints)."""
        return ray.get(self._router.supervisor.status.remote(), timeout=10)

    def worker(
        self,
        job_type: str,
        *,
        concurrency: int = 8,
        timeout_ms: int = JOB_TIMEOUT_MS_DEFAULT,
        retry_backoff_ms: int = RETRY_BACKOFF_MS_DEFAULT,
        name: str | None = None,
        fetch_variables: tuple[str, ...] = (),
    ):
        """Decorator: run the function for every job of `job_type` from now on."""

        def register(handler: Callable) -> Callable:
            stream_id = (self._router.request_stream_id << 20) + next(_stream_ids)
            worker = Worker(
                self.aio,
                job_type,
                handler,
                concurrency,
                timeout_ms,
                retry_backoff_ms,
                name or f"{handler.__name__}@{os.getpid()}",
                tuple(fetch_variables),
                stream_id,
            )
            self._run(_start_worker(worker))
            self.aio.workers.append(worker)
            handler.worker = worker
            return handler

        return register

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for worker in self.aio.workers:
                self._loop.run(worker.stop(), timeout_s=10)
        except Exception:
            log.exception("stopping the workers failed")
        self._loop.stop()
        if self._cluster is not None:
            self._cluster.shutdown()
        elif self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


async def _start_worker(worker: Worker) -> None:
    worker.start()


def connect(
    address: str | None = None,
    *,
    partitions: int = deployment.PARTITIONS_DEFAULT,
    replication_factor: int | None = None,
    nodes: int = 3,
    data_dir: str | None = None,
    tick_ms: int | None = None,
    ready_timeout_s: float = deployment.READY_TIMEOUT_S,
    replica_settings: dict[str, int] | None = None,
) -> Client:
    """A client of raybee. See the module docstring for the embedded default."""
    from raybee.actors.local_cluster import LocalCluster, init_driver

    cluster = None
    owns_ray = False
    try:
        if address is None and not ray.is_initialized():
            cluster = LocalCluster.start(nodes=nodes)
            cluster.connect_driver(NAMESPACE)
            supervisor = deployment.deploy(
                partitions, replication_factor, data_dir, tick_ms, replica_settings=replica_settings
            )
        else:
            if not ray.is_initialized():
                init_driver(address, NAMESPACE)
                owns_ray = True
            supervisor = deployment.require_supervisor()
        deployment.wait_serving(supervisor, ready_timeout_s)
        return Client(supervisor, cluster, owns_ray)
    except BaseException:
        if cluster is not None:
            cluster.shutdown()
        raise

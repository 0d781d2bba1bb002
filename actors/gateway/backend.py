"""What the gateway's servicers call: raybee's client library, and nothing else.

`Backend` wraps the Python client's `AsyncClient` and its `Router` (actors/client.py,
actors/routing.py): every command goes to its partition by the router's rules (a key's
partition, round-robin for new instances, the correlation key's partition for messages,
partition 1 for deployments) with its retries, leader following and typed refusals. Where the
client already has the command, the backend calls it; the few commands the client does not
have yet are built here from the same records and sent through `Router.execute` (see
`NEEDS_FROM_CLIENT`).

Two routers stand behind it: the real one over the Ray cluster (`ray_backend.py`) and, for
tests and for trying clients without Ray, `inprocess.InProcessRouter` (one partition in this
process) - the servicers cannot tell them apart.
"""

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from raybee.actors import errors
from raybee.actors.client import AsyncClient, Deployment, ProcessInstance
from raybee.actors.gateway.long_polls import LongPolls
from raybee.actors.routing import partition_for_key
from raybee.partitions.protocol import (
    JobIntent,
    JobRecordValue,
    ProcessInstanceCreationIntent,
    ProcessInstanceCreationRecordValue,
    ProcessInstanceResultRecordValue,
    Record,
    ValueType,
)

log = logging.getLogger(__name__)

ERROR_MESSAGE_CHARS_MAX = 4_000
# A deployment is answered by partition 1 and then distributed to the others (the engine's
# command distribution): a create sent meanwhile to another partition is refused NOT_FOUND
# (nothing written) and sent again, with a new request id, for up to this long - the client's
# rule (actors/client.py), which the gateway's create-with-result cannot reach (see below).
DISTRIBUTION_WAIT_MS = 10_000
DISTRIBUTION_RETRY_MS = 50
# What the client/router library lacks and the backend builds itself (for the Ray engineer):
NEEDS_FROM_CLIENT = {
    "fail_job": "AsyncClient.fail_job takes no variables (FailJobRequest.variables)",
    "create_instance_with_result": "AsyncClient.create_instance_with_result takes no process "
    "definition key and returns neither version nor definition key (so the gateway repeats "
    "the client's distribution wait)",
    "activate_jobs": "AsyncClient.activate_jobs returns Job without worker, process "
    "definition key and version (the gateway reads Router.activate_jobs instead)",
    "update_job_timeout": "no AsyncClient.update_job_timeout",
    "yield_jobs": "no way to hand activated jobs back (JOB YIELD) from the client",
    "job_streams": "JobStreamPump is reachable only through a Worker (the gateway builds one)",
}

OnJob = Callable[[int, object], Awaitable[None]]


@dataclass(frozen=True)
class StreamRequest:
    """A worker's job stream (StreamActivatedJobs)."""

    job_type: str
    worker: str
    timeout_ms: int
    fetch_variables: tuple[str, ...]
    capacity: int


class JobStreams:
    """Opens job streams on the partitions' leaders: `open(...)` returns an object with
    `async stop()`. Implemented per router (`ray_backend.RayJobStreams`,
    `inprocess.InProcessJobStreams`)."""

    def open(
        self,
        request: StreamRequest,
        free: Callable[[], int],
        slot_freed: asyncio.Event,
        on_job: OnJob,
    ):
        raise NotImplementedError


class Backend:
    def __init__(self, client: AsyncClient, router, streams: JobStreams) -> None:
        self.client = client
        self.router = router
        self.streams = streams
        self.long_polls = LongPolls(router)
        self._stream_ids = itertools.count(1)
        self._deployed_at: dict[str, float] = {}  # bpmn process id -> when deployed here

    @property
    def partition_count(self) -> int:
        return self.router.partition_count

    def next_stream_id(self) -> int:
        return next(self._stream_ids)

    async def _keyed(self, key: int, command: Record, timeout_ms: int | None = None) -> Record:
        if timeout_ms is None:
            return await self.router.execute(partition_for_key(key), command)
        return await self.router.execute(partition_for_key(key), command, timeout_ms)

    # ------------------------------------------------------------------ cluster
    async def topology(self) -> dict:
        return await self.client.topology()

    # ------------------------------------------------------------------ processes
    async def deploy(self, resources: list[tuple[str, bytes]]) -> Deployment:
        deployment = await self.client.deploy(*resources)
        for process in deployment.processes:
            self._deployed_at[process["bpmn_process_id"]] = time.monotonic()
        return deployment

    async def create_instance(
        self, bpmn_process_id: str, variables: dict, version: int, definition_key: int
    ) -> ProcessInstance:
        return await self.client.create_instance(
            bpmn_process_id, variables, version=version, process_definition_key=definition_key
        )

    async def create_instance_with_result(
        self,
        bpmn_process_id: str,
        variables: dict,
        version: int,
        definition_key: int,
        timeout_ms: int,
        fetch_variables: list[str],
    ) -> ProcessInstanceResultRecordValue:
        """Like AsyncClient's create with result (round-robin, and a create refused NOT_FOUND
        shortly after this backend deployed the process is sent again while the deployment
        reaches the other partitions), but by definition key too, and answered with the whole
        result (version and definition key included)."""
        router = self.router
        if router.topology is None:
            await router.refresh()
        value = ProcessInstanceCreationRecordValue(
            bpmn_process_id=bpmn_process_id,
            version=version,
            process_definition_key=definition_key,
            variables=variables,
            fetch_variables=fetch_variables,
        )
        command = Record(
            ValueType.PROCESS_INSTANCE_CREATION,
            ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT,
            value,
        )
        while True:
            try:
                record = await router.execute(router.next_partition(), command, timeout_ms)
                return record.value
            except errors.NotFoundError:
                deployed_at = self._deployed_at.get(bpmn_process_id)
                if deployed_at is None or (
                    time.monotonic() - deployed_at > DISTRIBUTION_WAIT_MS / 1000
                ):
                    raise
                await asyncio.sleep(DISTRIBUTION_RETRY_MS / 1000)

    async def cancel_instance(self, process_instance_key: int) -> None:
        await self.client.cancel_instance(process_instance_key)

    async def set_variables(self, element_instance_key: int, variables: dict, local: bool) -> int:
        return await self.client.set_variables(element_instance_key, variables, local=local)

    async def resolve_incident(self, incident_key: int) -> None:
        await self.client.resolve_incident(incident_key)

    async def publish_message(
        self, name: str, correlation_key: str, variables: dict, ttl_ms: int, message_id: str
    ) -> int:
        return await self.client.publish_message(
            name, correlation_key, variables, time_to_live_ms=ttl_ms, message_id=message_id
        )

    # ------------------------------------------------------------------ jobs
    async def activate_jobs(
        self,
        job_type: str,
        jobs_max: int,
        job_timeout_ms: int,
        worker: str,
        request_timeout_ms: int,
        fetch_variables: list[str],
    ) -> list[tuple[int, JobRecordValue]]:
        """Long polling, parked while this gateway streams the type (`long_polls.py`)."""
        return await self.long_polls.activate(
            job_type, jobs_max, job_timeout_ms, worker, request_timeout_ms, fetch_variables
        )

    async def complete_job(self, job_key: int, variables: dict) -> None:
        await self.client.complete_job(job_key, variables)

    async def fail_job(
        self, job_key: int, retries: int, message: str, backoff_ms: int, variables: dict
    ) -> None:
        value = JobRecordValue(
            retries=retries,
            error_message=message[:ERROR_MESSAGE_CHARS_MAX],
            retry_backoff_ms=backoff_ms,
            variables=variables,
        )
        await self._keyed(job_key, Record(ValueType.JOB, JobIntent.FAIL, value, key=job_key))

    async def throw_error(self, job_key: int, code: str, message: str, variables: dict) -> None:
        await self.client.throw_error(job_key, code, message, variables)

    async def update_job_retries(self, job_key: int, retries: int) -> None:
        await self.client.update_job_retries(job_key, retries)

    async def update_job_timeout(self, job_key: int, timeout_ms: int) -> None:
        value = JobRecordValue(timeout_ms=timeout_ms)
        await self._keyed(
            job_key, Record(ValueType.JOB, JobIntent.UPDATE_TIMEOUT, value, key=job_key)
        )

    async def yield_jobs(self, job_keys: list[int]) -> int:
        """Hand activated jobs nobody will work on back to their partitions (JOB YIELD), so
        they need not wait out their timeout; how many were taken back."""
        calls = [
            self._keyed(key, Record(ValueType.JOB, JobIntent.YIELD, JobRecordValue(), key=key))
            for key in job_keys
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        for error in failed:
            log.info("handing a job back failed (it will time out instead): %r", error)
        return len(results) - len(failed)

    def open_job_stream(
        self, request: StreamRequest, free, slot_freed: asyncio.Event, on_job: OnJob
    ):
        return self.streams.open(request, free, slot_freed, on_job)

    async def close(self) -> None:
        pass

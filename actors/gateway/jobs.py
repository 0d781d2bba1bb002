"""Job workers' RPCs: activation by long polling (ActivateJobs), job push (StreamActivatedJobs),
and completing, failing, throwing, retries and timeouts.

ActivateJobs long-polls through the router: it asks the partitions in turn and, while none has
a job, asks again until the request timeout (`requestTimeout`; 0 means the gateway's default,
a negative value means answer at once), always ending before the call's own gRPC deadline. All
jobs found go out in one response; jobs activated too late for it (the router was slow, or the
caller left) are handed back to their partitions (JOB YIELD).

StreamActivatedJobs keeps a job stream open on every partition's leader for as long as the
call lasts: jobs are pushed the moment they become activatable. At most
`STREAM_BUFFER_JOBS_MAX` jobs wait in the gateway for the client to read them (the brokers keep
the rest, or hand them back); when the call ends, jobs pushed but not yet sent are handed back
to their partitions (JOB YIELD) instead of waiting out their timeout.
"""

import asyncio

import grpc
from pyzeebe.proto import gateway_pb2 as pb

from raybee.actors.gateway.backend import StreamRequest
from raybee.actors.gateway.json_documents import parse_document, to_json
from raybee.actors.gateway.rpc import (
    DEADLINE_MARGIN_MS,
    LONG_POLL_TIMEOUT_MS_DEFAULT,
    RpcBase,
    server_streaming,
    unary,
)
from raybee.actors.gateway.statuses import GatewayError

STREAM_BUFFER_JOBS_MAX = 32
DEADLINE_MARGIN_S = DEADLINE_MARGIN_MS / 1000
RETRY_BACKOFF_MS_MAX = 7 * 24 * 3600 * 1000


def activated_job(key: int, job) -> pb.ActivatedJob:
    return pb.ActivatedJob(
        key=key,
        type=job.type,
        processInstanceKey=job.process_instance_key,
        bpmnProcessId=job.bpmn_process_id,
        processDefinitionVersion=job.process_definition_version,
        processDefinitionKey=job.process_definition_key,
        elementId=job.element_id,
        elementInstanceKey=job.element_instance_key,
        customHeaders=to_json(job.custom_headers),
        worker=job.worker,
        retries=job.retries,
        deadline=job.deadline_ms,
        variables=to_json(job.variables),
        tenantId=job.tenant_id,
    )


def _job_type(job_type: str, rpc: str) -> str:
    if not job_type.strip():
        raise GatewayError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Expected to handle gRPC request {rpc} with a job type, but it was blank",
        )
    return job_type


class JobRpcs(RpcBase):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._background: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ activation
    @server_streaming
    async def ActivateJobs(self, request, context):
        rpc = "ActivateJobs"
        job_type = _job_type(request.type, rpc)
        self._positive(request.maxJobsToActivate, "maxJobsToActivate", rpc)
        self._positive(request.timeout, "timeout", rpc)
        self._tenants(request.tenantIds, rpc)
        if request.requestTimeout < 0:
            poll_ms = 0
        else:
            poll_ms = request.requestTimeout or LONG_POLL_TIMEOUT_MS_DEFAULT
        activation = asyncio.ensure_future(
            self.backend.activate_jobs(
                job_type,
                request.maxJobsToActivate,
                request.timeout,
                request.worker,
                self._within_deadline(context, poll_ms) if poll_ms else 0,
                list(request.fetchVariable),
            )
        )
        # The router may take longer than the poll under load; jobs it activates after the
        # caller's deadline (or after the caller left) would wait out their timeout unseen:
        # hand them back instead.
        remaining_s = context.time_remaining()
        budget_s = None if remaining_s is None else max(remaining_s - DEADLINE_MARGIN_S, 0.001)
        try:
            done, _ = await asyncio.wait({activation}, timeout=budget_s)
        except asyncio.CancelledError:
            self._hand_back_later(activation)
            raise
        if not done:
            self._hand_back_later(activation)
            return
        jobs = activation.result()
        self.stats.jobs_activated += len(jobs)
        if jobs:
            yield pb.ActivateJobsResponse(jobs=[activated_job(k, job) for k, job in jobs])

    def _hand_back_later(self, activation: asyncio.Future) -> None:
        async def hand_back() -> None:
            try:
                jobs = await activation
            except Exception:
                return  # nothing was activated, or nobody knows: the timeouts settle it
            self.stats.jobs_late += len(jobs)
            if jobs:
                self.stats.jobs_handed_back += await self.backend.yield_jobs(
                    [key for key, _ in jobs]
                )
                self.backend.long_polls.handed_back(jobs[0][1].type)

        task = asyncio.get_running_loop().create_task(hand_back())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @server_streaming
    async def StreamActivatedJobs(self, request, context):
        rpc = "StreamActivatedJobs"
        job_type = _job_type(request.type, rpc)
        self._positive(request.timeout, "timeout", rpc)
        self._tenants(request.tenantIds, rpc)
        pushed: asyncio.Queue = asyncio.Queue()
        slot_freed = asyncio.Event()

        def free() -> int:
            return STREAM_BUFFER_JOBS_MAX - pushed.qsize()

        async def on_job(partition: int, push) -> None:
            del partition
            pushed.put_nowait(push)

        stream = self.backend.open_job_stream(
            StreamRequest(
                job_type,
                request.worker,
                request.timeout,
                tuple(request.fetchVariable),
                STREAM_BUFFER_JOBS_MAX,
            ),
            free,
            slot_freed,
            on_job,
        )
        self.backend.long_polls.stream_opened(job_type)
        try:
            while True:
                push = await pushed.get()
                slot_freed.set()
                self.stats.jobs_streamed += 1
                yield activated_job(push.job_key, push.job)
        finally:
            self.backend.long_polls.stream_closed(job_type)
            await stream.stop()
            unsent = []
            while not pushed.empty():
                unsent.append(pushed.get_nowait().job_key)
            if unsent:
                self.stats.jobs_handed_back += await self.backend.yield_jobs(unsent)
                self.backend.long_polls.handed_back(job_type)

    # ------------------------------------------------------------------ settling a job
    @unary
    async def CompleteJob(self, request, context):
        key = self._key(request.jobKey, "job", "CompleteJob")
        variables = parse_document(request.variables, "CompleteJob")
        await self.backend.complete_job(key, variables)
        return pb.CompleteJobResponse()

    @unary
    async def FailJob(self, request, context):
        rpc = "FailJob"
        key = self._key(request.jobKey, "job", rpc)
        if not 0 <= request.retryBackOff <= RETRY_BACKOFF_MS_MAX:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to handle gRPC request {rpc} with a retryBackOff of 0 to "
                f"{RETRY_BACKOFF_MS_MAX} ms, but it was {request.retryBackOff}",
            )
        variables = parse_document(request.variables, rpc)
        await self.backend.fail_job(
            key, request.retries, request.errorMessage, request.retryBackOff, variables
        )
        return pb.FailJobResponse()

    @unary
    async def ThrowError(self, request, context):
        key = self._key(request.jobKey, "job", "ThrowError")
        variables = parse_document(request.variables, "ThrowError")
        await self.backend.throw_error(key, request.errorCode, request.errorMessage, variables)
        return pb.ThrowErrorResponse()

    @unary
    async def UpdateJobRetries(self, request, context):
        key = self._key(request.jobKey, "job", "UpdateJobRetries")
        await self.backend.update_job_retries(key, request.retries)
        return pb.UpdateJobRetriesResponse()

    @unary
    async def UpdateJobTimeout(self, request, context):
        key = self._key(request.jobKey, "job", "UpdateJobTimeout")
        await self.backend.update_job_timeout(key, request.timeout)
        return pb.UpdateJobTimeoutResponse()

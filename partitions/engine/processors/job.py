"""Processors of job commands. Each checks the command against the job's lifecycle
(ACTIVATABLE -> ACTIVATED -> COMPLETED, and FAILED / ERROR_THROWN beside it) and writes the
event, or a rejection naming the key and the state it found.

Zeebe's clients drive these jobs, so the rules follow Zeebe's documented behaviour; each rule
names its source beside it. Sources used throughout:
- GATEWAY_PROTO: https://github.com/camunda/camunda/blob/main/zeebe/gateway-protocol/src/main/proto/gateway.proto
  (the Apache-2.0 gateway protocol: request fields and each RPC's errors);
- REST_FAIL_JOB: https://docs.camunda.io/docs/apis-tools/orchestration-cluster-api-rest/specifications/fail-job/
"""

from raybee.partitions.protocol import (
    IncidentIntent,
    IncidentRecordValue,
    JobIntent,
    JobRecordValue,
    RejectionType,
    evolve,
)

from ..behaviors import push_to_stream
from ..bpmn_behaviors.errors import throw_job_error
from ..bpmn_behaviors.jobs import complete_job_element, fail_job_element
from ..context import ProcessingContext
from ..stores import JobState

ACTIVATED = frozenset({JobState.ACTIVATED})
ACTIVATABLE_OR_ACTIVATED = frozenset({JobState.ACTIVATABLE, JobState.ACTIVATED})
ANY_STATE = frozenset(JobState)
RETRY_BACKOFF_MS_MAX = 7 * 24 * 3600 * 1000


def job_in_state(ctx: ProcessingContext, action: str, allowed: frozenset[JobState]):
    """The job the command names, or None after writing the rejection."""
    key = ctx.command.key
    job = ctx.state.jobs.get(key)
    if job is None:
        ctx.reject(
            RejectionType.NOT_FOUND,
            f"Expected to {action} job with key '{key}', but no such job was found",
        )
        return None
    state = ctx.state.jobs.state(key)
    if state not in allowed:
        ctx.reject(
            RejectionType.INVALID_STATE,
            f"Expected to {action} job with key '{key}', but it is in state '{state}'",
        )
        return None
    return job


def invalid(ctx: ProcessingContext, reason: str) -> None:
    ctx.reject(RejectionType.INVALID_ARGUMENT, reason)


def raise_job_incident(
    ctx: ProcessingContext, job_key: int, job: JobRecordValue, error_type: str, message: str
) -> None:
    incident = IncidentRecordValue(
        error_type=error_type,
        error_message=message,
        bpmn_process_id=job.bpmn_process_id,
        process_definition_key=job.process_definition_key,
        process_instance_key=job.process_instance_key,
        element_id=job.element_id,
        element_instance_key=job.element_instance_key,
        job_key=job_key,
        variable_scope_key=job.element_instance_key,
        tenant_id=job.tenant_id,
    )
    ctx.append_event(ctx.next_key(), IncidentIntent.CREATED, incident)


def push_stored(ctx: ProcessingContext, key: int) -> None:
    """Offer the job as state now holds it (after the event's applier ran) to a job stream: the
    event may carry what the command sent rather than what the job is."""
    push_to_stream(ctx, key, ctx.state.jobs.get(key))


def released(job: JobRecordValue, **changes) -> JobRecordValue:
    """The job as it looks once no worker holds it."""
    return evolve(job, deadline_ms=-1, worker="", **changes)


class CreateJob:
    """A job created directly by a client (raybee's standalone jobs); BPMN service tasks write
    CREATED through their own behaviour."""

    def process(self, command, ctx: ProcessingContext) -> None:
        job = command.value
        if not job.type:
            return invalid(ctx, "Expected a job type to create a job, but the type is empty")
        if job.retries < 1:
            return invalid(
                ctx, f"Expected retries of at least 1 to create a job, got {job.retries}"
            )
        created = released(job, recurring_time_ms=-1)
        key = ctx.next_key()
        ctx.respond(ctx.append_event(key, JobIntent.CREATED, created))
        push_to_stream(ctx, key, created)


class CompleteJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "complete", ACTIVATABLE_OR_ACTIVATED)
        if job is None:
            return
        completed = evolve(job, variables=command.value.variables)
        ctx.respond(ctx.append_event(command.key, JobIntent.COMPLETED, completed))
        complete_job_element(ctx, job, command.value.variables)  # a BPMN task's job


class FailJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        request = command.value
        if request.retries < 0:
            return invalid(
                ctx,
                f"Expected retries of at least 0 to fail job with key '{command.key}', got {request.retries}",
            )
        if not 0 <= request.retry_backoff_ms <= RETRY_BACKOFF_MS_MAX:
            return invalid(
                ctx,
                f"Expected a retry back-off between 0 and {RETRY_BACKOFF_MS_MAX} ms to fail job "
                f"with key '{command.key}', got {request.retry_backoff_ms}",
            )
        # A slow worker may fail a job that already timed out and is ACTIVATABLE again: only a
        # job in neither state is refused. REST_FAIL_JOB, 409: "in the wrong state (i.e: not
        # ACTIVATED or ACTIVATABLE)"; https://github.com/camunda/camunda/issues/3757 ("I can
        # fail a job without activating it"). GATEWAY_PROTO's FailJob comment still says "the
        # job was not activated"; the newer REST contract is the one followed here.
        job = job_in_state(ctx, "fail", ACTIVATABLE_OR_ACTIVATED)
        if job is None:
            return
        backoff = request.retries > 0 and request.retry_backoff_ms > 0
        failed = evolve(
            job,
            # The event keeps the job's worker and deadline as they were when it failed (a
            # failed job's record in Zeebe still names them:
            # https://github.com/camunda/camunda/issues/16884); the applier releases the job.
            retries=request.retries,
            retry_backoff_ms=request.retry_backoff_ms,
            recurring_time_ms=ctx.now_ms + request.retry_backoff_ms if backoff else -1,
            error_message=request.error_message,
            # The event carries the COMMAND's variables: GATEWAY_PROTO FailJobRequest.variables
            # "will instantiate the variables at the local scope of the job's associated task",
            # which is the BPMN engine's business. The stored job keeps its own (the applier).
            variables=request.variables,
        )
        ctx.respond(ctx.append_event(command.key, JobIntent.FAILED, failed))
        fail_job_element(ctx, job, request.variables)  # a BPMN task's job: local variables
        if request.retries > 0 and not backoff:
            push_stored(ctx, command.key)
        if request.retries == 0:
            message = request.error_message or "No more retries left."
            raise_job_incident(ctx, command.key, failed, "JOB_NO_RETRIES", message)


class TimeOutJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        # An unknown job is NOT_FOUND, as for every job RPC in GATEWAY_PROTO ("NOT_FOUND: no
        # job was found with the given key"); TIME_OUT is the engine's own command.
        job = job_in_state(ctx, "time out", ACTIVATED)
        if job is None:
            return
        # A job times out only once its deadline is strictly in the past: the deadline is
        # "the unix timestamp until when the job is exclusively assigned to this worker. If the
        # deadline is exceeded, it can happen that the job is handed to another worker" (Zeebe's
        # JobRecordValue.getDeadline, https://hauptmedia.github.io/zeebe-exporter-types/interfaces/jobrecordvalue.html);
        # "If a job is not completed within this time then it can be requested again"
        # (https://docs.camunda.io/docs/components/concepts/job-workers/).
        if job.deadline_ms >= ctx.now_ms:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected to time out job with key '{command.key}', but its deadline "
                f"{job.deadline_ms} is not before the command's time {ctx.now_ms}",
            )
        timed_out = released(job)
        ctx.respond(ctx.append_event(command.key, JobIntent.TIMED_OUT, timed_out))
        push_to_stream(ctx, command.key, timed_out)


class UpdateJobRetries:
    def process(self, command, ctx: ProcessingContext) -> None:
        retries = command.value.retries
        # GATEWAY_PROTO UpdateJobRetries: "INVALID_ARGUMENT: retries is not greater than 0".
        if retries < 1:
            return invalid(
                ctx,
                f"Expected retries of at least 1 to update job with key '{command.key}', got {retries}",
            )
        job = job_in_state(ctx, "update retries of", ANY_STATE)
        if job is None:
            return
        updated = evolve(job, retries=retries)
        ctx.respond(ctx.append_event(command.key, JobIntent.RETRIES_UPDATED, updated))


class UpdateJobTimeout:
    def process(self, command, ctx: ProcessingContext) -> None:
        timeout_ms = command.value.timeout_ms
        if timeout_ms < 1:
            return invalid(
                ctx,
                f"Expected a timeout of at least 1 ms to update job with key '{command.key}', got {timeout_ms}",
            )
        # GATEWAY_PROTO UpdateJobTimeout: "INVALID_STATE: no deadline exists for the given job
        # key" (only an ACTIVATED job has one).
        job = job_in_state(ctx, "update the timeout of", ACTIVATED)
        if job is None:
            return
        updated = evolve(job, timeout_ms=timeout_ms, deadline_ms=ctx.now_ms + timeout_ms)
        ctx.respond(ctx.append_event(command.key, JobIntent.TIMEOUT_UPDATED, updated))


class ThrowJobError:
    def process(self, command, ctx: ProcessingContext) -> None:
        request = command.value
        if not request.error_code:
            return invalid(
                ctx,
                f"Expected an error code to throw an error for job with key '{command.key}', but it is empty",
            )
        job = job_in_state(ctx, "throw an error for", ACTIVATABLE_OR_ACTIVATED)
        if job is None:
            return
        thrown = released(
            job,
            error_code=request.error_code,
            error_message=request.error_message,
            # The event carries the COMMAND's variables: GATEWAY_PROTO ThrowErrorRequest.variables
            # "will instantiate the variables at the local scope of the error catch event that
            # catches the thrown error" (the BPMN engine's business). The stored job keeps its
            # own variables (the applier).
            variables=request.variables,
        )
        ctx.respond(ctx.append_event(command.key, JobIntent.ERROR_THROWN, thrown))
        if throw_job_error(ctx, command.key, thrown):
            return  # a BPMN catch event took it
        # No catch event at the partition level (BPMN boundary events catch it in the engine).
        raise_job_incident(
            ctx,
            command.key,
            thrown,
            "UNHANDLED_ERROR_EVENT",
            f"An error was thrown with the code '{request.error_code}' but not caught. {request.error_message}".strip(),
        )


class CancelJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "cancel", ANY_STATE)
        if job is None:
            return
        incident_key = ctx.state.incidents.of_job(command.key)
        if incident_key is not None:
            incident = ctx.state.incidents.get(incident_key)
            ctx.append_event(incident_key, IncidentIntent.RESOLVED, incident)
        ctx.respond(ctx.append_event(command.key, JobIntent.CANCELED, job))


class YieldJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "yield", ACTIVATED)
        if job is None:
            return
        ctx.respond(ctx.append_event(command.key, JobIntent.YIELDED, released(job)))


class RecurJobAfterBackoff:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "recur after back-off", frozenset({JobState.FAILED}))
        if job is None:
            return
        if job.retries < 1 or job.recurring_time_ms < 0:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected to recur job with key '{command.key}' after back-off, but it has "
                f"{job.retries} retries and no back-off running",
            )
        if job.recurring_time_ms > ctx.now_ms:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected to recur job with key '{command.key}' after back-off, but its "
                f"back-off ends at {job.recurring_time_ms}, after {ctx.now_ms}",
            )
        recurred = released(job, recurring_time_ms=-1)
        ctx.respond(ctx.append_event(command.key, JobIntent.RECURRED_AFTER_BACKOFF, recurred))
        push_to_stream(ctx, command.key, recurred)

"""Processors of job commands. Each checks the command against the job's lifecycle
(ACTIVATABLE -> ACTIVATED -> COMPLETED, and FAILED / ERROR_THROWN beside it) and writes the
event, or a rejection naming the key and the state it found."""

from raybee.partitions.protocol import (
    IncidentIntent,
    IncidentRecordValue,
    JobIntent,
    JobRecordValue,
    RejectionType,
    ValueType,
    evolve,
)

from ..behaviors import push_to_stream
from ..context import ProcessingContext
from ..stores import JobState
from . import processes

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


def released(job: JobRecordValue, **changes) -> JobRecordValue:
    """The job as it looks once no worker holds it."""
    return evolve(job, deadline_ms=-1, worker="", **changes)


@processes(ValueType.JOB, JobIntent.CREATE)
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


@processes(ValueType.JOB, JobIntent.COMPLETE)
class CompleteJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "complete", ACTIVATABLE_OR_ACTIVATED)
        if job is None:
            return
        completed = evolve(job, variables=command.value.variables)
        ctx.respond(ctx.append_event(command.key, JobIntent.COMPLETED, completed))


@processes(ValueType.JOB, JobIntent.FAIL)
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
        job = job_in_state(ctx, "fail", ACTIVATED)
        if job is None:
            return
        backoff = request.retries > 0 and request.retry_backoff_ms > 0
        failed = released(
            job,
            retries=request.retries,
            retry_backoff_ms=request.retry_backoff_ms,
            recurring_time_ms=ctx.now_ms + request.retry_backoff_ms if backoff else -1,
            error_message=request.error_message,
            # Variables sent with the command are merged into the job's, never replace them.
            variables={**job.variables, **request.variables},
        )
        ctx.respond(ctx.append_event(command.key, JobIntent.FAILED, failed))
        if request.retries > 0 and not backoff:
            push_to_stream(ctx, command.key, failed)
        if request.retries == 0:
            message = request.error_message or "No more retries left."
            raise_job_incident(ctx, command.key, failed, "JOB_NO_RETRIES", message)


@processes(ValueType.JOB, JobIntent.TIME_OUT)
class TimeOutJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "time out", ACTIVATED)
        if job is None:
            return
        if job.deadline_ms > ctx.now_ms:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected to time out job with key '{command.key}', but its deadline "
                f"{job.deadline_ms} is after the command's time {ctx.now_ms}",
            )
        timed_out = released(job)
        ctx.respond(ctx.append_event(command.key, JobIntent.TIMED_OUT, timed_out))
        push_to_stream(ctx, command.key, timed_out)


@processes(ValueType.JOB, JobIntent.UPDATE_RETRIES)
class UpdateJobRetries:
    def process(self, command, ctx: ProcessingContext) -> None:
        retries = command.value.retries
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


@processes(ValueType.JOB, JobIntent.UPDATE_TIMEOUT)
class UpdateJobTimeout:
    def process(self, command, ctx: ProcessingContext) -> None:
        timeout_ms = command.value.timeout_ms
        if timeout_ms < 1:
            return invalid(
                ctx,
                f"Expected a timeout of at least 1 ms to update job with key '{command.key}', got {timeout_ms}",
            )
        job = job_in_state(ctx, "update the timeout of", ACTIVATED)
        if job is None:
            return
        updated = evolve(job, timeout_ms=timeout_ms, deadline_ms=ctx.now_ms + timeout_ms)
        ctx.respond(ctx.append_event(command.key, JobIntent.TIMEOUT_UPDATED, updated))


@processes(ValueType.JOB, JobIntent.THROW_ERROR)
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
            # Variables sent with the command are merged into the job's, never replace them.
            variables={**job.variables, **request.variables},
        )
        ctx.respond(ctx.append_event(command.key, JobIntent.ERROR_THROWN, thrown))
        # No catch event at the partition level (BPMN boundary events catch it in the engine).
        raise_job_incident(
            ctx,
            command.key,
            thrown,
            "UNHANDLED_ERROR_EVENT",
            f"An error was thrown with the code '{request.error_code}' but not caught. {request.error_message}".strip(),
        )


@processes(ValueType.JOB, JobIntent.CANCEL)
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


@processes(ValueType.JOB, JobIntent.YIELD)
class YieldJob:
    def process(self, command, ctx: ProcessingContext) -> None:
        job = job_in_state(ctx, "yield", ACTIVATED)
        if job is None:
            return
        ctx.respond(ctx.append_event(command.key, JobIntent.YIELDED, released(job)))


@processes(ValueType.JOB, JobIntent.RECUR_AFTER_BACKOFF)
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

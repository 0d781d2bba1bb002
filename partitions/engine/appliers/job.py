"""Appliers of job events.

FAILED and ERROR_THROWN have a version 2: since their events carry the command's variables
(and FAILED the worker and deadline), an applier that stored the event's job as it is would
give the job the command's variables. Version 1 stays as it was, for logs written before: their
events carry the job as it was stored (variables merged, worker released).
"""

from raybee.partitions.protocol import NO_KEY, JobIntent, ValueType, evolve

from ..stores import JobState
from . import applies


@applies(ValueType.JOB, JobIntent.CREATED)
def created(state, record):
    state.jobs.create(record.key, record.value)


@applies(ValueType.JOB, JobIntent.CREATED, version=2)
def created_v2(state, record):
    """A job of a BPMN element is linked from the element instance (to cancel it with the
    element). Version 1 stays for logs written before (standalone jobs only)."""
    job = record.value
    state.jobs.create(record.key, job)
    if job.element_instance_key != NO_KEY:
        instances = state.element_instances
        entry = instances.get(job.element_instance_key)
        instances.put(job.element_instance_key, evolve(entry, job_key=record.key))


@applies(ValueType.JOB, JobIntent.COMPLETED)
def completed(state, record):
    state.jobs.remove(record.key)


@applies(ValueType.JOB, JobIntent.CANCELED)
def canceled(state, record):
    state.jobs.remove(record.key)


@applies(ValueType.JOB, JobIntent.FAILED)
def failed(state, record):
    job = record.value
    if job.retries > 0 and job.recurring_time_ms >= 0:
        state.jobs.fail_with_backoff(record.key, job)
    elif job.retries > 0:
        state.jobs.make_activatable(record.key, job)
    else:
        state.jobs.park(record.key, job, JobState.FAILED)


@applies(ValueType.JOB, JobIntent.FAILED, version=2)
def failed_v2(state, record):
    """The event names the job as the worker failed it (its worker and deadline) with the
    command's variables; the stored job keeps its own variables and no worker holds it."""
    event = record.value
    stored = state.jobs.get(record.key)
    assert stored is not None, f"job {record.key} failed but not stored"
    job = evolve(
        stored,
        retries=event.retries,
        retry_backoff_ms=event.retry_backoff_ms,
        recurring_time_ms=event.recurring_time_ms,
        error_message=event.error_message,
        worker="",
        deadline_ms=-1,
    )
    if job.retries > 0 and job.recurring_time_ms >= 0:
        state.jobs.fail_with_backoff(record.key, job)
    elif job.retries > 0:
        state.jobs.make_activatable(record.key, job)
    else:
        state.jobs.park(record.key, job, JobState.FAILED)


@applies(ValueType.JOB, JobIntent.TIMED_OUT)
def timed_out(state, record):
    state.jobs.make_activatable(record.key, record.value)


@applies(ValueType.JOB, JobIntent.YIELDED)
def yielded(state, record):
    state.jobs.make_activatable(record.key, record.value)


@applies(ValueType.JOB, JobIntent.RECURRED_AFTER_BACKOFF)
def recurred_after_backoff(state, record):
    state.jobs.make_activatable(record.key, record.value)


@applies(ValueType.JOB, JobIntent.RETRIES_UPDATED)
def retries_updated(state, record):
    state.jobs.update(record.key, record.value)


@applies(ValueType.JOB, JobIntent.TIMEOUT_UPDATED)
def timeout_updated(state, record):
    state.jobs.activate(record.key, record.value)


@applies(ValueType.JOB, JobIntent.ERROR_THROWN)
def error_thrown(state, record):
    state.jobs.park(record.key, record.value, JobState.ERROR_THROWN)


@applies(ValueType.JOB, JobIntent.ERROR_THROWN, version=2)
def error_thrown_v2(state, record):
    """The event carries the command's variables (for the catch event's scope); the stored job
    keeps its own."""
    event = record.value
    stored = state.jobs.get(record.key)
    assert stored is not None, f"error thrown for job {record.key}, which is not stored"
    job = evolve(
        stored,
        error_code=event.error_code,
        error_message=event.error_message,
        worker="",
        deadline_ms=-1,
    )
    state.jobs.park(record.key, job, JobState.ERROR_THROWN)

"""Appliers of job events.

FAILED and ERROR_THROWN have a version 2: since their events carry the command's variables
(and FAILED the worker and deadline), an applier that stored the event's job as it is would
give the job the command's variables. Version 1 stays as it was, for logs written before: their
events carry the job as it was stored (variables merged, worker released).
"""

from raybee.partitions.protocol import NO_KEY, evolve

from ..stores import JobState


def created(state, record):
    state.jobs.create(record.key, record.value)


def created_v2(state, record):
    """A job of a BPMN element is linked from the element instance (to cancel it with the
    element). Version 1 stays for logs written before (standalone jobs only)."""
    job = record.value
    state.jobs.create(record.key, job)
    if job.element_instance_key != NO_KEY:
        instances = state.element_instances
        entry = instances.get(job.element_instance_key)
        instances.put(job.element_instance_key, evolve(entry, job_key=record.key))


def completed(state, record):
    state.jobs.remove(record.key)


def canceled(state, record):
    state.jobs.remove(record.key)


def failed(state, record):
    job = record.value
    if job.retries > 0 and job.recurring_time_ms >= 0:
        state.jobs.fail_with_backoff(record.key, job)
    elif job.retries > 0:
        state.jobs.make_activatable(record.key, job)
    else:
        state.jobs.park(record.key, job, JobState.FAILED)


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


def timed_out(state, record):
    state.jobs.make_activatable(record.key, record.value)


def yielded(state, record):
    state.jobs.make_activatable(record.key, record.value)


def recurred_after_backoff(state, record):
    state.jobs.make_activatable(record.key, record.value)


def retries_updated(state, record):
    state.jobs.update(record.key, record.value)


def timeout_updated(state, record):
    state.jobs.activate(record.key, record.value)


def error_thrown(state, record):
    state.jobs.park(record.key, record.value, JobState.ERROR_THROWN)


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

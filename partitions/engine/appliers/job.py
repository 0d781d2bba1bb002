"""Appliers of job events."""

from raybee.partitions.protocol import JobIntent, ValueType

from ..stores import JobState
from . import applies


@applies(ValueType.JOB, JobIntent.CREATED)
def created(state, record):
    state.jobs.create(record.key, record.value)


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

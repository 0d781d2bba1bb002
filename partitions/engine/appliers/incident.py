"""Appliers of incident events."""

from raybee.partitions.protocol import NO_KEY

from ..stores import JobState


def created(state, record):
    state.incidents.create(record.key, record.value)


def resolved(state, record):
    incident = record.value
    state.incidents.remove(record.key)
    job_key = incident.job_key
    if job_key == NO_KEY:
        return
    job = state.jobs.get(job_key)
    # A resolved job incident hands the job back to workers (it may have been canceled since).
    if job is not None and state.jobs.state(job_key) in (JobState.FAILED, JobState.ERROR_THROWN):
        state.jobs.make_activatable(job_key, job)

"""Appliers of job batch events."""

from raybee.partitions.protocol import JobBatchIntent, ValueType

from . import applies


@applies(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATED)
def activated(state, record):
    batch = record.value
    assert len(batch.job_keys) == len(batch.jobs), "one job per key"
    for key, job in zip(batch.job_keys, batch.jobs, strict=True):
        state.jobs.activate(key, job)

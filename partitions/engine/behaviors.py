"""Behaviour shared by several processors."""

from raybee.partitions.protocol import JobBatchIntent, JobBatchRecordValue, JobRecordValue, evolve

from .bpmn_behaviors.job_variables import job_variables
from .context import ProcessingContext


def push_to_stream(ctx: ProcessingContext, job_key: int, job: JobRecordValue) -> bool:
    """If a worker streams this job's type, activate the job for it now (recorded as a
    JOB_BATCH ACTIVATED event) and queue the push; True when pushed."""
    stream = ctx.job_streams.next_for(job.type) if ctx.job_streams is not None else None
    if stream is None:
        return False
    variables = job_variables(ctx.state, job)  # a BPMN task's job: what its element sees
    if stream.fetch_variables:
        variables = {name: variables[name] for name in stream.fetch_variables if name in variables}
    activated = evolve(
        job,
        worker=stream.worker,
        timeout_ms=stream.timeout_ms,
        deadline_ms=ctx.now_ms + stream.timeout_ms,
        variables=variables,
    )
    batch = JobBatchRecordValue(
        type=job.type,
        worker=stream.worker,
        timeout_ms=stream.timeout_ms,
        max_jobs_to_activate=1,
        fetch_variables=list(stream.fetch_variables),
        job_keys=[job_key],
        jobs=[activated],
    )
    ctx.append_event(ctx.next_key(), JobBatchIntent.ACTIVATED, batch)
    ctx.push_job(stream.stream_id, job_key, activated)
    return True

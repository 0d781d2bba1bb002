"""Appliers of job batch events."""

from pydantic import BaseModel, ConfigDict, Field

from raybee.partitions.protocol import evolve


class _ActivatedJob(BaseModel):
    """What `activated` reads of each job a batch handed out (defaults: JobRecordValue's)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    worker: str = ""
    timeout_ms: int = -1
    deadline_ms: int = -1


class ActivatedJobs(BaseModel):
    """What `activated` reads of a JobBatchRecordValue: replay decodes only this (the jobs'
    variables and the rest, parsed over but not built, are most of a batch's decoding)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    job_keys: list[int] = Field(default_factory=list)
    jobs: list[_ActivatedJob] = Field(default_factory=list)


def activated(state, record):
    """The batch's jobs are what the worker sees (only the variables it fetched); the stored
    job keeps all of its variables and takes the worker, timeout and deadline."""
    batch = record.value
    assert len(batch.job_keys) == len(batch.jobs), "one job per key"
    for key, handed_out in zip(batch.job_keys, batch.jobs, strict=True):
        stored = state.jobs.get(key)
        assert stored is not None, f"job {key} activated but not stored"
        state.jobs.activate(
            key,
            evolve(
                stored,
                worker=handed_out.worker,
                timeout_ms=handed_out.timeout_ms,
                deadline_ms=handed_out.deadline_ms,
            ),
        )

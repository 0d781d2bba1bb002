"""Helpers for tests and benchmarks: command builders and a fake clock."""

from raybee.partitions.protocol import (
    IncidentIntent,
    IncidentRecordValue,
    JobBatchIntent,
    JobBatchRecordValue,
    JobIntent,
    JobRecordValue,
    Record,
    ValueType,
)


def create(job_type="payment", retries=3, **fields) -> Record:
    return Record(
        ValueType.JOB, JobIntent.CREATE, JobRecordValue(type=job_type, retries=retries, **fields)
    )


def activate(job_type="payment", max_jobs=10, timeout_ms=1000, worker="w", **fields) -> Record:
    value = JobBatchRecordValue(
        type=job_type, worker=worker, max_jobs_to_activate=max_jobs, timeout_ms=timeout_ms, **fields
    )
    return Record(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE, value)


def job_command(intent: JobIntent, key: int, **fields) -> Record:
    return Record(ValueType.JOB, intent, JobRecordValue(**fields), key=key)


def resolve(incident_key: int) -> Record:
    return Record(
        ValueType.INCIDENT, IncidentIntent.RESOLVE, IncidentRecordValue(), key=incident_key
    )


class FakeClock:
    """Milliseconds that move only when a test says so."""

    def __init__(self, start_ms: int = 1_700_000_000_000):
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        assert ms >= 0
        self.now_ms += ms

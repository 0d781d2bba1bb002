"""Job state: the job, its lifecycle state, and the indexes activation and the checkers scan."""

from collections.abc import Iterator
from enum import StrEnum

from raybee.partitions.protocol import JobRecordValue

from ..families import EMPTY, JOB_BACKOFFS, JOB_DEADLINES, JOB_STATES, JOBS, JOBS_ACTIVATABLE


class JobState(StrEnum):
    ACTIVATABLE = "ACTIVATABLE"
    ACTIVATED = "ACTIVATED"
    # Failed with retries left and a back-off running, or with no retries and an incident.
    FAILED = "FAILED"
    ERROR_THROWN = "ERROR_THROWN"


class JobStore:
    """Reads for everyone; the mutating methods are for event appliers only."""

    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    # ------------------------------------------------------------------ reads
    def get(self, key: int) -> JobRecordValue | None:
        return self._reader.get(JOBS, key)

    def state(self, key: int) -> JobState | None:
        raw = self._reader.get(JOB_STATES, key)
        return None if raw is None else JobState(raw)

    def activatable_keys(self, job_type: str) -> Iterator[int]:
        for (_, key), _ in self._reader.prefix(JOBS_ACTIVATABLE, (job_type,)):
            yield key

    def deadlines_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        """(deadline_ms, key) of activated jobs whose deadline is before time_ms, oldest first."""
        for (deadline_ms, key), _ in self._reader.range(JOB_DEADLINES, None, (time_ms,)):
            yield deadline_ms, key

    def backoffs_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        for (due_ms, key), _ in self._reader.range(JOB_BACKOFFS, None, (time_ms,)):
            yield due_ms, key

    def next_deadline_ms(self) -> int | None:
        first = self._reader.first(JOB_DEADLINES)
        return None if first is None else first[0][0]

    # ------------------------------------------------------------------ writes (appliers)
    def create(self, key: int, job: JobRecordValue) -> None:
        assert self.get(key) is None, f"job {key} created twice"
        self._writer.put(JOBS, key, job)
        self._make_activatable(key, job)

    def update(self, key: int, job: JobRecordValue) -> None:
        assert self.get(key) is not None, f"job {key} updated before it exists"
        self._writer.put(JOBS, key, job)

    def activate(self, key: int, job: JobRecordValue) -> None:
        previous = self._existing(key)
        self._writer.delete(JOBS_ACTIVATABLE, (previous.type, key))
        self._drop_deadline(previous, key)
        self._writer.put(JOBS, key, job)
        self._writer.put(JOB_STATES, key, JobState.ACTIVATED.value)
        assert job.deadline_ms >= 0, f"activated job {key} without a deadline"
        self._writer.put(JOB_DEADLINES, (job.deadline_ms, key), EMPTY)

    def make_activatable(self, key: int, job: JobRecordValue) -> None:
        previous = self._existing(key)
        self._clear_indexes(previous, key)
        self._writer.put(JOBS, key, job)
        self._make_activatable(key, job)

    def fail_with_backoff(self, key: int, job: JobRecordValue, due_ms: int) -> None:
        previous = self._existing(key)
        self._clear_indexes(previous, key)
        self._writer.put(JOBS, key, job)
        self._writer.put(JOB_STATES, key, JobState.FAILED.value)
        self._writer.put(JOB_BACKOFFS, (due_ms, key), EMPTY)

    def park(self, key: int, job: JobRecordValue, state: JobState) -> None:
        """Out of reach of workers (no retries left, or an error thrown) until resolved."""
        assert state in (JobState.FAILED, JobState.ERROR_THROWN), state
        previous = self._existing(key)
        self._clear_indexes(previous, key)
        self._writer.put(JOBS, key, job)
        self._writer.put(JOB_STATES, key, state.value)

    def remove(self, key: int) -> None:
        previous = self._existing(key)
        self._clear_indexes(previous, key)
        self._writer.delete(JOBS, key)
        self._writer.delete(JOB_STATES, key)

    # ------------------------------------------------------------------ internals
    def _existing(self, key: int) -> JobRecordValue:
        job = self.get(key)
        assert job is not None, f"job {key} does not exist"
        return job

    def _make_activatable(self, key: int, job: JobRecordValue) -> None:
        self._writer.put(JOB_STATES, key, JobState.ACTIVATABLE.value)
        self._writer.put(JOBS_ACTIVATABLE, (job.type, key), EMPTY)

    def _drop_deadline(self, previous: JobRecordValue, key: int) -> None:
        if previous.deadline_ms >= 0:
            self._writer.delete(JOB_DEADLINES, (previous.deadline_ms, key))

    def _clear_indexes(self, previous: JobRecordValue, key: int) -> None:
        self._writer.delete(JOBS_ACTIVATABLE, (previous.type, key))
        self._drop_deadline(previous, key)
        if previous.recurring_time_ms >= 0:
            self._writer.delete(JOB_BACKOFFS, (previous.recurring_time_ms, key))

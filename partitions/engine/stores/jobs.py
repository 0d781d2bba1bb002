"""Job state: the job and its lifecycle state (one entry), and the indexes activation and the
due-date checkers scan. Index entries are removed by what the job's state says exists, not
blindly."""

from collections.abc import Iterator
from enum import StrEnum

from raybee.partitions.protocol import JobRecordValue

from ..families import EMPTY, JOB_BACKOFFS, JOB_DEADLINES, JOBS, JOBS_ACTIVATABLE
from .job_cache import ABSENT, JobCache


class JobState(StrEnum):
    ACTIVATABLE = "ACTIVATABLE"
    ACTIVATED = "ACTIVATED"
    # Failed with retries left and a back-off running, or with no retries and an incident.
    FAILED = "FAILED"
    ERROR_THROWN = "ERROR_THROWN"


class JobStore:
    """Reads for everyone; the mutating methods are for event appliers only.

    `cache` is shared by the read-only and the mutable store of one batch (a job a processor
    read is not read and decoded again by its applier); see job_cache.py.
    """

    def __init__(self, reader, writer=None, cache: JobCache | None = None):
        self._reader = reader
        self._writer = writer
        self._cache = JobCache() if cache is None else cache

    # ------------------------------------------------------------------ reads
    def entry(self, key: int) -> tuple[JobState, JobRecordValue] | None:
        cached = self._cache.entry(key)
        if cached is ABSENT:
            raw = self._reader.get(JOBS, key)
            cached = None if raw is None else (JobState(raw[0]), raw[1])
            self._cache.entries[key] = cached
        return cached

    def get(self, key: int) -> JobRecordValue | None:
        entry = self.entry(key)
        return None if entry is None else entry[1]

    def state(self, key: int) -> JobState | None:
        entry = self.entry(key)
        return None if entry is None else entry[0]

    def activatable_keys(self, job_type: str) -> Iterator[int]:
        """Activatable jobs of a type, lowest key first."""
        floor = self._cache.floor(job_type)
        if floor is None:
            entries = self._reader.prefix(JOBS_ACTIVATABLE, (job_type,))
        else:
            entries = self._reader.range(JOBS_ACTIVATABLE, (job_type, floor), None)
        first = True
        for (entry_type, key), _ in entries:
            if entry_type != job_type:
                break
            if first:
                # Nothing activatable of this type lies below the first live entry.
                self._cache.floors[job_type] = key
                first = False
            yield key

    def deadlines_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        """(deadline_ms, key) of activated jobs whose deadline is before time_ms, oldest first."""
        for (deadline_ms, key), _ in self._reader.range(JOB_DEADLINES, None, (time_ms,)):
            yield deadline_ms, key

    def backoffs_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        for (due_ms, key), _ in self._reader.range(JOB_BACKOFFS, None, (time_ms,)):
            yield due_ms, key

    # ------------------------------------------------------------------ writes (appliers)
    def create(self, key: int, job: JobRecordValue) -> None:
        assert self.entry(key) is None, f"job {key} created twice"
        self._put(key, JobState.ACTIVATABLE, job)

    def update(self, key: int, job: JobRecordValue) -> None:
        state, _ = self._existing(key)
        self._put(key, state, job, clear=False)

    def activate(self, key: int, job: JobRecordValue) -> None:
        assert job.deadline_ms >= 0, f"activated job {key} without a deadline"
        self._put(key, JobState.ACTIVATED, job)

    def make_activatable(self, key: int, job: JobRecordValue) -> None:
        self._put(key, JobState.ACTIVATABLE, job)

    def fail_with_backoff(self, key: int, job: JobRecordValue) -> None:
        assert job.recurring_time_ms >= 0 and job.retries > 0, job
        self._put(key, JobState.FAILED, job)

    def park(self, key: int, job: JobRecordValue, state: JobState) -> None:
        """Out of reach of workers (no retries left, or an error thrown) until resolved."""
        assert state in (JobState.FAILED, JobState.ERROR_THROWN), state
        self._put(key, state, job)

    def remove(self, key: int) -> None:
        self._clear_indexes(key, *self._existing(key))
        self._writer.delete(JOBS, key)
        self._cache.entries[key] = None

    # ------------------------------------------------------------------ internals
    def _existing(self, key: int) -> tuple[JobState, JobRecordValue]:
        entry = self.entry(key)
        assert entry is not None, f"job {key} does not exist"
        return entry

    def _put(self, key: int, state: JobState, job: JobRecordValue, clear: bool = True) -> None:
        """Store (state, job) and the one index entry that state implies."""
        if clear:
            previous = self.entry(key)
            if previous is not None:
                self._clear_indexes(key, *previous)
            if state == JobState.ACTIVATABLE:
                self._writer.put(JOBS_ACTIVATABLE, (job.type, key), EMPTY)
                self._cache.lower_floor(job.type, key)
            elif state == JobState.ACTIVATED:
                self._writer.put(JOB_DEADLINES, (job.deadline_ms, key), EMPTY)
            elif state == JobState.FAILED and job.recurring_time_ms >= 0:
                self._writer.put(JOB_BACKOFFS, (job.recurring_time_ms, key), EMPTY)
        self._writer.put(JOBS, key, (state.value, job))
        self._cache.entries[key] = (state, job)

    def _clear_indexes(self, key: int, state: JobState, job: JobRecordValue) -> None:
        if state == JobState.ACTIVATABLE:
            self._writer.delete(JOBS_ACTIVATABLE, (job.type, key))
        elif state == JobState.ACTIVATED:
            self._writer.delete(JOB_DEADLINES, (job.deadline_ms, key))
        elif state == JobState.FAILED and job.recurring_time_ms >= 0:
            self._writer.delete(JOB_BACKOFFS, (job.recurring_time_ms, key))

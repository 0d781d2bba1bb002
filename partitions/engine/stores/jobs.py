"""Job state: the job and its lifecycle state (one entry), and the indexes activation and the
due-date checkers scan. Index entries are removed by what the job's state says exists, not
blindly."""

from collections.abc import Iterator
from enum import StrEnum

from raybee.partitions.protocol import NO_KEY, JobRecordValue

from ..families import (
    EMPTY,
    INCIDENTS,
    JOB_BACKOFFS,
    JOB_DEADLINES,
    JOB_INCIDENTS,
    JOBS,
    JOBS_ACTIVATABLE,
)
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

    def __init__(self, reader, writer=None, cache: JobCache | None = None, is_new_key=None):
        self._reader = reader
        self._writer = writer
        self._cache = JobCache() if cache is None else cache
        # The key generator's is_new: a job created under a key first handed out in this
        # transaction is known absent without a read (a miss in RocksDB per created job).
        self._is_new_key = is_new_key

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
        cache = self._cache
        if self._is_new_key is not None and cache.entry(key) is ABSENT and self._is_new_key(key):
            # Stored jobs have keys handed out before; one created in this transaction would be
            # in the batch's cache.
            cache.entries[key] = None
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


# ---------------------------------------------------------------------- consistency
def index_entry(key: int, state: JobState, job: JobRecordValue) -> tuple[str, object]:
    """The one index entry (family name, key) a job in this state must have, and no other:
    activatable -> by type; activated -> by deadline; failed with a back-off running -> by the
    back-off's end; failed without one, or an error thrown -> its open incident."""
    if state == JobState.ACTIVATABLE:
        return JOBS_ACTIVATABLE.name, (job.type, key)
    if state == JobState.ACTIVATED:
        return JOB_DEADLINES.name, (job.deadline_ms, key)
    if state == JobState.FAILED and job.recurring_time_ms >= 0:
        return JOB_BACKOFFS.name, (job.recurring_time_ms, key)
    return JOB_INCIDENTS.name, key


def index_problems(reader) -> list[str]:
    """Every way the job indexes disagree with the jobs, as sentences; empty when they agree.

    Reads every job, every index entry and every incident (for tests and tools, not for the
    processing path): an index entry for a job that is gone or whose state does not imply it,
    a job without its one entry, a job-incident link that points nowhere or to another job's
    incident, an incident whose job is gone. `index_entry` states the rule apart from `_put`
    and `_clear_indexes` on purpose: a checker sharing the writer's mapping would share its bugs.
    """
    problems = []
    expected: dict[tuple[str, object], int] = {}
    for key, (state_name, job) in reader.items(JOBS):
        state = JobState(state_name)
        entry = index_entry(key, state, job)
        expected[entry] = key
        if state == JobState.ACTIVATED and job.deadline_ms < 0:
            problems.append(f"job {key} is ACTIVATED without a deadline")
        if state == JobState.FAILED and job.recurring_time_ms >= 0 and job.retries < 1:
            problems.append(f"job {key} waits out a back-off with {job.retries} retries")
    found: set[tuple[str, object]] = set()
    for family in (JOBS_ACTIVATABLE, JOB_DEADLINES, JOB_BACKOFFS):
        for index_key, _ in reader.items(family):
            found.add((family.name, index_key))
    for job_key, incident_key in reader.items(JOB_INCIDENTS):
        found.add((JOB_INCIDENTS.name, job_key))
        incident = reader.get(INCIDENTS, incident_key)
        if incident is None:
            problems.append(f"job {job_key} is linked to incident {incident_key}, which is gone")
        elif incident.job_key != job_key:
            problems.append(
                f"job {job_key} is linked to incident {incident_key}, which is job "
                f"{incident.job_key}'s"
            )
    for entry in sorted(found - expected.keys(), key=repr):
        problems.append(f"index entry {entry} belongs to no job in a state that implies it")
    for entry in sorted(expected.keys() - found, key=repr):
        problems.append(f"job {expected[entry]} lacks its index entry {entry}")
    for incident_key, incident in reader.items(INCIDENTS):
        if incident.job_key == NO_KEY:
            continue
        if reader.get(JOBS, incident.job_key) is None:
            problems.append(
                f"incident {incident_key} is open for job {incident.job_key}, which is gone"
            )
        elif reader.get(JOB_INCIDENTS, incident.job_key) != incident_key:
            problems.append(
                f"incident {incident_key} of job {incident.job_key} is not linked to it"
            )
    return problems

"""Work that comes due by the clock: each kind of entity schedules its own.

A `DueWork` scans its due-date index for entries due at `now_ms` and turns each into a command
(job deadline -> JOB TIME_OUT, back-off over -> JOB RECUR_AFTER_BACKOFF; timers, message
time-to-live and resending unacknowledged distributions live in `bpmn_behaviors/`). Scheduling only proposes commands: the processors decide against state,
so a command that raced with a completion is simply rejected.
"""

from collections.abc import Iterator
from typing import Protocol

from raybee.partitions.protocol import JobIntent, JobRecordValue, Record, ValueType

from .context import EngineState


class DueWork(Protocol):
    name: str

    def due(self, state: EngineState, now_ms: int) -> Iterator[tuple[int, Record]]:
        """(due_ms, command) for every entry due at now_ms, oldest first."""
        ...


def _job_command(intent: JobIntent, key: int) -> Record:
    return Record(ValueType.JOB, intent, JobRecordValue(), key=key)


class JobDeadlines:
    name = "job deadlines"

    def due(self, state: EngineState, now_ms: int) -> Iterator[tuple[int, Record]]:
        # Strictly past: a job whose deadline is now has not timed out yet.
        for deadline_ms, key in state.jobs.deadlines_before(now_ms):
            yield deadline_ms, _job_command(JobIntent.TIME_OUT, key)


class JobBackoffs:
    name = "job back-offs"

    def due(self, state: EngineState, now_ms: int) -> Iterator[tuple[int, Record]]:
        for due_ms, key in state.jobs.backoffs_before(now_ms + 1):
            yield due_ms, _job_command(JobIntent.RECUR_AFTER_BACKOFF, key)

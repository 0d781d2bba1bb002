"""ActivateJobs long polls that do not ask the partitions again and again for nothing.

Zeebe's gateway parks a long poll that found no job and asks the brokers again only when one
of them says jobs of that type became available (or the request times out). raybee's brokers
say it by pushing: a job that becomes activatable while a job stream of its type is open on
its partition's leader is activated for that stream at once (partitions/engine/job_streams.py),
never left for a poll. So while this gateway streams a job type to a worker
(StreamActivatedJobs, which pyzeebe and Zeebe's Java client open beside their polls), a poll
of that type can only find jobs that became activatable WITHOUT a push: jobs handed back (JOB
YIELD: a stream's buffer was full, a worker went away) and jobs waiting from before the
streams opened (or from a leader change, until the stream reopened). For such a type the
gateway

- asks the partitions (one JOB_BATCH ACTIVATE each, in turn, until the request has its jobs)
  when a poll comes and the type may have jobs: its last round filled a request or was not
  answered everywhere, or this gateway handed jobs of the type back since, or the last round
  began `PROBE_INTERVAL_MS` ago or more;
- else parks the poll: the polls of a type parked together are served by one round per
  `PROBE_INTERVAL_MS` (not one each, nor one per back-off step), and wake at once when this
  gateway hands jobs of the type back, or when another poll's round found the type may have
  more; a parked poll that nothing woke answers with no jobs at its request timeout.

`PROBE_INTERVAL_MS` is the Python client's worker's look for jobs that were not pushed
(actors/client.py `ACTIVATION_FALLBACK_INTERVAL_S`): a job handed back waits no longer for a
gRPC worker than for a raybee worker.

A type that no stream of this gateway carries long-polls as `Router.activate_jobs` does (ask,
back off 20 .. 500 ms, ask again): nothing would push its jobs, and a poll must see a job soon
after it was created.
"""

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

from raybee.actors import errors
from raybee.partitions.protocol import JobBatchIntent, JobBatchRecordValue, Record, ValueType

PROBE_INTERVAL_MS = 1_000
ROUND_COMMAND_TIMEOUT_MS_MIN = 1_000


@dataclass
class _TypeState:
    """What this gateway knows about the activatable jobs of one streamed type."""

    may_have_jobs: bool = True
    asked_at: float = float("-inf")  # monotonic: when the last round began
    asking: bool = False
    handed_back: int = 0  # hand-backs of this type so far (a round compares before and after)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class LongPolls:
    """ActivateJobs for the gateway's backend (see the module docstring); `router` is the real
    `Router` or the in-process one."""

    def __init__(self, router, probe_interval_ms: int = PROBE_INTERVAL_MS) -> None:
        self.router = router
        self.probe_s = probe_interval_ms / 1000
        self._streamed: Counter = Counter()  # job type -> StreamActivatedJobs open here
        self._types: dict[str, _TypeState] = {}
        self._turn = itertools.count()
        self.stats = {"polls": 0, "parked": 0, "rounds": 0, "commands": 0, "jobs": 0}

    # ------------------------------------------------------------------ what the servicer says
    def stream_opened(self, job_type: str) -> None:
        self._streamed[job_type] += 1

    def stream_closed(self, job_type: str) -> None:
        self._streamed[job_type] -= 1
        if self._streamed[job_type] <= 0:
            del self._streamed[job_type]
            self._types.pop(job_type, None)

    def streaming(self, job_type: str) -> bool:
        return job_type in self._streamed

    def handed_back(self, job_type: str) -> None:
        """Jobs of this type were handed back (JOB YIELD): activatable again, not pushed."""
        state = self._types.get(job_type)
        if state is not None:
            state.handed_back += 1
            state.may_have_jobs = True
            state.wake()

    # ------------------------------------------------------------------ polls
    async def activate(
        self,
        job_type: str,
        jobs_max: int,
        job_timeout_ms: int,
        worker: str,
        request_timeout_ms: int,
        fetch_variables: list[str],
    ) -> list[tuple[int, object]]:
        self.stats["polls"] += 1
        if not self.streaming(job_type):
            return await self.router.activate_jobs(
                job_type, jobs_max, job_timeout_ms, worker, request_timeout_ms, fetch_variables
            )
        state = self._types.setdefault(job_type, _TypeState())
        deadline = time.monotonic() + max(request_timeout_ms, 0) / 1000
        first = True
        while True:
            now = time.monotonic()
            due = state.may_have_jobs or now - state.asked_at >= self.probe_s
            if not state.asking and (due or (first and request_timeout_ms <= 0)):
                jobs = await self._round(
                    state, job_type, jobs_max, job_timeout_ms, worker, fetch_variables, deadline
                )
                if jobs:
                    return jobs
                now = time.monotonic()
            if now >= deadline:
                return []
            if first:
                self.stats["parked"] += 1
                first = False
            # Until the next probe, a hand-back, another poll's round, or the deadline.
            wake_at = deadline if state.asking else min(deadline, state.asked_at + self.probe_s)
            changed = state.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), max(wake_at - now, 0.001))

    async def _round(
        self,
        state: _TypeState,
        job_type: str,
        jobs_max: int,
        job_timeout_ms: int,
        worker: str,
        fetch_variables: list[str],
        deadline: float,
    ) -> list[tuple[int, object]]:
        """Ask the partitions in turn (from the next one round-robin) until `jobs_max` jobs are
        found; note whether the type may have more."""
        router = self.router
        state.asking = True
        state.asked_at = time.monotonic()
        handed_back = state.handed_back
        self.stats["rounds"] += 1
        jobs: list[tuple[int, object]] = []
        answered_everywhere = True
        try:
            count = router.partition_count
            start = next(self._turn)
            for i in range(count):
                partition = (start + i) % count + 1
                value = JobBatchRecordValue(
                    type=job_type,
                    worker=worker,
                    timeout_ms=job_timeout_ms,
                    max_jobs_to_activate=jobs_max - len(jobs),
                    fetch_variables=fetch_variables,
                )
                command = Record(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE, value)
                left_ms = int((deadline - time.monotonic()) * 1000)
                self.stats["commands"] += 1
                try:
                    record = await router.execute(
                        partition, command, max(left_ms, ROUND_COMMAND_TIMEOUT_MS_MIN)
                    )
                except (errors.UnavailableError, errors.ResourceExhaustedError):
                    answered_everywhere = False
                    continue
                jobs.extend(zip(record.value.job_keys, record.value.jobs, strict=True))
                if len(jobs) >= jobs_max:
                    break
            state.may_have_jobs = (
                len(jobs) >= jobs_max or not answered_everywhere or state.handed_back != handed_back
            )
        finally:
            state.asking = False
            state.wake()
        self.stats["jobs"] += len(jobs)
        return jobs

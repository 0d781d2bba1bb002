"""A seeded random job workload that uses every job, job batch and incident intent, and the
checks that what it leaves behind is right.

- `JobWorkload` drives a LocalPartition with client commands (valid and invalid), clock ticks
  (time-outs, back-offs that run out), job streams that take or refuse pushed jobs, and incident
  resolution; `run_job_workload` is the one-call form.
- `intent_counts` / `missing_intents` say which intents the log holds, so a test can insist the
  workload reached every one.
- `JobLogChecker` folds the log into a model of jobs and incidents written from Zeebe's
  documented behaviour (independently of the processors and appliers), checks every answer
  against it, and compares the model with the store.
- `check_job_workload` runs all of it at once: the workload (with a snapshot taken half way),
  the semantics (the model compared with the store after every step, nothing due left after
  a tick), the job indexes (`index_problems`), intent coverage, a follower replaying as the
  leader goes and holding the same bytes, and replay from scratch and from the snapshot
  compared byte for byte with the processed store. The fast check the replay test and the
  engine mutation test share.
"""

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from raybee.partitions.engine.families import INCIDENTS, JOBS
from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.engine.processors.job import RETRY_BACKOFF_MS_MAX
from raybee.partitions.engine.processors.job_batch import (
    ACTIVATION_TIMEOUT_MS_MAX,
    JOBS_PER_ACTIVATION_MAX,
)
from raybee.partitions.engine.stores.jobs import index_problems
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import (
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    Record,
    RecordType,
    RejectionType,
    ValueType,
)
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock, activate, create, job_command, resolve

JOB_TYPES = ("payment", "shipping", "email")
# A key no job or incident has (partition 1, a counter the workload never reaches).
MISSING_KEY = (1 << 51) + 999_999_999
STREAM_ID_BASE = 1_000
# Events after which a job may be activatable again, with a key below newer jobs'.
HANDED_BACK = (
    JobIntent.FAILED,
    JobIntent.TIMED_OUT,
    JobIntent.YIELDED,
    JobIntent.RECURRED_AFTER_BACKOFF,
)
# How often `check_job_workload` compares a follower's state with the leader's.
FOLLOWER_CHECK_STEPS = 25

# Which records the log must hold for the workload to have reached every intent.
JOB_COMMANDS = (
    JobIntent.CREATE,
    JobIntent.COMPLETE,
    JobIntent.FAIL,
    JobIntent.TIME_OUT,
    JobIntent.UPDATE_RETRIES,
    JobIntent.UPDATE_TIMEOUT,
    JobIntent.THROW_ERROR,
    JobIntent.CANCEL,
    JobIntent.YIELD,
    JobIntent.RECUR_AFTER_BACKOFF,
)
JOB_EVENTS = (
    JobIntent.CREATED,
    JobIntent.COMPLETED,
    JobIntent.FAILED,
    JobIntent.TIMED_OUT,
    JobIntent.RETRIES_UPDATED,
    JobIntent.TIMEOUT_UPDATED,
    JobIntent.ERROR_THROWN,
    JobIntent.CANCELED,
    JobIntent.YIELDED,
    JobIntent.RECURRED_AFTER_BACKOFF,
)
# No processor writes JOB ACTIVATED: an activation is recorded as JOB_BATCH ACTIVATED.
JOB_INTENTS_NEVER_WRITTEN = (JobIntent.ACTIVATED,)
assert set(JOB_COMMANDS) | set(JOB_EVENTS) | set(JOB_INTENTS_NEVER_WRITTEN) == set(JobIntent), (
    "every job intent is a command, an event, or named as never written"
)
COMMANDS = (
    *((ValueType.JOB, i) for i in JOB_COMMANDS),
    (ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE),
    (ValueType.INCIDENT, IncidentIntent.RESOLVE),
)
EVENTS = (
    *((ValueType.JOB, i) for i in JOB_EVENTS),
    (ValueType.JOB_BATCH, JobBatchIntent.ACTIVATED),
    (ValueType.INCIDENT, IncidentIntent.CREATED),
    (ValueType.INCIDENT, IncidentIntent.RESOLVED),
)
assert {i for vt, i in COMMANDS + EVENTS if vt == ValueType.JOB_BATCH} == set(JobBatchIntent)
assert {i for vt, i in COMMANDS + EVENTS if vt == ValueType.INCIDENT} == set(IncidentIntent)
REJECTION_TYPES = (
    RejectionType.INVALID_ARGUMENT,
    RejectionType.NOT_FOUND,
    RejectionType.INVALID_STATE,
)


# ---------------------------------------------------------------------- the workload
class JobWorkload:
    """Drives one LocalPartition; `run` may be called again and keeps what it learned."""

    def __init__(self, partition, clock, rng: random.Random):
        self.partition = partition
        self.clock = clock
        self.rng = rng
        self.counts: Counter[str] = Counter()
        self.known: list[int] = []  # every job ever created (some gone since: NOT_FOUND)
        self.worked: list[int] = []  # jobs a worker was handed (polled or pushed)
        self.incidents: dict[int, int] = {}  # open incidents: incident key -> job key
        self.deadlines: dict[int, int] = {}  # job -> deadline of its latest activation
        self.timed_out: list[int] = []  # jobs that timed out (their worker may still answer)
        self.handed_back_types: list[str] = []
        self.open_streams: list[int] = []
        self._next_stream_id = STREAM_ID_BASE
        self._pushes_offered = 0
        self._read_from = partition.log.last_position + 1

    def run(self, steps: int) -> dict[str, int]:
        """`steps` actions; returns how often each action ran so far. Streams the run opened
        are closed at the end (they are leader-local and not part of what replay rebuilds)."""
        for _ in range(steps):
            self.step()
        self.close_streams()
        return dict(self.counts)

    def close_streams(self) -> None:
        for stream_id in self.open_streams:
            self.partition.close_job_stream(stream_id)
        self.open_streams = []

    def step(self) -> str:
        """One action; returns its name (those that tick the clock start with "tick")."""
        action, command = self._choose()
        self.counts[action] += 1
        if command is not None:
            self.partition.write_commands([command])
            self.partition.process()
        if action.startswith("tick"):
            self.partition.tick()
        self._learn()
        return action

    # ------------------------------------------------------------------ choosing
    def _choose(self) -> tuple[str, Record | None]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.18 or not self.known:
            return "create", create(
                rng.choice(JOB_TYPES), retries=rng.randint(1, 3), variables={"n": rng.randint(0, 9)}
            )
        if roll < 0.32:
            # Half the time the type of a job just handed back (failed, timed out, yielded,
            # recurred): it has a lower key than jobs created since, which activation must
            # still hand out first.
            handed_back = self.handed_back_types[-3:]
            return "activate", activate(
                rng.choice(handed_back if handed_back and rng.random() < 0.5 else JOB_TYPES),
                max_jobs=rng.randint(1, 4),
                timeout_ms=rng.randint(1, 2000),
                fetch_variables=rng.choice([[], [], ["n"], ["missing"]]),
            )
        if roll < 0.42:
            return "complete", job_command(
                JobIntent.COMPLETE,
                self._job(held_first=True),
                variables={"done": rng.randint(0, 1)},
            )
        if roll < 0.52:
            return "fail", job_command(
                JobIntent.FAIL,
                # Sometimes from a slow worker, whose job has timed out meanwhile.
                self._job(held_first=True, timed_out_first=True),
                retries=rng.randint(0, 2),
                retry_backoff_ms=rng.choice([0, 300]),
                error_message=rng.choice(["", "boom"]),
                variables=rng.choice([{}, {"why": rng.randint(0, 9)}]),
            )
        if roll < 0.56:
            return "throw_error", job_command(
                JobIntent.THROW_ERROR,
                self._job(held_first=True),
                error_code="E1",
                variables=rng.choice([{}, {"caught": True}]),
            )
        if roll < 0.61:
            return "update_retries", job_command(
                JobIntent.UPDATE_RETRIES, self._job(parked_first=True), retries=rng.randint(1, 3)
            )
        if roll < 0.65:
            return "update_timeout", job_command(
                JobIntent.UPDATE_TIMEOUT,
                self._job(held_first=True),
                timeout_ms=rng.randint(1, 3000),
            )
        if roll < 0.69:
            incident = rng.choice(list(self.incidents)) if self.incidents else MISSING_KEY
            return "resolve", resolve(incident)
        if roll < 0.73:
            return "cancel", job_command(JobIntent.CANCEL, self._job(parked_first=True))
        if roll < 0.75:
            return "yield", job_command(JobIntent.YIELD, self._job(held_first=True))
        if roll < 0.77:
            # The engine's own commands, sent by a client: mostly refused, which is the point.
            intent = (JobIntent.TIME_OUT, JobIntent.RECUR_AFTER_BACKOFF)[
                self.counts["scheduled_by_client"] % 2
            ]
            return "scheduled_by_client", job_command(intent, self._job())
        if roll < 0.83:
            return "invalid", self._invalid_command()
        if roll < 0.86:
            return self._toggle_stream(), None
        if roll < 0.89 and self._future_deadlines():
            # Exactly at a deadline the job is still the worker's (it times out only once the
            # deadline is strictly past): a TIME_OUT then is refused, and the tick skips it.
            deadline_ms, key = min(self._future_deadlines())
            self.clock.advance(deadline_ms - self.clock())
            return "tick_at_deadline", job_command(JobIntent.TIME_OUT, key)
        self.clock.advance(rng.randint(0, 800))
        return "tick", None

    def _job(
        self, parked_first: bool = False, held_first: bool = False, timed_out_first: bool = False
    ) -> int:
        """A job key: mostly one a worker holds or held, sometimes any, rarely a missing one;
        half the time one with an open incident (parked_first) or held by a worker now
        (held_first), if there is one; a quarter of the time one that timed out
        (timed_out_first)."""
        rng = self.rng
        if timed_out_first and self.timed_out and rng.random() < 0.25:
            return rng.choice(self.timed_out[-10:])
        roll = rng.random()
        if parked_first and self.incidents and roll < 0.5:
            return self.incidents[rng.choice(list(self.incidents))]
        if held_first and self.deadlines and roll < 0.5:
            return rng.choice(list(self.deadlines))
        if roll < 0.06:
            return MISSING_KEY
        if self.worked and roll < 0.75:
            return rng.choice(self.worked[-30:])
        return rng.choice(self.known[-40:])

    def _invalid_command(self) -> Record:
        rng = self.rng
        key = self._job()
        # In turn rather than at random, so a short run still sees every kind of refusal: bad
        # arguments ...
        invalid = [
            create("", retries=1),
            create(rng.choice(JOB_TYPES), retries=0),
            activate("", max_jobs=1),
            activate(rng.choice(JOB_TYPES), max_jobs=0),
            activate(rng.choice(JOB_TYPES), timeout_ms=0),
            job_command(JobIntent.FAIL, key, retries=-1),
            job_command(JobIntent.FAIL, key, retries=1, retry_backoff_ms=-5),
            job_command(JobIntent.THROW_ERROR, key, error_code=""),
            job_command(JobIntent.UPDATE_RETRIES, key, retries=0),
            job_command(JobIntent.UPDATE_TIMEOUT, key, timeout_ms=0),
            # ... and asks about what does not exist.
            job_command(JobIntent.CANCEL, MISSING_KEY),
            job_command(JobIntent.YIELD, MISSING_KEY),
            job_command(JobIntent.COMPLETE, MISSING_KEY),
            job_command(JobIntent.TIME_OUT, MISSING_KEY),
            job_command(JobIntent.RECUR_AFTER_BACKOFF, MISSING_KEY),
            resolve(MISSING_KEY),
        ]
        return invalid[self.counts["invalid"] % len(invalid)]

    def _toggle_stream(self) -> str:
        if self.open_streams and self.rng.random() < 0.5:
            stream_id = self.open_streams.pop(self.rng.randrange(len(self.open_streams)))
            self.partition.close_job_stream(stream_id)
            return "stream_close"
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        stream = JobStream(
            stream_id,
            self.rng.choice(JOB_TYPES),
            f"streamer-{stream_id}",
            self.rng.randint(1, 1500),
            fetch_variables=self.rng.choice([(), ("n",)]),
        )
        self.partition.open_job_stream(stream, self._take_push)
        self.open_streams.append(stream_id)
        return "stream_open"

    def _take_push(self, push) -> bool:
        """Streaming workers that cannot take every fourth job offered (it is yielded back)."""
        self._pushes_offered += 1
        taken = self._pushes_offered % 4 != 0
        if taken:
            self.worked.append(push.job_key)
        return taken

    def _future_deadlines(self) -> list[tuple[int, int]]:
        now_ms = self.clock()
        return [(d, key) for key, d in self.deadlines.items() if d > now_ms]

    # ------------------------------------------------------------------ learning
    def _learn(self) -> None:
        """What the last step wrote: jobs created and activated, incidents opened and closed."""
        log = self.partition.log
        for record in log.read_from(self._read_from, skip_commands=True):
            if not record.is_event:
                continue
            value_type, intent = record.value_type, record.intent
            if value_type == ValueType.JOB and intent == JobIntent.CREATED:
                self.known.append(record.key)
            elif value_type == ValueType.JOB_BATCH:
                for key, job in zip(record.value.job_keys, record.value.jobs, strict=True):
                    self.worked.append(key)
                    self.deadlines[key] = job.deadline_ms
            elif value_type == ValueType.JOB and intent == JobIntent.TIMEOUT_UPDATED:
                self.deadlines[record.key] = record.value.deadline_ms
            elif value_type == ValueType.JOB:
                self.deadlines.pop(record.key, None)
                if intent == JobIntent.TIMED_OUT:
                    self.timed_out.append(record.key)
                if intent in HANDED_BACK:
                    self.handed_back_types.append(record.value.type)
            elif value_type == ValueType.INCIDENT and intent == IncidentIntent.CREATED:
                self.incidents[record.key] = record.value.job_key
            elif value_type == ValueType.INCIDENT and intent == IncidentIntent.RESOLVED:
                self.incidents.pop(record.key, None)
        self._read_from = log.last_position + 1


def run_job_workload(partition, clock, rng: random.Random, steps: int) -> dict[str, int]:
    """Drive a LocalPartition for `steps` actions; returns how often each action ran."""
    return JobWorkload(partition, clock, rng).run(steps)


# ---------------------------------------------------------------------- coverage
def intent_counts(records) -> Counter:
    """(record type, value type, intent) -> how many records of the log have it."""
    return Counter((r.record_type, r.value_type, r.intent) for r in records)


def missing_intents(records) -> list[str]:
    """Every command intent never written or never accepted or never refused, every event
    intent never written, every rejection type never given: what the workload did not reach."""
    counts = intent_counts(records)
    missing = []
    for value_type, intent in COMMANDS:
        for record_type in (RecordType.COMMAND, RecordType.COMMAND_REJECTION):
            if not counts[(record_type, value_type, intent)]:
                missing.append(f"{record_type.name} {value_type.name} {intent.name}")
    for value_type, intent in EVENTS:
        if not counts[(RecordType.EVENT, value_type, intent)]:
            missing.append(f"EVENT {value_type.name} {intent.name}")
    given = {r.rejection_type for r in records if r.is_rejection}
    missing += [f"a {t.name} rejection" for t in REJECTION_TYPES if t not in given]
    return missing


# ---------------------------------------------------------------------- the oracle
@dataclass
class JobModel:
    """What a job is, by the documented rules; compared field by field with the store."""

    state: str
    type: str
    retries: int
    variables: dict
    worker: str = ""
    deadline_ms: int = -1
    timeout_ms: int = -1
    retry_backoff_ms: int = 0
    recurring_time_ms: int = -1
    error_message: str = ""
    error_code: str = ""


MODEL_FIELDS = tuple(f.name for f in fields(JobModel) if f.name != "state")
ACTIVATABLE, ACTIVATED, FAILED, ERROR_THROWN = "ACTIVATABLE", "ACTIVATED", "FAILED", "ERROR_THROWN"
PARKED = (FAILED, ERROR_THROWN)


class JobLogChecker:
    """Reads a log in order and checks every answer against a model of the jobs.

    The model is written from Zeebe's documentation (the sources are beside the rules in
    `partitions/engine/processors/job.py`), not from the processors: a processor or applier bug
    shows as an answer or a stored job the model disagrees with. `problems` lists each
    disagreement as a sentence naming the command's position.
    """

    def __init__(self) -> None:
        self.jobs: dict[int, JobModel] = {}
        self.incidents: dict[int, int] = {}  # incident key -> job key
        self.problems: list[str] = []
        self.checked_commands = 0
        self._commands: dict[int, Record] = {}
        self._answers: list[Record] = []
        self._rules = self._rules_by_command()

    # ------------------------------------------------------------------ feeding
    def feed(self, records) -> "JobLogChecker":
        for record in records:
            if record.is_command:
                self._finish()
                self._commands[record.position] = record
                continue
            if self._answers and self._answers[0].source_record_position != (
                record.source_record_position
            ):
                self._finish()
            self._answers.append(record)
        self._finish()
        return self

    def finish(self) -> list[str]:
        """Every command must have been answered."""
        for position in sorted(self._commands):
            self.problems.append(f"command at {position} was never answered")
        self._commands.clear()
        return self.problems

    def _finish(self) -> None:
        if not self._answers:
            return
        answers, self._answers = self._answers, []
        source = answers[0].source_record_position
        command = self._commands.pop(source, None)
        if command is None:
            self.problems.append(f"records at {answers[0].position}.. answer no command ({source})")
            return
        self.checked_commands += 1
        handler = self._rules.get((command.value_type, command.intent))
        if handler is None:
            return self._problem(command, "no rule for this command in the checker")
        failed = [a for a in answers if a.value_type == ValueType.ERROR]
        failed += [a for a in answers if a.rejection_type == RejectionType.PROCESSING_ERROR]
        if failed:
            return self._problem(command, f"processing failed: {failed[-1].rejection_reason}")
        handler(command, answers, command.timestamp_ms)

    def _problem(self, command: Record, text: str) -> None:
        self.problems.append(
            f"{command.value_type.name} {command.intent.name} at {command.position} "
            f"(key {command.key}): {text}"
        )

    def _rules_by_command(self) -> dict:
        return {
            (ValueType.JOB, JobIntent.CREATE): self._create,
            (ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE): self._activate,
            (ValueType.JOB, JobIntent.COMPLETE): self._complete,
            (ValueType.JOB, JobIntent.FAIL): self._fail,
            (ValueType.JOB, JobIntent.TIME_OUT): self._time_out,
            (ValueType.JOB, JobIntent.UPDATE_RETRIES): self._update_retries,
            (ValueType.JOB, JobIntent.UPDATE_TIMEOUT): self._update_timeout,
            (ValueType.JOB, JobIntent.THROW_ERROR): self._throw_error,
            (ValueType.JOB, JobIntent.CANCEL): self._cancel,
            (ValueType.JOB, JobIntent.YIELD): self._yield,
            (ValueType.JOB, JobIntent.RECUR_AFTER_BACKOFF): self._recur,
            (ValueType.INCIDENT, IncidentIntent.RESOLVE): self._resolve,
        }

    # ------------------------------------------------------------------ answer shapes
    def _rejected(self, command, answers, rejection_type: RejectionType) -> None:
        shape = [(a.record_type.name, a.rejection_type.name) for a in answers]
        if shape != [("COMMAND_REJECTION", rejection_type.name)]:
            return self._problem(
                command, f"expected a {rejection_type.name} rejection, got {shape}"
            )
        (answer,) = answers
        if answer.key != command.key or answer.intent != command.intent:
            self._problem(command, "the rejection names another key or intent")

    def _events(self, command, answers, expected: list, may_push: bool = False):
        """The answers are these events ((value type, intent, key), key None = any key), then,
        if `may_push`, at most one JOB_BATCH ACTIVATED (a job stream took the job). Returns
        (events, push or None), or None after noting the problem."""
        events, push = list(answers), None
        if may_push and len(events) == len(expected) + 1:
            push = events.pop()
        matches = len(events) == len(expected) and all(
            (e.record_type, e.value_type, e.intent) == (RecordType.EVENT, vt, i)
            and key in (None, e.key)
            for e, (vt, i, key) in zip(events, expected, strict=False)
        )
        if not matches:
            want = [(vt.name, i.name, key) for vt, i, key in expected]
            got = [(a.record_type.name, a.value_type.name, a.intent.name, a.key) for a in answers]
            self._problem(command, f"expected events {want}, got {got}")
            return None
        return events, push

    def _pushed(self, command, push: Record, key: int) -> None:
        batch = push.value
        if (push.value_type, push.intent, push.record_type) != (
            ValueType.JOB_BATCH,
            JobBatchIntent.ACTIVATED,
            RecordType.EVENT,
        ) or batch.job_keys != [key]:
            return self._problem(command, f"after the event, expected a push of job {key}")
        model = self.jobs.get(key)
        if model is None or model.state != ACTIVATABLE:
            state = "gone" if model is None else model.state
            return self._problem(command, f"job {key} pushed while {state}")
        deadline_ms = command.timestamp_ms + batch.timeout_ms
        self._activate_model(key, batch.worker, batch.timeout_ms, deadline_ms)
        (job,) = batch.jobs
        self._expect_job(
            command, job, key, variables=_fetched(model.variables, batch.fetch_variables)
        )

    def _expect_job(self, command, value, key: int, **overrides) -> None:
        """The event's job is the model's job, with `overrides`."""
        model = self.jobs[key]
        for name in MODEL_FIELDS:
            want = overrides.get(name, getattr(model, name))
            got = getattr(value, name)
            if got != want:
                self._problem(command, f"job {key}: event has {name}={got!r}, expected {want!r}")

    def _activate_model(self, key: int, worker: str, timeout_ms: int, deadline_ms: int) -> None:
        model = self.jobs[key]
        model.state, model.worker = ACTIVATED, worker
        model.timeout_ms, model.deadline_ms = timeout_ms, deadline_ms

    def _release(self, key: int, state: str = ACTIVATABLE) -> None:
        model = self.jobs[key]
        model.state, model.worker, model.deadline_ms = state, "", -1

    def _job_or_reject(self, command, answers, allowed: tuple[str, ...]) -> JobModel | None:
        model = self.jobs.get(command.key)
        if model is None:
            self._rejected(command, answers, RejectionType.NOT_FOUND)
        elif model.state not in allowed:
            self._rejected(command, answers, RejectionType.INVALID_STATE)
        else:
            return model
        return None

    # ------------------------------------------------------------------ the rules
    def _create(self, command, answers, now_ms) -> None:
        request = command.value
        if not request.type or request.retries < 1:
            return self._rejected(command, answers, RejectionType.INVALID_ARGUMENT)
        answer = self._events(command, answers, [(ValueType.JOB, JobIntent.CREATED, None)], True)
        if answer is None:
            return
        events, push = answer
        key = events[0].key
        if key in self.jobs:
            return self._problem(command, f"job key {key} issued twice")
        job = events[0].value
        if (job.type, job.retries, job.variables) != (
            request.type,
            request.retries,
            request.variables,
        ):
            self._problem(command, "the created job is not the one the command asked for")
        self.jobs[key] = JobModel(
            ACTIVATABLE, **{name: getattr(job, name) for name in MODEL_FIELDS}
        )
        self._expect_job(command, job, key, worker="", deadline_ms=-1, recurring_time_ms=-1)
        if push is not None:
            self._pushed(command, push, key)

    def _activate(self, command, answers, now_ms) -> None:
        request = command.value
        if (
            not request.type
            or not 1 <= request.max_jobs_to_activate <= JOBS_PER_ACTIVATION_MAX
            or not 1 <= request.timeout_ms <= ACTIVATION_TIMEOUT_MS_MAX
        ):
            return self._rejected(command, answers, RejectionType.INVALID_ARGUMENT)
        answer = self._events(
            command, answers, [(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATED, None)]
        )
        if answer is None:
            return
        batch = answer[0][0].value
        # Activation hands out the activatable jobs of the type, lowest key first, up to the
        # maximum: none is skipped (a stale activation floor would skip some).
        expected = sorted(
            k for k, j in self.jobs.items() if j.state == ACTIVATABLE and j.type == request.type
        )[: request.max_jobs_to_activate]
        if batch.job_keys != expected:
            return self._problem(command, f"activated {batch.job_keys}, expected {expected}")
        deadline_ms = now_ms + request.timeout_ms
        for key, job in zip(batch.job_keys, batch.jobs, strict=True):
            variables = _fetched(self.jobs[key].variables, request.fetch_variables)
            self._activate_model(key, request.worker, request.timeout_ms, deadline_ms)
            self._expect_job(command, job, key, variables=variables)

    def _complete(self, command, answers, now_ms) -> None:
        if self._job_or_reject(command, answers, (ACTIVATABLE, ACTIVATED)) is None:
            return
        answer = self._events(command, answers, [(ValueType.JOB, JobIntent.COMPLETED, command.key)])
        if answer is not None:
            event = answer[0][0]
            self._expect_job(command, event.value, command.key, variables=command.value.variables)
            del self.jobs[command.key]

    def _fail(self, command, answers, now_ms) -> None:
        request, key = command.value, command.key
        if request.retries < 0 or not 0 <= request.retry_backoff_ms <= RETRY_BACKOFF_MS_MAX:
            return self._rejected(command, answers, RejectionType.INVALID_ARGUMENT)
        # Accepted on ACTIVATABLE as on ACTIVATED (a slow worker failing a timed-out job).
        if self._job_or_reject(command, answers, (ACTIVATABLE, ACTIVATED)) is None:
            return
        backoff = request.retries > 0 and request.retry_backoff_ms > 0
        expected = [(ValueType.JOB, JobIntent.FAILED, key)]
        if request.retries == 0:
            expected.append((ValueType.INCIDENT, IncidentIntent.CREATED, None))
        activatable = request.retries > 0 and not backoff
        answer = self._events(command, answers, expected, activatable)
        if answer is None:
            return
        events, push = answer
        recurring_time_ms = now_ms + request.retry_backoff_ms if backoff else -1
        # The event keeps worker and deadline and carries the command's variables.
        self._expect_job(
            command,
            events[0].value,
            key,
            retries=request.retries,
            retry_backoff_ms=request.retry_backoff_ms,
            recurring_time_ms=recurring_time_ms,
            error_message=request.error_message,
            variables=request.variables,
        )
        model = self.jobs[key]
        model.retries, model.retry_backoff_ms = request.retries, request.retry_backoff_ms
        model.recurring_time_ms, model.error_message = recurring_time_ms, request.error_message
        # The stored job keeps its own variables and no worker holds it.
        self._release(key, ACTIVATABLE if activatable else FAILED)
        if request.retries == 0:
            self._incident(command, events[1], key, "JOB_NO_RETRIES")
        if push is not None:
            self._pushed(command, push, key)

    def _incident(self, command, event: Record, job_key: int, error_type: str) -> None:
        incident = event.value
        if incident.job_key != job_key or incident.error_type != error_type:
            self._problem(command, f"incident {event.key} is not a {error_type} of job {job_key}")
        if event.key in self.incidents or any(j == job_key for j in self.incidents.values()):
            self._problem(command, f"a second incident for job {job_key}")
        self.incidents[event.key] = job_key

    def _time_out(self, command, answers, now_ms) -> None:
        model = self._job_or_reject(command, answers, (ACTIVATED,))
        if model is None:
            return
        # Timed out only once the deadline is strictly in the past.
        if model.deadline_ms >= now_ms:
            return self._rejected(command, answers, RejectionType.INVALID_STATE)
        answer = self._events(
            command, answers, [(ValueType.JOB, JobIntent.TIMED_OUT, command.key)], True
        )
        if answer is not None:
            (event,), push = answer
            self._expect_job(command, event.value, command.key, worker="", deadline_ms=-1)
            self._release(command.key)
            if push is not None:
                self._pushed(command, push, command.key)

    def _update_retries(self, command, answers, now_ms) -> None:
        if command.value.retries < 1:
            return self._rejected(command, answers, RejectionType.INVALID_ARGUMENT)
        model = self._job_or_reject(command, answers, (ACTIVATABLE, ACTIVATED, *PARKED))
        if model is None:
            return
        intent = JobIntent.RETRIES_UPDATED
        answer = self._events(command, answers, [(ValueType.JOB, intent, command.key)])
        if answer is not None:
            (event,), _ = answer
            self._expect_job(command, event.value, command.key, retries=command.value.retries)
            model.retries = command.value.retries

    def _update_timeout(self, command, answers, now_ms) -> None:
        timeout_ms = command.value.timeout_ms
        if timeout_ms < 1:
            return self._rejected(command, answers, RejectionType.INVALID_ARGUMENT)
        model = self._job_or_reject(command, answers, (ACTIVATED,))
        if model is None:
            return
        intent = JobIntent.TIMEOUT_UPDATED
        answer = self._events(command, answers, [(ValueType.JOB, intent, command.key)])
        if answer is not None:
            (event,), _ = answer
            deadline_ms = now_ms + timeout_ms
            self._expect_job(
                command, event.value, command.key, timeout_ms=timeout_ms, deadline_ms=deadline_ms
            )
            model.timeout_ms, model.deadline_ms = timeout_ms, deadline_ms

    def _throw_error(self, command, answers, now_ms) -> None:
        request, key = command.value, command.key
        if not request.error_code:
            return self._rejected(command, answers, RejectionType.INVALID_ARGUMENT)
        if self._job_or_reject(command, answers, (ACTIVATABLE, ACTIVATED)) is None:
            return
        expected = [
            (ValueType.JOB, JobIntent.ERROR_THROWN, key),
            (ValueType.INCIDENT, IncidentIntent.CREATED, None),
        ]
        answer = self._events(command, answers, expected)
        if answer is None:
            return
        events, _ = answer
        self._expect_job(
            command,
            events[0].value,
            key,
            worker="",
            deadline_ms=-1,
            error_code=request.error_code,
            error_message=request.error_message,
            variables=request.variables,
        )
        model = self.jobs[key]
        model.error_code, model.error_message = request.error_code, request.error_message
        self._release(key, ERROR_THROWN)
        self._incident(command, events[1], key, "UNHANDLED_ERROR_EVENT")

    def _cancel(self, command, answers, now_ms) -> None:
        if self._job_or_reject(command, answers, (ACTIVATABLE, ACTIVATED, *PARKED)) is None:
            return
        key = command.key
        incident = next((i for i, j in self.incidents.items() if j == key), None)
        expected = [(ValueType.JOB, JobIntent.CANCELED, key)]
        if incident is not None:
            expected.insert(0, (ValueType.INCIDENT, IncidentIntent.RESOLVED, incident))
        answer = self._events(command, answers, expected)
        if answer is not None:
            self._expect_job(command, answer[0][-1].value, key)  # the job as it was
            del self.jobs[key]
            self.incidents.pop(incident, None)

    def _yield(self, command, answers, now_ms) -> None:
        if self._job_or_reject(command, answers, (ACTIVATED,)) is None:
            return
        answer = self._events(command, answers, [(ValueType.JOB, JobIntent.YIELDED, command.key)])
        if answer is not None:
            (event,), _ = answer
            self._expect_job(command, event.value, command.key, worker="", deadline_ms=-1)
            self._release(command.key)

    def _recur(self, command, answers, now_ms) -> None:
        model = self._job_or_reject(command, answers, (FAILED,))
        if model is None:
            return
        if model.retries < 1 or model.recurring_time_ms < 0 or model.recurring_time_ms > now_ms:
            return self._rejected(command, answers, RejectionType.INVALID_STATE)
        intent = JobIntent.RECURRED_AFTER_BACKOFF
        answer = self._events(command, answers, [(ValueType.JOB, intent, command.key)], True)
        if answer is not None:
            (event,), push = answer
            self._expect_job(command, event.value, command.key, recurring_time_ms=-1)
            model.recurring_time_ms = -1
            self._release(command.key)
            if push is not None:
                self._pushed(command, push, command.key)

    def _resolve(self, command, answers, now_ms) -> None:
        job_key = self.incidents.get(command.key)
        if job_key is None:
            return self._rejected(command, answers, RejectionType.NOT_FOUND)
        model = self.jobs.get(job_key)
        if model is not None and model.retries < 1:
            return self._rejected(command, answers, RejectionType.INVALID_STATE)
        intent = IncidentIntent.RESOLVED
        answer = self._events(command, answers, [(ValueType.INCIDENT, intent, command.key)], True)
        if answer is None:
            return
        _, push = answer
        del self.incidents[command.key]
        # "When the incident is resolved, the job can be activated by a worker again."
        if model is not None and model.state in PARKED:
            self._release(job_key)
        if push is not None:
            self._pushed(command, push, job_key)

    # ------------------------------------------------------------------ after a tick
    def check_nothing_overdue(self, now_ms: int) -> None:
        """After a tick at `now_ms` (its due commands processed): no job is still the worker's
        past its deadline, none still waits out a back-off that has ended."""
        for key, job in self.jobs.items():
            if job.state == ACTIVATED and job.deadline_ms < now_ms:
                self.problems.append(
                    f"job {key} is still ACTIVATED after a tick at {now_ms}, past its deadline "
                    f"{job.deadline_ms}"
                )
            if job.state == FAILED and 0 <= job.recurring_time_ms <= now_ms:
                self.problems.append(
                    f"job {key} still waits after a tick at {now_ms} for its back-off, which "
                    f"ended at {job.recurring_time_ms}"
                )

    # ------------------------------------------------------------------ against the store
    def compare(self, view) -> list[str]:
        """The model against committed state: the same jobs, field by field, and incidents."""
        self.compare_jobs(view, {key for key, _ in view.items(JOBS)} | self.jobs.keys())
        incidents = {key: incident.job_key for key, incident in view.items(INCIDENTS)}
        if incidents != self.incidents:
            self.problems.append(f"incidents: stored {incidents}, expected {self.incidents}")
        return self.problems

    def compare_jobs(self, view, keys) -> None:
        """These jobs of the model against committed state (a bug that a later event hides
        is seen right after the step that made it)."""
        for key in sorted(keys):
            model, entry = self.jobs.get(key), view.get(JOBS, key)
            if model is None or entry is None:
                if model is not None or entry is not None:
                    self.problems.append(f"job {key}: model has {model}, the store has {entry}")
                continue
            state, job = entry
            if state != model.state:
                self.problems.append(f"job {key}: stored {state}, expected {model.state}")
            for name in MODEL_FIELDS:
                if getattr(job, name) != getattr(model, name):
                    self.problems.append(
                        f"job {key}: stored {name}={getattr(job, name)!r}, "
                        f"expected {getattr(model, name)!r}"
                    )


def _fetched(variables: dict, names: list[str]) -> dict:
    """What a worker that asked for `names` sees of the job's variables (all when none)."""
    return {n: variables[n] for n in names if n in variables} if names else variables


# ---------------------------------------------------------------------- all checks at once
@dataclass
class WorkloadCheck:
    """What `check_job_workload` found: problems by check (empty lists when all is well)."""

    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    intents: Counter = field(default_factory=Counter)
    undelivered_pushes: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, found in self.problems.items() if found]

    def summary(self, per_check: int = 3) -> str:
        lines = [f"seed={self.seed}: failed checks {self.failed}"]
        for name in self.failed:
            lines += [f"  {name}: {p}" for p in self.problems[name][:per_check]]
        return "\n".join(lines)


def check_job_workload(
    seed: int,
    steps: int,
    new_store: Callable[[str], object],
    open_checkpoint: Callable[[Path, str], object],
    checkpoint_dir: Path,
) -> WorkloadCheck:
    """Run a seeded workload on a fresh partition and check everything that can be checked:
    semantics (`JobLogChecker`, and after every tick that nothing due was left), the job indexes, that every intent
    was reached, that a follower replaying as the leader goes holds the same bytes every
    `FOLLOWER_CHECK_STEPS` steps, and that replay from scratch and from a snapshot taken half
    way rebuild the processed store byte for byte. `new_store(name)` makes an empty store,
    `open_checkpoint(path, name)` opens a checkpoint as a store. Nothing raises: an exception
    anywhere is a problem of the check it happened in."""
    report = WorkloadCheck(seed)
    clock = FakeClock()
    log = MemoryLogStream()
    leader = LocalPartition(new_store("leader"), log, 1, clock)
    follower = None
    try:
        workload = JobWorkload(leader, clock, random.Random(seed))
        follower = StreamProcessor(new_store("follower"), log, 1, FakeClock())
        report.problems["follower in step"] = in_step = []
        checker = JobLogChecker()
        read_from = 1
        try:
            for step in range(steps):
                if step == steps // 2:
                    checkpoint = leader.store.checkpoint(checkpoint_dir)
                    snapshot_position = leader.processor.last_processed_position
                action = workload.step()
                written = list(log.read_from(read_from))
                read_from = log.last_position + 1
                checker.feed(written)
                checker.compare_jobs(leader.store.view(), _jobs_named(written))
                if action.startswith("tick"):
                    checker.check_nothing_overdue(clock())
                if (step + 1) % FOLLOWER_CHECK_STEPS == 0 and not in_step:
                    # Replicas agree byte for byte at equal applied positions, at every point
                    # (a difference that later events erase is still a difference).
                    follower.replay()
                    if follower.store.digest() != leader.store.digest():
                        in_step += [
                            f"after step {step + 1}: {d}"
                            for d in _differences(leader.store, follower.store)
                        ]
            workload.close_streams()
            report.counts = dict(workload.counts)
        except Exception as error:  # a planted bug may break the workload itself
            report.problems["workload"] = [f"the workload raised {error!r}"]
            return report
        report.undelivered_pushes = leader.undelivered_pushes
        records = list(log.read_from(1))
        report.intents = intent_counts(records)
        view = leader.store.view()
        checker.finish()
        report.problems["semantics"] = checker.compare(view)
        report.problems["indexes"] = index_problems(view)
        report.problems["coverage"] = missing_intents(records)
        events = sum(1 for r in records if r.is_event)
        report.problems["replay from scratch"] = _replay_problems(
            leader, lambda: new_store("replayed"), log, expected_applied=events
        )
        report.problems["replay from snapshot"] = _replay_problems(
            leader,
            lambda: open_checkpoint(checkpoint, "recovered"),
            log,
            expected_applied=sum(
                1 for r in records if r.is_event and r.source_record_position > snapshot_position
            ),
        )
    finally:
        leader.close()
        if follower is not None:
            follower.store.close()
    return report


def _jobs_named(records) -> set[int]:
    keys = set()
    for record in records:
        if record.value_type == ValueType.JOB:
            keys.add(record.key)
        elif record.value_type == ValueType.JOB_BATCH and record.is_event:
            keys.update(record.value.job_keys)
    return keys


def _replay_problems(leader, make_store, log, expected_applied: int) -> list[str]:
    store = None
    try:
        store = make_store()
        follower = StreamProcessor(store, log, 1, FakeClock())
        applied = follower.replay()
        problems = []
        if store.digest() != leader.store.digest():
            problems += [f"replayed state differs: {d}" for d in _differences(leader.store, store)]
        if applied != expected_applied:
            problems.append(f"replay applied {applied} events, expected {expected_applied}")
        if follower.last_processed_position != leader.processor.last_processed_position:
            problems.append(
                f"replay reached processed position {follower.last_processed_position}, the "
                f"leader {leader.processor.last_processed_position}"
            )
        if follower.replay() != 0:
            problems.append("replaying again applied events a second time")
        problems += [f"in the replayed store: {p}" for p in index_problems(store.view())]
        return problems
    except Exception as error:
        return [f"replay raised {error!r}"]
    finally:
        if store is not None:
            store.close()


def _differences(expected_store, actual_store, limit: int = 5) -> list[str]:
    """The first entries (family, key) where two stores differ."""
    expected = {(f, k): v for f, k, v in expected_store.dump()}
    actual = {(f, k): v for f, k, v in actual_store.dump()}
    differing = sorted(
        k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k)
    )
    return [
        f"{family} {key.hex()}: processed {expected.get((family, key))!r:.60}, "
        f"replayed {actual.get((family, key))!r:.60}"
        for family, key in differing[:limit]
    ]

"""The stream processor: replays events into state, and (on the leader) processes commands.

Replay (followers all the time, a leader on start until the end of the log) applies events
through the same appliers processing uses, and never writes to the log. Processing reads the
next committed commands, runs each through its processor in ONE store transaction per batch,
appends every follow-up record as ONE log append, commits, and only then hands back the
responses.

Which commands are processed
----------------------------
A *log-read* command is one a client, a scheduler or another partition appended (its source
position is -1). A *follow-up* command is one this partition's processor wrote (its source
position is the command that caused it); it is processed in the batch that wrote it, so the
command reader skips it. `last_processed_position` is the highest log-read command processed:
batches take log-read commands in log order, so every log-read command at or below it is
processed and none above it is. Follow-ups never move it - their positions lie above client
commands not read yet, which would otherwise be skipped.

Replay derives the same position from the log: each event or rejection belongs to the *root*
of its source chain (its source, or, when the source is a follow-up, that follow-up's root).
So replay reads commands too, as headers without values, to map follow-ups to their roots.
Events whose root is at or below the state's position at start (a snapshot) are already in
state and skipped.

Failures
--------
- A processor that raises: its command is rejected with PROCESSING_ERROR (see below).
- Records that do not fit one log entry (`AppendTooLargeError`, raised before anything is
  written): the batch is retried with half its commands, down to one; a single command whose
  records do not fit is rejected with EXCEEDED_BATCH_RECORD_SIZE.
- Anything else that fails once a batch reaches the log (an I/O error in the append, a failed
  state commit after the append) leaves log and state in an unknown relation: the processor
  halts (`ProcessingHaltedError` from then on) and its host rebuilds it from snapshot + log.
  Replay then applies what reached the log, and processes the commands that did not.
"""

import logging
import traceback
from collections import deque
from collections.abc import Callable

from raybee.partitions.engine import EngineState, ProcessingResult
from raybee.partitions.engine.appliers import EventAppliers
from raybee.partitions.engine.context import (
    FOLLOW_UP_COMMANDS_PER_BATCH_MAX,
    ProcessingContext,
    ReadOnly,
    RecordSink,
)
from raybee.partitions.engine.job_streams import JobStreams
from raybee.partitions.engine.processors import CommandProcessors
from raybee.partitions.engine.stores.job_cache import JobCache
from raybee.partitions.log_stream import AppendTooLargeError, LogStream
from raybee.partitions.protocol import (
    ErrorIntent,
    ErrorRecordValue,
    JobIntent,
    JobRecordValue,
    Record,
    RejectionType,
    ValueType,
)

log = logging.getLogger(__name__)

COMMANDS_PER_BATCH_MAX = 200
REPLAY_RECORDS_PER_TRANSACTION_MAX = 10_000
SCHEDULED_COMMANDS_PER_CHECK_MAX = 1_000
# Replay maps follow-up positions to their roots. A follow-up's records are in the same append
# as the follow-up, and one batch writes at most FOLLOW_UP_COMMANDS_PER_BATCH_MAX of them, so
# remembering that many of the newest is enough.
FOLLOW_UP_ROOTS_KEPT_MAX = FOLLOW_UP_COMMANDS_PER_BATCH_MAX + 1
REJECTION_REASON_CHARS_KEPT = 1000

Clock = Callable[[], int]


class LogGapError(RuntimeError):
    """The log does not continue the state: records the state needs next were compacted away,
    or the log ends before the position the state says it processed."""


class ProcessingHaltedError(RuntimeError):
    """The processor stopped after a failure that may leave log and state disagreeing; rebuild
    it (a new StreamProcessor over the latest snapshot and the log)."""


class StreamProcessor:
    def __init__(
        self,
        store,
        log: LogStream,
        partition_id: int,
        clock: Clock,
        commands_per_batch_max: int = COMMANDS_PER_BATCH_MAX,
    ) -> None:
        assert commands_per_batch_max >= 1
        self.store = store
        self.log = log
        self.partition_id = partition_id
        self.clock = clock
        self.commands_per_batch_max = commands_per_batch_max
        self.appliers = EventAppliers()
        self.processors = CommandProcessors()
        self.job_streams = JobStreams()
        view = store.view()
        # Events whose root command is at or below this were applied before (a snapshot or an
        # earlier run) and are skipped by replay.
        self._applied_floor = EngineState(partition_id, view).positions.last_processed_position
        self._check_log_continues_state(self._applied_floor)
        # Every record of a root above the floor lies above the floor too, so a restart from a
        # snapshot reads only the log after it.
        self._replay_position = max(self._applied_floor, 0) + 1
        # Where the command reader goes on; set when replay is over (become_leader).
        self._process_position: int | None = None
        self._follow_up_roots: dict[int, int] = {}
        self._halted: BaseException | None = None
        # What is known about jobs as of the last commit (decoded entries, activation floors):
        # the job a command names was usually written a batch or two ago.
        self._committed_jobs = JobCache()
        # Keys for which a scheduled command is in flight, so a checker does not repeat it.
        self._requested: dict[tuple[int, int], int] = {}

    @property
    def last_processed_position(self) -> int:
        return EngineState(self.partition_id, self.store.view()).positions.last_processed_position

    @property
    def halted(self) -> BaseException | None:
        """The failure that stopped this processor, or None while it runs."""
        return self._halted

    def _check_log_continues_state(self, processed: int) -> None:
        first, last = self.log.first_position, self.log.last_position
        if processed > last:
            raise LogGapError(
                f"partition {self.partition_id}: the state has processed up to position "
                f"{processed}, but the log ends at {last}: the log lost records the state holds"
            )
        if first > max(processed, 0) + 1:
            raise LogGapError(
                f"partition {self.partition_id}: the state has processed up to position "
                f"{processed}, but the log starts at {first}: records {max(processed, 0) + 1}.."
                f"{first - 1} were compacted; recover from a snapshot at position {first - 1} "
                f"or later"
            )

    def _check_running(self) -> None:
        if self._halted is not None:
            raise ProcessingHaltedError(
                f"partition {self.partition_id}: the stream processor halted after "
                f"{self._halted!r}; rebuild it from the latest snapshot and the log"
            ) from self._halted

    # ------------------------------------------------------------------ replay
    def replay(self) -> int:
        """Apply every event in the log not yet in state; returns how many were applied."""
        self._check_running()
        applied = 0
        while True:
            count, reached_end = self._replay_some()
            applied += count
            if reached_end:
                return applied

    def _root_of(self, source: int) -> int:
        return self._follow_up_roots.get(source, source)

    def _note_follow_up(self, position: int, source: int) -> None:
        roots = self._follow_up_roots
        roots[position] = roots.get(source, source)
        if len(roots) > FOLLOW_UP_ROOTS_KEPT_MAX:
            del roots[next(iter(roots))]  # the oldest; dicts keep insertion order

    def _replay_some(self) -> tuple[int, bool]:
        applied = 0
        consumed = 0
        floor = self._applied_floor
        job_cache = JobCache(self._committed_jobs)
        with self.store.transaction() as txn:
            state = EngineState(self.partition_id, txn, txn, job_cache)
            processed_before = state.positions.last_processed_position
            last_processed = processed_before
            reached_end = True
            for record in self.log.read_from(self._replay_position, command_headers=True):
                self._replay_position = record.position + 1
                consumed += 1
                source = record.source_record_position
                if record.is_command:
                    if source >= 0:
                        self._note_follow_up(record.position, source)
                else:
                    root = self._root_of(source)
                    if root > floor:
                        if record.is_event:
                            self.appliers.apply(state, record)
                            applied += 1
                        last_processed = max(last_processed, root)
                if consumed >= REPLAY_RECORDS_PER_TRANSACTION_MAX:
                    reached_end = False
                    break
            if last_processed > processed_before:
                state.positions.mark_processed(last_processed)
            state.flush()
        job_cache.commit()
        return applied, reached_end

    # ------------------------------------------------------------------ processing
    def become_leader(self) -> int:
        """Finish replay, then process from the first unprocessed command on."""
        applied = self.replay()
        self._process_position = max(self.last_processed_position, 0) + 1
        return applied

    def _read_commands(self, last_processed: int) -> tuple[list[Record], bool]:
        """The next log-read commands (up to a batch), and whether the reader reached the end
        of the log."""
        commands: list[Record] = []
        for record in self.log.read_from(self._process_position, commands_only=True):
            if record.source_record_position >= 0:
                continue  # a follow-up: processed in the batch that wrote it
            if record.position > last_processed:
                commands.append(record)
                if len(commands) >= self.commands_per_batch_max:
                    return commands, False
        return commands, True

    def process_batch(self) -> ProcessingResult | None:
        """Process up to commands_per_batch_max unprocessed commands; None if there were none."""
        self._check_running()
        assert self._process_position is not None, "replay to the end first (become_leader)"
        last_processed = self.last_processed_position
        commands, reached_end = self._read_commands(last_processed)
        if not commands:
            return None
        failed: dict[int, Exception] = {}
        oversized: dict[int, str] = {}
        while True:
            try:
                result = self._process_commands(commands, last_processed, failed, oversized)
                break
            except _CommandFailed as failure:
                # The transaction aborted; go again with that command rejected instead.
                assert failure.position not in failed, "a command failed twice"
                failed[failure.position] = failure.error
            except AppendTooLargeError as error:
                # Nothing was written and the transaction aborted: fewer commands per append,
                # and a command that does not fit alone is rejected.
                if len(commands) > 1:
                    commands = commands[: len(commands) // 2]
                    reached_end = False
                else:
                    position = commands[0].position
                    assert position not in oversized, f"the rejection of {position} does not fit"
                    oversized[position] = str(error)
        if reached_end:
            # Nothing unread lay behind these commands: skip the records this batch wrote
            # instead of reading back events this leader has already applied.
            self._process_position = self.log.last_position + 1
        else:
            self._process_position = commands[-1].position + 1
        self._forget_requested(commands)
        return result

    def _process_commands(
        self,
        commands: list[Record],
        last_processed: int,
        failed: dict[int, Exception],
        oversized: dict[int, str],
    ) -> ProcessingResult:
        reached_log = False
        try:
            with self.store.transaction() as txn:
                job_cache = JobCache(self._committed_jobs)  # shared by processors and appliers
                state = EngineState(self.partition_id, txn, txn, job_cache)
                read_only = EngineState(self.partition_id, ReadOnly(txn), None, job_cache)
                sink = RecordSink(
                    self.partition_id,
                    self.log.last_position + 1,
                    state,
                    self.appliers,
                    self.job_streams,
                )
                queue = deque(commands)
                while queue:
                    command = queue.popleft()
                    follow_ups_before = len(sink.result.follow_up_commands)
                    context = ProcessingContext(command, read_only, sink)
                    if command.position in failed:
                        _reject_failed(context, failed[command.position])
                    elif command.position in oversized:
                        _reject_oversized(context, oversized[command.position])
                    else:
                        try:
                            self.processors.process(command, context)
                        except Exception as error:  # a bug must not wedge the partition
                            log.exception(
                                "partition %d: processing the command at position %d failed",
                                self.partition_id,
                                command.position,
                            )
                            raise _CommandFailed(command.position, error) from error
                    queue.extend(sink.result.follow_up_commands[follow_ups_before:])
                # Log-read commands are taken in log order: the last one is the highest.
                state.positions.mark_processed(commands[-1].position)
                state.flush()
                # The log first: if the append fails, the transaction aborts with it.
                reached_log = True
                self.log.append(sink.result.records)
        except (_CommandFailed, AppendTooLargeError):
            raise  # nothing reached the log; the batch is retried
        except BaseException as error:
            if reached_log:
                # The append failed half-way, or the state commit failed after the append:
                # the log may hold events the state lacks. Stop; replay will sort it out.
                self._halted = error
                log.error(
                    "partition %d: halting the stream processor: %r", self.partition_id, error
                )
                raise ProcessingHaltedError(
                    f"partition {self.partition_id}: a batch of {len(commands)} commands at "
                    f"positions {commands[0].position}..{commands[-1].position} failed after "
                    f"reaching the log ({error!r}); rebuild from the latest snapshot and the log"
                ) from error
            raise
        job_cache.commit()
        return sink.result

    def process_all(self) -> list[ProcessingResult]:
        results = []
        while (result := self.process_batch()) is not None:
            results.append(result)
        return results

    # ------------------------------------------------------------------ scheduled work
    def due_commands(self) -> list[Record]:
        """Commands for work that came due by the clock (job deadlines, back-offs). Scheduled
        work only appends commands; the processors decide against state."""
        self._check_running()
        now_ms = self.clock()
        jobs = EngineState(self.partition_id, self.store.view()).jobs
        commands = []
        for intent, due in (
            (JobIntent.TIME_OUT, jobs.deadlines_before(now_ms + 1)),
            (JobIntent.RECUR_AFTER_BACKOFF, jobs.backoffs_before(now_ms + 1)),
        ):
            for due_ms, key in due:
                if self._requested.get((intent, key)) == due_ms:
                    continue
                self._requested[(intent, key)] = due_ms
                commands.append(
                    Record(
                        ValueType.JOB,
                        intent,
                        JobRecordValue(),
                        key=key,
                        timestamp_ms=now_ms,
                        partition_id=self.partition_id,
                    )
                )
                if len(commands) >= SCHEDULED_COMMANDS_PER_CHECK_MAX:
                    return commands
        return commands

    def _forget_requested(self, commands: list[Record]) -> None:
        if self._requested:
            for command in commands:
                self._requested.pop((command.intent, command.key), None)


class _CommandFailed(Exception):
    def __init__(self, position: int, error: Exception):
        super().__init__(f"command at position {position} failed: {error!r}")
        self.position = position
        self.error = error


def _reject_failed(context: ProcessingContext, error: Exception) -> None:
    """A command whose processing raised: an ERROR event for operators, a PROCESSING_ERROR
    rejection for the requester; no other change to state."""
    command = context.command
    message = f"{type(error).__name__}: {error}"
    context.append_event(
        command.key,
        ErrorIntent.CREATED,
        ErrorRecordValue(
            exception_message=message[:1000],
            stacktrace="".join(traceback.format_exception(error))[-4000:],
            error_event_position=command.position,
            process_instance_key=getattr(command.value, "process_instance_key", -1),
        ),
    )
    context.reject(
        RejectionType.PROCESSING_ERROR,
        f"Expected to process {command.value_type.name} {command.intent.name} at position "
        f"{command.position}, but processing failed: {message}"[:REJECTION_REASON_CHARS_KEPT],
    )


def _reject_oversized(context: ProcessingContext, error: str) -> None:
    command = context.command
    context.reject(
        RejectionType.EXCEEDED_BATCH_RECORD_SIZE,
        f"Expected to process {command.value_type.name} {command.intent.name} at position "
        f"{command.position}, but the records it produces do not fit one log entry: {error}"[
            :REJECTION_REASON_CHARS_KEPT
        ],
    )

"""The stream processor: replays events into state, and (on the leader) processes commands.

Replay (followers all the time, a leader on start until the end of the log) applies events
through the same appliers processing uses, and never writes to the log. Processing reads the
next committed commands, runs each through its processor in ONE store transaction per batch,
appends every follow-up record as ONE log append, commits, and only then hands back the
responses. A command at or below `last_processed_position` is never processed again.
"""

import logging
import traceback
from collections import deque
from collections.abc import Callable

from raybee.partitions.engine import EngineState, ProcessingResult
from raybee.partitions.engine.appliers import EventAppliers
from raybee.partitions.engine.context import ProcessingContext, ReadOnly, RecordSink
from raybee.partitions.engine.job_streams import JobStreams
from raybee.partitions.engine.processors import CommandProcessors
from raybee.partitions.engine.stores.job_cache import JobCache
from raybee.partitions.log_stream import LogStream
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

Clock = Callable[[], int]


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
        # Events whose command is at or below this were applied before (snapshot or earlier run).
        self._applied_floor = EngineState(partition_id, view).positions.last_processed_position
        # Every record at or below the floor is already reflected in state (an event's position
        # is above its command's), so a restart from a snapshot reads only the log after it.
        self._next_read_position = max(self._applied_floor, 0) + 1
        self._replaying = True
        # What is known about jobs as of the last commit (decoded entries, activation floors):
        # the job a command names was usually written a batch or two ago.
        self._committed_jobs = JobCache()
        # Keys for which a scheduled command is in flight, so a checker does not repeat it.
        self._requested: dict[tuple[int, int], int] = {}

    @property
    def last_processed_position(self) -> int:
        return EngineState(self.partition_id, self.store.view()).positions.last_processed_position

    # ------------------------------------------------------------------ replay
    def replay(self) -> int:
        """Apply every event in the log not yet in state; returns how many were applied."""
        applied = 0
        while True:
            count, reached_end = self._replay_some()
            applied += count
            if reached_end:
                return applied

    def _replay_some(self) -> tuple[int, bool]:
        applied = 0
        consumed = 0
        job_cache = JobCache(self._committed_jobs)
        with self.store.transaction() as txn:
            state = EngineState(self.partition_id, txn, txn, job_cache)
            processed_before = state.positions.last_processed_position
            last_processed = processed_before
            reached_end = True
            records = self.log.read_from(self._next_read_position, skip_commands=True)
            for record in records:
                self._next_read_position = record.position + 1
                consumed += 1
                if record.source_record_position > self._applied_floor:
                    if record.is_event:
                        self.appliers.apply(state, record)
                        applied += 1
                    last_processed = max(last_processed, record.source_record_position)
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
        """Finish replay, then process from here on."""
        applied = self.replay()
        self._replaying = False
        return applied

    def process_batch(self) -> ProcessingResult | None:
        """Process up to commands_per_batch_max unprocessed commands; None if there were none."""
        assert not self._replaying, "replay to the end of the log (become_leader) first"
        last_processed = self.last_processed_position
        commands: list[Record] = []
        for record in self.log.read_from(self._next_read_position, commands_only=True):
            self._next_read_position = record.position + 1
            if record.position > last_processed:
                commands.append(record)
                if len(commands) >= self.commands_per_batch_max:
                    break
        if not commands:
            return None
        failed: dict[int, Exception] = {}
        while True:
            try:
                result = self._process_commands(commands, last_processed, failed)
                break
            except _CommandFailed as failure:
                # The transaction aborted; go again with that command rejected instead.
                assert failure.position not in failed, "a command failed twice"
                failed[failure.position] = failure.error
        self._forget_requested(commands)
        return result

    def _process_commands(
        self, commands: list[Record], last_processed: int, failed: dict[int, Exception]
    ) -> ProcessingResult:
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
            processed_through = last_processed
            while queue:
                command = queue.popleft()
                follow_ups_before = len(sink.result.follow_up_commands)
                context = ProcessingContext(command, read_only, sink)
                if command.position in failed:
                    _reject_failed(context, failed[command.position])
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
                processed_through = max(processed_through, command.position)
                queue.extend(sink.result.follow_up_commands[follow_ups_before:])
            state.positions.mark_processed(processed_through)
            state.flush()
            # The log first: if the append fails, the transaction aborts and nothing changed.
            read_everything = self._next_read_position > self.log.last_position
            self.log.append(sink.result.records)
            if read_everything:
                # Nothing unread lies before our own records: skip them instead of reading back
                # events this leader has already applied.
                self._next_read_position = self.log.last_position + 1
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
        f"{command.position}, but processing failed: {message}"[:1000],
    )

"""The engine as the stream processor sees it: `process` a batch of commands inside a store
transaction, `replay` events inside one, and list the `due_commands` the clock has made due.

The engine knows nothing of logs: the stream processor reads the records, opens and commits
the transactions, appends what a batch wrote, and decides which positions are processed. The
engine runs processors and appliers, keeps its caches in step with what was committed, and
stores the processed position (it lives in engine state so replay rebuilds it).
"""

import logging
import traceback
from collections import deque

from raybee.partitions.protocol import (
    ErrorIntent,
    ErrorRecordValue,
    Record,
    RejectionType,
)

from .appliers import EventAppliers
from .bpmn_behaviors.messages import MessageDeadlines
from .bpmn_behaviors.timers import TimerDueDates
from .context import EngineState, ProcessingContext, ProcessingResult, ReadOnly, RecordSink
from .distribution import PendingSends
from .due import DueWork, JobBackoffs, JobDeadlines
from .job_streams import JobStreams
from .processors import CommandProcessors
from .stores.bpmn_cache import BpmnCache
from .stores.job_cache import JobCache

log = logging.getLogger(__name__)

# What the clock makes due, each kind of entity scanning its own due dates.
DUE_WORK = (JobDeadlines(), JobBackoffs(), TimerDueDates(), MessageDeadlines(), PendingSends())

DUE_COMMANDS_PER_CHECK_MAX = 1_000
REJECTION_REASON_CHARS_KEPT = 1000
STACKTRACE_CHARS_KEPT = 4000


class CommandFailed(Exception):
    """A processor raised while processing the command at `position`; the batch's transaction
    must abort and the batch be run again with that command rejected."""

    def __init__(self, position: int, error: Exception):
        super().__init__(f"command at position {position} failed: {error!r}")
        self.position = position
        self.error = error


class Batch:
    """What one `Engine.process` or `Engine.replay` call did inside its transaction. Call
    `committed()` once the transaction has committed; drop it if the transaction aborted."""

    def __init__(
        self,
        engine: "Engine",
        cache: JobCache,
        result: ProcessingResult | None,
        bpmn_cache: BpmnCache | None = None,
    ):
        self._engine = engine
        self._cache = cache
        self._bpmn_cache = bpmn_cache or BpmnCache(engine._committed_bpmn)
        self.result = result

    def committed(self) -> None:
        self._cache.commit()
        self._bpmn_cache.commit()


class Replay(Batch):
    """Applies events, one by one, inside a transaction."""

    def __init__(self, engine: "Engine", txn):
        super().__init__(engine, JobCache(engine._committed_jobs), None)
        self._state = EngineState(engine.partition_id, txn, txn, self._cache, self._bpmn_cache)
        self._apply = engine.appliers.apply
        self.processed_before = self._state.positions.last_processed_position

    def apply(self, record: Record) -> None:
        self._apply(self._state, record)

    def finish(self, processed_position: int) -> None:
        """Store the processed position replay reached (if it moved) and what the stores hold
        back until the end of the transaction."""
        if processed_position > self.processed_before:
            self._state.positions.mark_processed(processed_position)
        self._state.flush()


class Engine:
    def __init__(
        self,
        partition_id: int,
        due_work: tuple[DueWork, ...] | None = None,
        partition_count: int = 1,
    ):
        assert partition_count >= 1, partition_count
        self.partition_id = partition_id
        self.partition_count = partition_count
        self.appliers = EventAppliers()
        self.processors = CommandProcessors()
        self.job_streams = JobStreams()
        self.due_work = due_work if due_work is not None else DUE_WORK
        # What is known about jobs as of the last commit (decoded entries, activation floors):
        # the job a command names was usually written a batch or two ago.
        self._committed_jobs = JobCache()
        # The same for BPMN state: deployed processes (parsed), element instances, variables.
        self._committed_bpmn = BpmnCache()
        # Commands proposed for due work, by (intent, key) -> due_ms, until processed, so a
        # check does not propose the same one again while it waits in the log.
        self._requested: dict[tuple[int, int], int] = {}

    def processed_position(self, reader) -> int:
        return EngineState(self.partition_id, reader).positions.last_processed_position

    # ------------------------------------------------------------------ processing
    def process(
        self,
        txn,
        commands: list[Record],
        next_position: int,
        processed_position: int,
        failed: dict[int, Exception] | None = None,
        oversized: dict[int, str] | None = None,
    ) -> Batch:
        """Process `commands` (log-read, in log order) and the follow-up commands they write,
        in `txn`. Records are positioned from `next_position`; `processed_position` is stored.
        Commands in `failed` or `oversized` are rejected instead of processed. Raises
        CommandFailed when a processor raises (the caller aborts the transaction)."""
        failed = failed or {}
        oversized = oversized or {}
        cache = JobCache(self._committed_jobs)  # shared by processors and appliers
        bpmn_cache = BpmnCache(self._committed_bpmn)
        state = EngineState(self.partition_id, txn, txn, cache, bpmn_cache)
        read_only = EngineState(self.partition_id, ReadOnly(txn), None, cache, bpmn_cache)
        sink = RecordSink(
            self.partition_id,
            next_position,
            state,
            self.appliers,
            self.job_streams,
            self.partition_count,
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
                    raise CommandFailed(command.position, error) from error
            queue.extend(sink.result.follow_up_commands[follow_ups_before:])
        state.positions.mark_processed(processed_position)
        state.flush()
        return Batch(self, cache, sink.result, bpmn_cache)

    def forget_due(self, commands: list[Record]) -> None:
        """These commands were processed: their due work may be proposed again if still due."""
        if self._requested:
            for command in commands:
                self._requested.pop((command.intent, command.key), None)

    # ------------------------------------------------------------------ replay
    def replay(self, txn) -> Replay:
        return Replay(self, txn)

    # ------------------------------------------------------------------ due work
    def due_commands(self, reader, now_ms: int) -> list[Record]:
        """Commands for work that came due by `now_ms`, each proposed once until processed."""
        state = EngineState(self.partition_id, reader)
        commands = []
        for work in self.due_work:
            for due_ms, command in work.due(state, now_ms):
                slot = (command.intent, command.key)
                if self._requested.get(slot) == due_ms:
                    continue
                self._requested[slot] = due_ms
                commands.append(
                    command.stamped(timestamp_ms=now_ms, partition_id=self.partition_id)
                )
                if len(commands) >= DUE_COMMANDS_PER_CHECK_MAX:
                    return commands
        return commands


def _reject_failed(context: ProcessingContext, error: Exception) -> None:
    """A command whose processing raised: an ERROR event for operators, a PROCESSING_ERROR
    rejection for the requester; no other change to state."""
    command = context.command
    message = f"{type(error).__name__}: {error}"
    context.append_event(
        command.key,
        ErrorIntent.CREATED,
        ErrorRecordValue(
            exception_message=message[:REJECTION_REASON_CHARS_KEPT],
            stacktrace="".join(traceback.format_exception(error))[-STACKTRACE_CHARS_KEPT:],
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

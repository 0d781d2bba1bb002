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

Retries
-------
With `request_ids` (the replicated partition's request-id window, `partitions/replica/
request_ids.py`), a log-read command that repeats the request ids of one processed shortly
before is not processed again: the window answers it (a rejection in the log, the first answer
to the client) and records the ids of fresh commands, in the batch's transaction; replay
rebuilds the same window. Without it (LocalPartition) every command is processed.

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
from collections.abc import Callable

from raybee.partitions.engine.context import FOLLOW_UP_COMMANDS_PER_BATCH_MAX, ProcessingResult
from raybee.partitions.engine.engine import CommandFailed, Engine
from raybee.partitions.log_stream import AppendTooLargeError, LogStream
from raybee.partitions.protocol import Record

log = logging.getLogger(__name__)

COMMANDS_PER_BATCH_MAX = 200
REPLAY_RECORDS_PER_TRANSACTION_MAX = 10_000
# Replay maps follow-up positions to their roots. A follow-up's records are in the same append
# as the follow-up, and one batch writes at most FOLLOW_UP_COMMANDS_PER_BATCH_MAX of them, so
# remembering that many of the newest is enough.
FOLLOW_UP_ROOTS_KEPT_MAX = FOLLOW_UP_COMMANDS_PER_BATCH_MAX + 1

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
        partition_count: int = 1,
        request_ids=None,
    ) -> None:
        assert commands_per_batch_max >= 1
        self.store = store
        self.log = log
        self.partition_id = partition_id
        self.clock = clock
        self.commands_per_batch_max = commands_per_batch_max
        self.engine = Engine(partition_id, partition_count=partition_count)
        self.request_ids = request_ids
        # Events whose root command is at or below this were applied before (a snapshot or an
        # earlier run) and are skipped by replay.
        self._applied_floor = self.engine.processed_position(store.view())
        self._check_log_continues_state(self._applied_floor)
        # Every record of a root above the floor lies above the floor too, so a restart from a
        # snapshot reads only the log after it.
        self._replay_position = max(self._applied_floor, 0) + 1
        # Where the command reader goes on; set when replay is over (become_leader).
        self._process_position: int | None = None
        self._follow_up_roots: dict[int, int] = {}
        self._halted: BaseException | None = None

    # The engine's parts, for hosts and tests that plug in streams or processors.
    @property
    def processors(self):
        return self.engine.processors

    @property
    def appliers(self):
        return self.engine.appliers

    @property
    def job_streams(self):
        return self.engine.job_streams

    @property
    def last_processed_position(self) -> int:
        return self.engine.processed_position(self.store.view())

    @property
    def replay_position(self) -> int:
        """The next position replay reads."""
        return self._replay_position

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
    def replay(self, transactions_max: int | None = None) -> int:
        """Apply every event in the log not yet in state (or only what `transactions_max`
        transactions of up to REPLAY_RECORDS_PER_TRANSACTION_MAX records take: a host that must
        come back to its loop); returns how many were applied."""
        self._check_running()
        applied = transactions = 0
        while True:
            count, reached_end = self._replay_some()
            applied += count
            transactions += 1
            if reached_end or transactions == transactions_max:
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
        with self.store.transaction() as txn:
            replay = self.engine.replay(txn)
            last_processed = replay.processed_before
            reached_end = True
            for record in self.log.read_from(
                self._replay_position,
                command_headers=True,
                value_models=self.engine.appliers.replay_models,
            ):
                self._replay_position = record.position + 1
                consumed += 1
                source = record.source_record_position
                if record.is_command:
                    if source >= 0:
                        self._note_follow_up(record.position, source)
                    elif self.request_ids is not None and record.position > floor:
                        self.request_ids.replay_read(record)
                else:
                    root = self._root_of(source)
                    if root > floor:
                        if record.is_event:
                            replay.apply(record)
                            applied += 1
                        last_processed = max(last_processed, root)
                if consumed >= REPLAY_RECORDS_PER_TRANSACTION_MAX:
                    reached_end = False
                    break
            replay.finish(last_processed)
            if self.request_ids is not None:
                self.request_ids.replayed(txn, last_processed)
        replay.committed()
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
        # Skipping this batch's own records afterwards is safe only if nothing lies between
        # the last record read and them: the reader reached the end, and nothing was appended
        # that it could not read yet (a replicated log appends before it commits).
        nothing_pending = self.log.committed_position == self.log.last_position
        commands, reached_end = self._read_commands(last_processed)
        reached_end = reached_end and nothing_pending
        if not commands:
            return None
        duplicates = {}
        if self.request_ids is not None:
            duplicates = self.request_ids.duplicates(self.store.view(), commands)
        failed: dict[int, Exception] = {}
        oversized: dict[int, str] = {}
        while True:
            try:
                result = self._process_commands(commands, failed, oversized, duplicates)
                break
            except CommandFailed as failure:
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
        self.engine.forget_due(commands)
        return result

    def _process_commands(
        self,
        commands: list[Record],
        failed: dict[int, Exception],
        oversized: dict[int, str],
        duplicates: dict[int, int],
    ) -> ProcessingResult:
        reached_log = False
        fresh = [c for c in commands if c.position not in duplicates] if duplicates else commands
        try:
            with self.store.transaction() as txn:
                # Log-read commands are taken in log order: the last one is the highest.
                batch = self.engine.process(
                    txn,
                    fresh,
                    self.log.last_position + 1,
                    commands[-1].position,
                    failed,
                    oversized,
                )
                if self.request_ids is not None:
                    self.request_ids.processed(
                        txn,
                        batch.result,
                        commands,
                        duplicates,
                        self.log.last_position + 1 + len(batch.result.records),
                        commands[-1].position,
                    )
                # The log first: if the append fails, the transaction aborts with it.
                reached_log = True
                self.log.append_result(batch.result)
        except (CommandFailed, AppendTooLargeError):
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
        batch.committed()
        return batch.result

    def process_all(self) -> list[ProcessingResult]:
        results = []
        while (result := self.process_batch()) is not None:
            results.append(result)
        return results

    # ------------------------------------------------------------------ scheduled work
    def due_commands(self) -> list[Record]:
        """Commands for work that came due by the clock (job deadlines, back-offs, ...).
        Scheduled work only appends commands; the processors decide against state."""
        self._check_running()
        return self.engine.due_commands(self.store.view(), self.clock())

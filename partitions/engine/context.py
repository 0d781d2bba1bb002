"""What a processor works with: a read-only view of state, and writers for follow-up records.

Appending an event runs its applier at once, in the same transaction, so processing and replay
run the same mutation code; processors never get a mutable handle on state.
"""

from dataclasses import dataclass, field
from enum import IntEnum

from raybee.partitions.protocol import (
    MODEL_VALUE_TYPES,
    VALUE_MODELS,
    Record,
    RecordType,
    RecordValue,
    RejectionType,
    ValueType,
)

from .job_streams import JobPush, JobStreams
from .stores import IncidentStore, JobStore, KeyGenerator, PositionStore
from .stores.bpmn_cache import BpmnCache
from .stores.distribution import DistributionStore
from .stores.element_instances import ElementInstanceStore
from .stores.job_cache import JobCache
from .stores.messages import MessageStore
from .stores.processes import ProcessStore
from .stores.subscriptions import SubscriptionStore
from .stores.timers import TimerStore
from .stores.variables import VariableStore

FOLLOW_UP_COMMANDS_PER_BATCH_MAX = 1_000


class ReadOnly:
    """The read half of a transaction: processors may look, not touch."""

    __slots__ = ("_reader",)

    def __init__(self, reader):
        self._reader = reader

    def get(self, family, key, default=None):
        return self._reader.get(family, key, default)

    def prefix(self, family, prefix):
        return self._reader.prefix(family, prefix)

    def range(self, family, start=None, stop=None):
        return self._reader.range(family, start, stop)

    def first(self, family, prefix=None):
        return self._reader.first(family, prefix)


class ReadOnlyStateError(AttributeError):
    """A processor reached for something only the processing context may do."""


class EngineState:
    """Typed state over one reader (and, for appliers, one writer).

    Only a writable state has a key generator: keys are issued by the processing context
    (`ctx.next_key()`, which moves the one counter of the batch). A read-only state that could
    hand out keys would return the key the writer hands out next - a duplicate in waiting."""

    def __init__(
        self,
        partition_id: int,
        reader,
        writer=None,
        job_cache: JobCache | None = None,
        bpmn_cache: BpmnCache | None = None,
    ):
        self._keys = None if writer is None else KeyGenerator(partition_id, reader, writer)
        self.jobs = JobStore(
            reader, writer, job_cache, None if self._keys is None else self._keys.is_new
        )
        self.incidents = IncidentStore(reader, writer)
        self.positions = PositionStore(reader, writer)
        bpmn_cache = BpmnCache() if bpmn_cache is None else bpmn_cache
        self.processes = ProcessStore(reader, writer, bpmn_cache)
        self.element_instances = ElementInstanceStore(reader, writer, bpmn_cache)
        self.variables = VariableStore(reader, writer, bpmn_cache)
        self.distribution = DistributionStore(reader, writer)
        self.timers = TimerStore(reader, writer)
        self.messages = MessageStore(reader, writer)
        self.subscriptions = SubscriptionStore(reader, writer)

    @property
    def keys(self) -> KeyGenerator:
        if self._keys is None:
            raise ReadOnlyStateError(
                "this state is read-only and issues no keys: a processor draws keys with "
                "ctx.next_key()"
            )
        return self._keys

    def flush(self) -> None:
        """Write what the stores hold back until the end of the transaction."""
        if self._keys is not None:
            self._keys.flush()
            self.element_instances.flush()
            self.variables.flush()


@dataclass
class Response:
    """The answer to a client's command, sent after the records it names are committed."""

    request_stream_id: int
    request_id: int
    record: Record


@dataclass
class ProcessingResult:
    """Everything one processed batch produced, in log order, plus post-commit side effects."""

    records: list[Record] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    follow_up_commands: list[Record] = field(default_factory=list)
    job_pushes: list[JobPush] = field(default_factory=list)
    # Commands for other partitions, (partition id, command), sent by the host after commit.
    partition_commands: list[tuple[int, Record]] = field(default_factory=list)


class ProcessingContext:
    """Built by the stream processor for one command. `state` is read-only; `append_event`
    writes an event and applies it; `append_command` queues a follow-up command processed in
    the same batch; `reject` writes a rejection and answers the requester."""

    def __init__(self, command: Record, state: EngineState, sink: "RecordSink"):
        self.command = command
        self.state = state
        self._sink = sink
        # The rejection this context wrote, if any (a command carried inside another is
        # acknowledged to its sender with it).
        self.rejection: Record | None = None

    @property
    def partition_id(self) -> int:
        return self._sink.partition_id

    @property
    def partition_count(self) -> int:
        return self._sink.partition_count

    def send_to_partition(self, partition_id: int, command: Record) -> None:
        """Hand `command` to partition `partition_id` after commit (best effort; see
        engine/distribution.py for sends that must arrive)."""
        assert partition_id != self._sink.partition_id, "a partition sends itself follow-ups"
        self._sink.result.partition_commands.append((partition_id, command))

    def inner(self, command: Record) -> "ProcessingContext":
        """A context for a command carried inside this one (sent by another partition): what
        it writes is written as this command's answer."""
        return ProcessingContext(command, self.state, self._sink)

    @property
    def job_streams(self) -> JobStreams | None:
        return self._sink.job_streams

    def push_job(self, stream_id: int, job_key: int, job) -> None:
        self._sink.result.job_pushes.append(JobPush(stream_id, job_key, job))

    @property
    def now_ms(self) -> int:
        # Time comes from the command record: processing the same log twice gives the same state.
        return self.command.timestamp_ms

    def next_key(self) -> int:
        return self._sink.next_key()

    def append_event(self, key: int, intent: IntEnum, value: RecordValue) -> Record:
        return self._sink.write(self.command, RecordType.EVENT, key, intent, value)

    def append_command(self, key: int, intent: IntEnum, value: RecordValue) -> Record:
        return self._sink.write(self.command, RecordType.COMMAND, key, intent, value)

    def respond(self, record: Record) -> None:
        self._sink.respond(self.command, record)

    def respond_to(self, request_stream_id: int, request_id: int, record: Record) -> None:
        """Answer an earlier request (a process instance awaiting its result), after commit."""
        if request_id >= 0:
            self._sink.result.responses.append(Response(request_stream_id, request_id, record))

    def reject(self, rejection_type: RejectionType, reason: str) -> Record:
        command = self.command
        record = self._sink.write(
            command,
            RecordType.COMMAND_REJECTION,
            command.key,
            command.intent,
            command.value,
            rejection_type=rejection_type,
            reason=reason,
        )
        self.respond(record)
        self.rejection = record
        return record


class RecordSink:
    """Assigns positions, applies events, collects the batch. One per processed batch."""

    def __init__(
        self,
        partition_id: int,
        next_position: int,
        state: EngineState,
        appliers,
        job_streams: JobStreams | None = None,
        partition_count: int = 1,
    ):
        self.partition_id = partition_id
        self.partition_count = partition_count
        self.next_position = next_position
        self.state = state
        self.appliers = appliers
        self.job_streams = job_streams
        self.result = ProcessingResult()

    def next_key(self) -> int:
        return self.state.keys.next_key()

    def write(
        self,
        source: Record,
        record_type: RecordType,
        key: int,
        intent: IntEnum,
        value: RecordValue,
        rejection_type: RejectionType = RejectionType.NONE,
        reason: str = "",
    ) -> Record:
        value_type = MODEL_VALUE_TYPES[type(value)]
        assert VALUE_MODELS[value_type] is type(value)
        is_follow_up_command = record_type == RecordType.COMMAND
        is_event = record_type == RecordType.EVENT
        record = Record(
            value_type,
            intent,
            value,
            record_type,
            key=key,
            position=self.next_position,
            source_record_position=source.position,
            timestamp_ms=source.timestamp_ms,
            partition_id=self.partition_id,
            # An event is stamped with the applier version it was written for, so replay of an
            # old log keeps applying it the way it was applied then.
            record_version=self.appliers.latest_version(value_type, intent) if is_event else 1,
            rejection_type=rejection_type,
            rejection_reason=reason,
            # Follow-up commands are the engine's own; only the answer carries the request ids.
            request_stream_id=-1 if is_follow_up_command else source.request_stream_id,
            request_id=-1 if is_follow_up_command else source.request_id,
        )
        self.next_position += 1
        self.result.records.append(record)
        if is_event:
            self.appliers.apply(self.state, record)
        elif is_follow_up_command:
            if len(self.result.follow_up_commands) >= FOLLOW_UP_COMMANDS_PER_BATCH_MAX:
                raise RuntimeError(
                    f"more than {FOLLOW_UP_COMMANDS_PER_BATCH_MAX} follow-up commands from "
                    f"the command at position {source.position}: a processing loop?"
                )
            self.result.follow_up_commands.append(record)
        return record

    def respond(self, command: Record, record: Record) -> None:
        if command.request_id >= 0:
            self.result.responses.append(
                Response(command.request_stream_id, command.request_id, record)
            )


__all__ = [
    "EngineState",
    "ProcessingContext",
    "ProcessingResult",
    "ReadOnly",
    "ReadOnlyStateError",
    "RecordSink",
    "Response",
    "ValueType",
]

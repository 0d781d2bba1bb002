"""The Record: one entry of a partition's log (a command, an event or a rejection)."""

from enum import IntEnum
from typing import NamedTuple

from .enums import INTENTS_BY_VALUE_TYPE, RecordType, RejectionType, ValueType
from .values import NO_KEY, VALUE_MODELS, RecordValue

# Keys are (partition_id << KEY_PARTITION_SHIFT_BITS) + a per-partition counter.
KEY_PARTITION_SHIFT_BITS = 51
PARTITION_ID_MAX = (1 << (63 - KEY_PARTITION_SHIFT_BITS)) - 1
REJECTION_REASON_CHARS_MAX = 4096

# (value type, raw intent) -> typed intent, precomputed: decoding a record is a dict lookup.
INTENT_TABLE: dict[tuple[int, int], IntEnum] = {
    (int(vt), int(intent)): intent
    for vt, intents in INTENTS_BY_VALUE_TYPE.items()
    for intent in intents
}


_INT64_END = 1 << 63
_VALUE_TYPES = {int(t): t for t in ValueType}
_RECORD_TYPES = {int(t): t for t in RecordType}
_REJECTION_TYPES = {int(t): t for t in RejectionType}


def encode_key(partition_id: int, counter: int) -> int:
    assert 0 <= partition_id <= PARTITION_ID_MAX, partition_id
    assert 0 <= counter < (1 << KEY_PARTITION_SHIFT_BITS), counter
    return (partition_id << KEY_PARTITION_SHIFT_BITS) + counter


def partition_of_key(key: int) -> int:
    return key >> KEY_PARTITION_SHIFT_BITS


class _RecordFields(NamedTuple):
    value_type: ValueType
    intent: IntEnum
    value: RecordValue
    record_type: RecordType = RecordType.COMMAND
    key: int = NO_KEY
    position: int = -1
    source_record_position: int = -1
    timestamp_ms: int = -1
    partition_id: int = 0
    record_version: int = 1
    rejection_type: RejectionType = RejectionType.NONE
    rejection_reason: str = ""
    request_stream_id: int = -1
    request_id: int = -1


class Record(_RecordFields):
    """An immutable log record. `position` is assigned by the partition when it is written
    (-1 before that); `key` names the entity the record is about (-1 for none).

    A tuple underneath: records are made and read by the hundred thousand per second, and a
    tuple is the cheapest immutable object Python has. Construction validates; the codec, which
    has already validated whole columns, builds with `Record.trusted`.
    """

    __slots__ = ()

    def __new__(
        cls,
        value_type: ValueType,
        intent: IntEnum | int,
        value: RecordValue,
        record_type: RecordType = RecordType.COMMAND,
        key: int = NO_KEY,
        position: int = -1,
        source_record_position: int = -1,
        timestamp_ms: int = -1,
        partition_id: int = 0,
        record_version: int = 1,
        rejection_type: RejectionType = RejectionType.NONE,
        rejection_reason: str = "",
        request_stream_id: int = -1,
        request_id: int = -1,
    ) -> "Record":
        typed_value_type = _VALUE_TYPES.get(value_type)
        if typed_value_type is None:
            raise ValueError(f"{value_type!r} is not a ValueType")
        typed_intent = INTENT_TABLE.get((value_type, intent))
        if typed_intent is None or (
            type(intent) is not int and type(intent) is not type(typed_intent)
        ):
            raise ValueError(
                f"intent {intent!r} does not exist for value type {typed_value_type.name}"
            )
        typed_record_type = _RECORD_TYPES.get(record_type)
        typed_rejection_type = _REJECTION_TYPES.get(rejection_type)
        if typed_record_type is None or typed_rejection_type is None:
            raise ValueError(
                f"unknown record type {record_type!r} or rejection type {rejection_type!r}"
            )
        model = VALUE_MODELS[typed_value_type]
        if type(value) is not model:
            raise TypeError(
                f"a {typed_value_type.name} record needs a {model.__name__} value, "
                f"got {type(value).__name__}"
            )
        if (typed_rejection_type == RejectionType.NONE) != (
            typed_record_type != RecordType.COMMAND_REJECTION
        ):
            raise ValueError(
                f"record_type {typed_record_type.name} and rejection_type "
                f"{typed_rejection_type.name} disagree: a COMMAND_REJECTION, and only it, "
                "carries a rejection type"
            )
        if len(rejection_reason) > REJECTION_REASON_CHARS_MAX:
            raise ValueError(
                f"rejection_reason is {len(rejection_reason)} chars, "
                f"more than {REJECTION_REASON_CHARS_MAX}"
            )
        if not (
            -1 <= key < _INT64_END
            and -1 <= position < _INT64_END
            and -1 <= source_record_position < _INT64_END
            and -1 <= timestamp_ms < _INT64_END
            and -1 <= request_id < _INT64_END
        ):
            raise ValueError(
                "key, position, source_record_position, timestamp_ms and request_id must lie "
                f"in -1 .. 2**63-1, got {key}, {position}, {source_record_position}, "
                f"{timestamp_ms}, {request_id}"
            )
        value_type, record_type, rejection_type = (
            typed_value_type,
            typed_record_type,
            typed_rejection_type,
        )
        return tuple.__new__(
            cls,
            (
                value_type,
                typed_intent,
                value,
                record_type,
                key,
                position,
                source_record_position,
                timestamp_ms,
                partition_id,
                record_version,
                rejection_type,
                rejection_reason,
                request_stream_id,
                request_id,
            ),
        )

    @classmethod
    def trusted(cls, fields: tuple) -> "Record":
        """Build without checks, from fields already validated (the codec's fast path)."""
        return tuple.__new__(cls, fields)

    def stamped(self, **fields: int) -> "Record":
        """A copy with fields the log and the gateway assign (position, timestamp, partition,
        request ids) set without re-validating the rest: the append path did this per record
        through `_replace`, which cost ~8 % of a job lifecycle (measured with py-spy)."""
        values = list(self)
        for name, value in fields.items():
            assert name in _STAMPED_FIELDS, f"{name} is not a stamped field"
            assert type(value) is int and -1 <= value < _INT64_END, (name, value)
            values[_FIELD_INDEX[name]] = value
        return tuple.__new__(Record, values)

    def replace(self, **changes) -> "Record":
        """A validated copy with some fields changed."""
        return Record(**{**self._asdict(), **changes})

    @property
    def is_command(self) -> bool:
        return self.record_type == RecordType.COMMAND

    @property
    def is_event(self) -> bool:
        return self.record_type == RecordType.EVENT

    @property
    def is_rejection(self) -> bool:
        return self.record_type == RecordType.COMMAND_REJECTION


RECORD_FIELD_NAMES = Record._fields
_FIELD_INDEX = {name: index for index, name in enumerate(RECORD_FIELD_NAMES)}
_STAMPED_FIELDS = frozenset(
    {"position", "timestamp_ms", "partition_id", "request_stream_id", "request_id"}
)

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
        value_type = ValueType(value_type)
        typed_intent = INTENT_TABLE.get((value_type, int(intent)))
        if typed_intent is None:
            raise ValueError(f"intent {intent!r} does not exist for value type {value_type.name}")
        record_type = RecordType(record_type)
        rejection_type = RejectionType(rejection_type)
        model = VALUE_MODELS[value_type]
        if type(value) is not model:
            raise TypeError(
                f"a {value_type.name} record needs a {model.__name__} value, "
                f"got {type(value).__name__}"
            )
        if (rejection_type == RejectionType.NONE) != (record_type != RecordType.COMMAND_REJECTION):
            raise ValueError(
                f"record_type {record_type.name} and rejection_type {rejection_type.name} "
                "disagree: a COMMAND_REJECTION, and only it, carries a rejection type"
            )
        if len(rejection_reason) > REJECTION_REASON_CHARS_MAX:
            raise ValueError(
                f"rejection_reason is {len(rejection_reason)} chars, "
                f"more than {REJECTION_REASON_CHARS_MAX}"
            )
        for name, number in (
            ("key", key),
            ("position", position),
            ("source_record_position", source_record_position),
            ("timestamp_ms", timestamp_ms),
            ("request_id", request_id),
        ):
            if not -1 <= number < (1 << 63):
                raise ValueError(f"{name}={number} is outside -1 .. 2**63-1")
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

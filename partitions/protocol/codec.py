"""Records <-> one Arrow RecordBatch: the unit the journal stores and Raft replicates.

Header fields are typed columns (exporters, DuckDB and replay filters read them without
decoding the value); the value is one binary column holding the value model's JSON, made and
parsed by pydantic's Rust core (measured faster than msgpack; see docs/benchmarks.md).
"""

from collections.abc import Mapping, Sequence

import pyarrow as pa

from .enums import RecordType, RejectionType, ValueType
from .record import INTENT_TABLE, RECORD_FIELD_NAMES, REJECTION_REASON_CHARS_MAX, Record
from .values import VALUE_MODELS

RECORD_SCHEMA = pa.schema(
    [
        pa.field("value_type", pa.int8(), nullable=False),
        pa.field("intent", pa.int8(), nullable=False),
        pa.field("value", pa.binary(), nullable=False),
        pa.field("record_type", pa.int8(), nullable=False),
        pa.field("key", pa.int64(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("source_record_position", pa.int64(), nullable=False),
        pa.field("timestamp_ms", pa.int64(), nullable=False),
        pa.field("partition_id", pa.int32(), nullable=False),
        pa.field("record_version", pa.int16(), nullable=False),
        pa.field("rejection_type", pa.int8(), nullable=False),
        pa.field("rejection_reason", pa.string(), nullable=False),
        pa.field("request_stream_id", pa.int32(), nullable=False),
        pa.field("request_id", pa.int64(), nullable=False),
    ],
    metadata={b"raybee.record_schema_version": b"1"},
)
assert tuple(RECORD_SCHEMA.names) == RECORD_FIELD_NAMES, "columns follow the Record's fields"
_VALUE_COLUMN = RECORD_SCHEMA.get_field_index("value")
_VALUE_TYPES = {int(t): t for t in ValueType}
_RECORD_TYPES = {int(t): t for t in RecordType}
_REJECTION_TYPES = {int(t): t for t in RejectionType}
_MODELS = {int(vt): model for vt, model in VALUE_MODELS.items()}


class RecordDecodeError(ValueError):
    """A batch that does not hold valid records; names the row and the reason."""


def encode_value(record: Record) -> bytes:
    return record.value.__pydantic_serializer__.to_json(record.value)


def records_to_batch(records: Sequence[Record]) -> pa.RecordBatch:
    """Encode records as one RecordBatch with RECORD_SCHEMA (one row per record)."""
    columns = [list(column) for column in zip(*records, strict=True)] if records else None
    arrays = []
    for index, field in enumerate(RECORD_SCHEMA):
        if columns is None:
            arrays.append(pa.array([], type=field.type))
        elif index == _VALUE_COLUMN:
            arrays.append(pa.array([encode_value(r) for r in records], type=field.type))
        else:
            arrays.append(pa.array(columns[index], type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=RECORD_SCHEMA)


def batch_to_records(
    batch: pa.RecordBatch,
    record_types: frozenset[int] | None = None,
    headers_only: frozenset[int] = frozenset(),
    value_models: Mapping[tuple[int, int, int], type | None] | None = None,
) -> list[Record]:
    """Decode a RecordBatch made by records_to_batch; RecordDecodeError on anything else.
    With record_types, rows of other record types are skipped before their values are decoded
    (processing wants commands); rows whose record type is in headers_only come back with
    value None (replay needs where each command came from, never what it asked). A row whose
    (value type, intent, record version) is in value_models has its value decoded by the model
    named there instead, or not at all for None (replay: an applier that reads an event's key
    alone, or a few fields of a large value, need not have the whole value decoded)."""
    if not batch.schema.equals(RECORD_SCHEMA):
        raise RecordDecodeError(
            f"batch schema is not the record schema: got {batch.schema.names}, "
            f"expected {RECORD_SCHEMA.names}"
        )
    rows = zip(*(column.to_pylist() for column in batch.columns), strict=True)
    records = []
    for row_index, row in enumerate(rows):
        (vt, intent, raw, rt, key, pos, src, ts, pid, ver, rej, reason, rsid, rid) = row
        if record_types is not None and rt not in record_types:
            continue
        try:
            model = _MODELS[vt]
            typed_intent = INTENT_TABLE[(vt, intent)]
            record_type = _RECORD_TYPES[rt]
            rejection_type = _REJECTION_TYPES[rej]
            if (rejection_type == 0) != (record_type != RecordType.COMMAND_REJECTION):
                raise ValueError(f"record_type {rt} and rejection_type {rej} disagree")
            if len(reason) > REJECTION_REASON_CHARS_MAX:
                raise ValueError(f"rejection_reason of {len(reason)} chars is too long")
            if rt in headers_only:
                value = None
            else:
                if value_models is not None:
                    model = value_models.get((vt, intent, ver), model)
                value = None if model is None else model.model_validate_json(raw)
        except KeyError as error:
            raise RecordDecodeError(
                f"row {row_index} of {batch.num_rows}: unknown enum value {error} "
                f"(value_type={vt}, intent={intent}, record_type={rt}, rejection_type={rej})"
            ) from None
        except ValueError as error:
            raise RecordDecodeError(f"row {row_index} of {batch.num_rows}: {error}") from error
        records.append(
            Record.trusted(
                (
                    _VALUE_TYPES[vt],
                    typed_intent,
                    value,
                    record_type,
                    key,
                    pos,
                    src,
                    ts,
                    pid,
                    ver,
                    rejection_type,
                    reason,
                    rsid,
                    rid,
                )
            )
        )
    return records

"""The record codec: lossless Record <-> Arrow RecordBatch, and clear errors on bad input."""

import typing
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from raybee.partitions.protocol import (
    INTENTS_BY_VALUE_TYPE,
    RECORD_SCHEMA,
    VALUE_MODELS,
    JobIntent,
    JobRecordValue,
    Record,
    RecordDecodeError,
    RecordType,
    RejectionType,
    ValueType,
    batch_to_records,
    encode_key,
    partition_of_key,
    records_to_batch,
)

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | INT64
    | st.floats(allow_nan=False)  # NaN != NaN would make equality meaningless, not the codec wrong
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def strategy_for(annotation: Any) -> st.SearchStrategy:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return JSON
    if annotation is int:
        return INT64
    if annotation is str:
        return st.text(max_size=30)
    if annotation is bool:
        return st.booleans()
    if annotation is bytes:
        return st.binary(max_size=40)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return st.lists(strategy_for(item), max_size=3)
    if origin is dict:
        key, value = typing.get_args(annotation)
        return st.dictionaries(strategy_for(key), strategy_for(value), max_size=4)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    raise AssertionError(f"no strategy for {annotation!r}")


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy:
    fields = {name: strategy_for(f.annotation) for name, f in model.model_fields.items()}
    return st.fixed_dictionaries(fields).map(lambda kwargs: model(**kwargs))


@st.composite
def records(draw) -> Record:
    value_type = draw(st.sampled_from(list(ValueType)))
    intent = draw(st.sampled_from(list(INTENTS_BY_VALUE_TYPE[value_type])))
    record_type = draw(st.sampled_from(list(RecordType)))
    if record_type == RecordType.COMMAND_REJECTION:
        rejection_type = draw(
            st.sampled_from([t for t in RejectionType if t != RejectionType.NONE])
        )
        reason = draw(st.text(max_size=50))
    else:
        rejection_type, reason = RejectionType.NONE, ""
    non_negative = st.integers(min_value=-1, max_value=(1 << 63) - 1)
    return Record(
        value_type=value_type,
        intent=intent,
        value=draw(model_strategy(VALUE_MODELS[value_type])),
        record_type=record_type,
        key=draw(non_negative),
        position=draw(non_negative),
        source_record_position=draw(non_negative),
        timestamp_ms=draw(non_negative),
        partition_id=draw(st.integers(min_value=0, max_value=(1 << 31) - 1)),
        record_version=draw(st.integers(min_value=1, max_value=(1 << 15) - 1)),
        rejection_type=rejection_type,
        rejection_reason=reason,
        request_stream_id=draw(st.integers(min_value=-1, max_value=(1 << 31) - 1)),
        request_id=draw(non_negative),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(records(), max_size=20))
def test_batch_round_trip_is_lossless(batch_records):
    batch = records_to_batch(batch_records)
    assert batch.schema.equals(RECORD_SCHEMA)
    assert batch.num_rows == len(batch_records)
    decoded = batch_to_records(batch)
    assert decoded == batch_records
    # Types survive too, not only equality (an IntEnum equals its int).
    for before, after in zip(batch_records, decoded, strict=True):
        assert type(after.intent) is type(before.intent)
        assert type(after.value) is type(before.value)


@settings(max_examples=50, deadline=None)
@given(st.lists(records(), min_size=1, max_size=5))
def test_round_trip_through_ipc_bytes(batch_records):
    sink = pa.BufferOutputStream()
    batch = records_to_batch(batch_records)
    with pa.ipc.new_stream(sink, RECORD_SCHEMA) as writer:
        writer.write_batch(batch)
    reread = pa.ipc.open_stream(sink.getvalue()).read_next_batch()
    assert batch_to_records(reread) == batch_records


def test_special_floats_round_trip():
    value = JobRecordValue(variables={"inf": float("inf"), "ninf": float("-inf"), "big": 1e308})
    record = Record(ValueType.JOB, JobIntent.CREATED, value, RecordType.EVENT)
    assert batch_to_records(records_to_batch([record])) == [record]


def test_record_refuses_an_intent_of_another_value_type():
    with pytest.raises(ValueError, match="intent 17 does not exist for value type JOB_BATCH"):
        Record(ValueType.JOB_BATCH, 17, VALUE_MODELS[ValueType.JOB_BATCH]())


def test_record_refuses_a_value_of_the_wrong_model():
    with pytest.raises(TypeError, match="JOB record needs a JobRecordValue"):
        Record(ValueType.JOB, JobIntent.CREATED, VALUE_MODELS[ValueType.TIMER]())


def test_record_refuses_a_rejection_type_on_an_event():
    with pytest.raises(ValueError, match="disagree"):
        Record(
            ValueType.JOB,
            JobIntent.CREATED,
            JobRecordValue(),
            RecordType.EVENT,
            rejection_type=RejectionType.NOT_FOUND,
        )


def test_decode_refuses_another_schema():
    batch = pa.RecordBatch.from_pydict({"x": [1, 2]})
    with pytest.raises(RecordDecodeError, match="not the record schema"):
        batch_to_records(batch)


def test_decode_names_the_bad_row():
    good = Record(ValueType.JOB, JobIntent.CREATED, JobRecordValue(), RecordType.EVENT)
    batch = records_to_batch([good, good])
    values = batch.column("value").to_pylist()
    values[1] = b'{"retries": "many"}'
    arrays = [
        pa.array(values, pa.binary()) if name == "value" else batch.column(name)
        for name in RECORD_SCHEMA.names
    ]
    with pytest.raises(RecordDecodeError, match="row 1 of 2"):
        batch_to_records(pa.RecordBatch.from_arrays(arrays, schema=RECORD_SCHEMA))


def test_decode_names_an_unknown_intent():
    good = Record(ValueType.JOB, JobIntent.CREATED, JobRecordValue(), RecordType.EVENT)
    batch = records_to_batch([good])
    arrays = [
        pa.array([99], pa.int8()) if name == "intent" else batch.column(name)
        for name in RECORD_SCHEMA.names
    ]
    with pytest.raises(RecordDecodeError, match="intent=99"):
        batch_to_records(pa.RecordBatch.from_arrays(arrays, schema=RECORD_SCHEMA))


def test_keys_carry_their_partition():
    key = encode_key(7, 12345)
    assert partition_of_key(key) == 7
    assert key - (7 << 51) == 12345


def test_record_pickles():
    import pickle

    record = Record(
        ValueType.JOB, JobIntent.CREATED, JobRecordValue(type="x"), RecordType.EVENT, key=5
    )
    assert pickle.loads(pickle.dumps(record)) == record

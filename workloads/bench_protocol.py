"""`raybee bench protocol`: the record codec, and the value encodings it was chosen between."""

import argparse
import json
import time

import msgpack

from raybee.partitions.protocol import (
    JobIntent,
    JobRecordValue,
    Record,
    RecordType,
    ValueType,
    batch_to_records,
    records_to_batch,
)

BATCH_RECORDS = 100


def _sample_value() -> JobRecordValue:
    return JobRecordValue(
        type="payment",
        worker="worker-1",
        retries=3,
        deadline_ms=1_790_000_000_000,
        custom_headers={"method": "card"},
        variables={"orderId": 1234, "amount": 99.5, "items": ["apple", "pear"], "note": "x" * 40},
        element_id="charge",
        element_instance_key=2251799813685249,
        bpmn_process_id="order-process",
        process_definition_key=2251799813685250,
        process_instance_key=2251799813685251,
    )


def _rate(fn, count: int, seconds_min: float) -> float:
    """Best of three timed runs of fn() repeated until seconds_min passed; count items per call."""
    best = 0.0
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds_min:
            fn()
            calls += 1
        best = max(best, calls * count / elapsed)
    return best


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench protocol")
    parser.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    opts = parser.parse_args(args)
    value = _sample_value()
    records = [
        Record(ValueType.JOB, JobIntent.CREATED, value, RecordType.EVENT, key=i, position=i)
        for i in range(BATCH_RECORDS)
    ]
    batch = records_to_batch(records)
    as_json = value.model_dump_json().encode()
    as_msgpack = msgpack.packb(value.model_dump())
    s = opts.seconds
    return {
        "value_bytes_json": len(as_json),
        "value_bytes_msgpack": len(as_msgpack),
        "value_encode_per_s_pydantic_json": _rate(lambda: value.model_dump_json(), 1, s),
        "value_decode_per_s_pydantic_json": _rate(
            lambda: JobRecordValue.model_validate_json(as_json), 1, s
        ),
        "value_encode_per_s_msgpack": _rate(lambda: msgpack.packb(value.model_dump()), 1, s),
        "value_decode_per_s_msgpack": _rate(
            lambda: JobRecordValue.model_validate(msgpack.unpackb(as_msgpack)), 1, s
        ),
        "value_encode_per_s_stdlib_json": _rate(lambda: json.dumps(value.model_dump()), 1, s),
        "value_decode_per_s_stdlib_json": _rate(
            lambda: JobRecordValue.model_validate(json.loads(as_json)), 1, s
        ),
        "batch_encode_records_per_s": _rate(lambda: records_to_batch(records), BATCH_RECORDS, s),
        "batch_decode_records_per_s": _rate(lambda: batch_to_records(batch), BATCH_RECORDS, s),
        "record_construct_per_s": _rate(
            lambda: Record(ValueType.JOB, JobIntent.CREATED, value, RecordType.EVENT, key=1), 1, s
        ),
    }

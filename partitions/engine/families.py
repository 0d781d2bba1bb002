"""The engine's column families: every piece of partition state, declared once.

Values of entities are their record value models, stored as the same JSON the log carries.
"""

from raybee.partitions.protocol import IncidentRecordValue, JobRecordValue, RecordValue
from raybee.state import INT_KEY, INT_VALUE, STR_KEY, STR_VALUE, ColumnFamily, ValueCodec, tuple_key

EMPTY = b""


def model_codec(model: type[RecordValue]) -> ValueCodec:
    serializer = model.__pydantic_serializer__

    def encode(value: RecordValue) -> bytes:
        if type(value) is not model:
            raise TypeError(f"expected a {model.__name__}, got {type(value).__name__}")
        return serializer.to_json(value)

    return ValueCodec(model.__name__, encode, model.model_validate_json)


def _empty(value: bytes) -> bytes:
    if value != EMPTY:
        raise ValueError("index families hold empty values")
    return value


EMPTY_VALUE = ValueCodec("empty", _empty, bytes)

# Partition bookkeeping: "last_processed_position", "next_key".
POSITIONS = ColumnFamily("positions", STR_KEY, INT_VALUE)
# Jobs: the job itself, its lifecycle state, and indexes for activation, timeouts and back-off.
JOBS = ColumnFamily("jobs", INT_KEY, model_codec(JobRecordValue))
JOB_STATES = ColumnFamily("job_states", INT_KEY, STR_VALUE)
JOBS_ACTIVATABLE = ColumnFamily("jobs_activatable", tuple_key(str, int), EMPTY_VALUE)
JOB_DEADLINES = ColumnFamily("job_deadlines", tuple_key(int, int), EMPTY_VALUE)
JOB_BACKOFFS = ColumnFamily("job_backoffs", tuple_key(int, int), EMPTY_VALUE)
# Incidents, and the incident open on a job (at most one).
INCIDENTS = ColumnFamily("incidents", INT_KEY, model_codec(IncidentRecordValue))
JOB_INCIDENTS = ColumnFamily("job_incidents", INT_KEY, INT_VALUE)

ENGINE_FAMILIES = (
    POSITIONS,
    JOBS,
    JOB_STATES,
    JOBS_ACTIVATABLE,
    JOB_DEADLINES,
    JOB_BACKOFFS,
    INCIDENTS,
    JOB_INCIDENTS,
)

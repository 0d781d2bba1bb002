"""The engine's column families: every piece of partition state, declared once.

Values of entities are their record value models, stored as the same JSON the log carries.
"""

from raybee.partitions.protocol import (
    DeploymentRecordValue,
    IncidentRecordValue,
    JobRecordValue,
    MessageRecordValue,
    MessageStartEventSubscriptionRecordValue,
    MessageSubscriptionRecordValue,
    ProcessRecordValue,
    RecordValue,
    TimerRecordValue,
)
from raybee.state import (
    INT_KEY,
    INT_VALUE,
    JSON_VALUE,
    STR_KEY,
    ColumnFamily,
    ValueCodec,
    tuple_key,
)

from .bpmn_entries import ELEMENT_INSTANCE_ENTRY, SCOPE_VARIABLES

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
# Jobs: the job with its lifecycle state, and indexes for activation, timeouts and back-off.
# State and job share one value (a state byte, then the job's JSON): every job command reads
# both, and one key instead of two halves the reads and writes of a lifecycle (measured).
JOB_STATE_CODES = {"ACTIVATABLE": b"A", "ACTIVATED": b"T", "FAILED": b"F", "ERROR_THROWN": b"E"}
_JOB_STATES_BY_CODE = {code[0]: name for name, code in JOB_STATE_CODES.items()}
_job_serializer = JobRecordValue.__pydantic_serializer__


def _encode_job_entry(entry: tuple[str, JobRecordValue]) -> bytes:
    if type(entry) is not tuple or len(entry) != 2 or type(entry[1]) is not JobRecordValue:
        raise TypeError(f"expected a (state, JobRecordValue) pair, got {type(entry).__name__}")
    state, job = entry
    return JOB_STATE_CODES[state] + _job_serializer.to_json(job)


def _decode_job_entry(data: bytes) -> tuple[str, JobRecordValue]:
    return _JOB_STATES_BY_CODE[data[0]], JobRecordValue.model_validate_json(data[1:])


JOB_ENTRY = ValueCodec("job_entry", _encode_job_entry, _decode_job_entry)
JOBS = ColumnFamily("jobs", INT_KEY, JOB_ENTRY)
JOBS_ACTIVATABLE = ColumnFamily("jobs_activatable", tuple_key(str, int), EMPTY_VALUE)
JOB_DEADLINES = ColumnFamily("job_deadlines", tuple_key(int, int), EMPTY_VALUE)
JOB_BACKOFFS = ColumnFamily("job_backoffs", tuple_key(int, int), EMPTY_VALUE)
# Incidents, and the incident open on a job (at most one).
INCIDENTS = ColumnFamily("incidents", INT_KEY, model_codec(IncidentRecordValue))
JOB_INCIDENTS = ColumnFamily("job_incidents", INT_KEY, INT_VALUE)

ENGINE_FAMILIES = (
    POSITIONS,
    JOBS,
    JOBS_ACTIVATABLE,
    JOB_DEADLINES,
    JOB_BACKOFFS,
    INCIDENTS,
    JOB_INCIDENTS,
)

# ---------------------------------------------------------------------- BPMN
# Deployed processes: key -> the process (metadata and its resource); (bpmn process id,
# version) -> key; bpmn process id -> key of its latest version. Deployments are kept by key:
# what partition 1 must distribute to the others (the distribution reads them from here).
PROCESSES = ColumnFamily("processes", INT_KEY, model_codec(ProcessRecordValue))
PROCESS_VERSIONS = ColumnFamily("process_versions", tuple_key(str, int), INT_VALUE)
PROCESS_LATEST = ColumnFamily("process_latest", STR_KEY, INT_VALUE)
DEPLOYMENTS = ColumnFamily("deployments", INT_KEY, model_codec(DeploymentRecordValue))
# Element instances: one entry per instance (see stores/element_instances.py), and the children
# of each flow scope, for termination.
ELEMENT_INSTANCES = ColumnFamily("element_instances", INT_KEY, ELEMENT_INSTANCE_ENTRY)
ELEMENT_CHILDREN = ColumnFamily("element_children", tuple_key(int, int), EMPTY_VALUE)
# Variables: one document per scope (element instance key) -> {name: [key, value]}.
VARIABLES = ColumnFamily("variables", INT_KEY, SCOPE_VARIABLES)
# Process instances awaiting their result: process instance key -> the request to answer.
AWAITING_RESULTS = ColumnFamily("awaiting_results", INT_KEY, JSON_VALUE)
# The incident open on an element instance (not a job's: those are JOB_INCIDENTS).
ELEMENT_INCIDENTS = ColumnFamily("element_incidents", INT_KEY, INT_VALUE)

ENGINE_FAMILIES += (
    PROCESSES,
    PROCESS_VERSIONS,
    PROCESS_LATEST,
    DEPLOYMENTS,
    ELEMENT_INSTANCES,
    ELEMENT_CHILDREN,
    VARIABLES,
    AWAITING_RESULTS,
    ELEMENT_INCIDENTS,
)

# ---------------------------------------------------------------------- between partitions
# Sends to other partitions not acknowledged yet (engine/distribution.py): send key ->
# [next resend ms, receiving partition, value type, intent, command key, command value JSON],
# and (next resend ms, send key) for the due-work scan.
PENDING_SENDS = ColumnFamily("pending_sends", INT_KEY, JSON_VALUE)
SEND_RESENDS = ColumnFamily("send_resends", tuple_key(int, int), EMPTY_VALUE)
# Sends received from other partitions, with their answer, kept until they expire: send key ->
# [expires ms, rejected, rejection reason], and (expires ms, send key).
RECEIPTS = ColumnFamily("receipts", INT_KEY, JSON_VALUE)
RECEIPT_EXPIRIES = ColumnFamily("receipt_expiries", tuple_key(int, int), EMPTY_VALUE)

ENGINE_FAMILIES += (PENDING_SENDS, SEND_RESENDS, RECEIPTS, RECEIPT_EXPIRIES)

# ---------------------------------------------------------------------- timers
# Timers (stores/timers.py): key -> the timer; (due ms, key) for the due-work scan; (owner, key)
# where the owner is the element instance that waits (or, for a timer start event, the process
# definition key).
TIMERS = ColumnFamily("timers", INT_KEY, model_codec(TimerRecordValue))
TIMER_DUE_DATES = ColumnFamily("timer_due_dates", tuple_key(int, int), EMPTY_VALUE)
TIMERS_BY_OWNER = ColumnFamily("timers_by_owner", tuple_key(int, int), EMPTY_VALUE)

ENGINE_FAMILIES += (TIMERS, TIMER_DUE_DATES, TIMERS_BY_OWNER)

# ---------------------------------------------------------------------- messages
# On the partition of a correlation key (stores/messages.py): published messages until they
# expire, by name and correlation key (oldest first), by deadline, by message id; the processes
# (bpmn process ids) each message was correlated to.
MESSAGES = ColumnFamily("messages", INT_KEY, model_codec(MessageRecordValue))
MESSAGES_BY_NAME = ColumnFamily("messages_by_name", tuple_key(str, str, int), EMPTY_VALUE)
MESSAGE_DEADLINES = ColumnFamily("message_deadlines", tuple_key(int, int), EMPTY_VALUE)
MESSAGE_IDS = ColumnFamily("message_ids", tuple_key(str, str, str), INT_VALUE)
MESSAGE_CORRELATIONS = ColumnFamily("message_correlations", tuple_key(int, str), EMPTY_VALUE)
# Subscriptions registered here by the partitions of the waiting instances: (element instance
# key, message name) -> the subscription (its message_key is the message being correlated, or
# NO_KEY), and (message name, correlation key, element instance key).
MESSAGE_SUBSCRIPTIONS = ColumnFamily(
    "message_subscriptions", tuple_key(int, str), model_codec(MessageSubscriptionRecordValue)
)
MESSAGE_SUBSCRIPTIONS_BY_NAME = ColumnFamily(
    "message_subscriptions_by_name", tuple_key(str, str, int), EMPTY_VALUE
)
# Message start events of the latest version of each process, on every partition: (message
# name, bpmn process id) -> the subscription, and (bpmn process id, message name); the instance
# a correlation key started and that is still active: (bpmn process id, correlation key) ->
# process instance key, and the reverse.
MESSAGE_START_SUBSCRIPTIONS = ColumnFamily(
    "message_start_subscriptions",
    tuple_key(str, str),
    model_codec(MessageStartEventSubscriptionRecordValue),
)
MESSAGE_START_BY_PROCESS = ColumnFamily(
    "message_start_by_process", tuple_key(str, str), EMPTY_VALUE
)
MESSAGE_START_INSTANCES = ColumnFamily("message_start_instances", tuple_key(str, str), INT_VALUE)
MESSAGE_START_KEYS = ColumnFamily("message_start_keys", INT_KEY, JSON_VALUE)

ENGINE_FAMILIES += (
    MESSAGES,
    MESSAGES_BY_NAME,
    MESSAGE_DEADLINES,
    MESSAGE_IDS,
    MESSAGE_CORRELATIONS,
    MESSAGE_SUBSCRIPTIONS,
    MESSAGE_SUBSCRIPTIONS_BY_NAME,
    MESSAGE_START_SUBSCRIPTIONS,
    MESSAGE_START_BY_PROCESS,
    MESSAGE_START_INSTANCES,
    MESSAGE_START_KEYS,
)
# On the partition of the waiting instance (stores/subscriptions.py): (element instance key,
# message name) -> [the subscription, the send that registers it, the last message correlated].
PROCESS_SUBSCRIPTIONS = ColumnFamily("process_subscriptions", tuple_key(int, str), JSON_VALUE)

ENGINE_FAMILIES += (PROCESS_SUBSCRIPTIONS,)

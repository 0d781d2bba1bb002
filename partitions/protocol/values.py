"""Pydantic value models: the payload of a record, one model per value type.

Field names are snake_case versions of Zeebe's protocol names. Keys are int64 (-1 = none);
timestamps and deadlines are epoch milliseconds; durations carry their unit in the name.
Variables are JSON-compatible documents.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .enums import ValueType

NO_KEY = -1
DEFAULT_TENANT = "<default>"

Variables = dict[str, Any]


class RecordValue(BaseModel):
    # Values travel as JSON made by pydantic's Rust core: measured faster than msgpack + a dict
    # round trip (see docs/benchmarks.md). bytes go as base64 and inf/nan as JSON constants so
    # the encoding stays lossless.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        ser_json_inf_nan="constants",
    )


def evolve(value: RecordValue, **changes) -> RecordValue:
    """A copy of a value with some fields replaced, without re-validation: for the engine's
    own derived values (fields it copies from validated values). Several times cheaper than
    `model_copy(update=...)`, which the engine did per job per command (measured)."""
    fields = value.__dict__
    if not changes.keys() <= fields.keys():  # a subset test of the views: no set is built
        unknown = sorted(changes.keys() - fields.keys())
        raise AssertionError(f"{type(value).__name__} has no fields {unknown}")
    copy = _new_object(type(value))
    _set_attribute(copy, "__dict__", {**fields, **changes})
    _set_attribute(copy, "__pydantic_fields_set__", value.__pydantic_fields_set__ | changes.keys())
    _set_attribute(copy, "__pydantic_extra__", None)
    _set_attribute(copy, "__pydantic_private__", None)
    return copy


_new_object = object.__new__
_set_attribute = object.__setattr__


class JobRecordValue(RecordValue):
    type: str = ""
    worker: str = ""
    retries: int = 0
    deadline_ms: int = -1
    timeout_ms: int = -1
    retry_backoff_ms: int = 0
    recurring_time_ms: int = -1
    error_message: str = ""
    error_code: str = ""
    custom_headers: dict[str, str] = Field(default_factory=dict)
    variables: Variables = Field(default_factory=dict)
    element_id: str = ""
    element_instance_key: int = NO_KEY
    bpmn_process_id: str = ""
    process_definition_version: int = -1
    process_definition_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    tenant_id: str = DEFAULT_TENANT


class JobBatchRecordValue(RecordValue):
    type: str = ""
    worker: str = ""
    timeout_ms: int = 0
    max_jobs_to_activate: int = 0
    fetch_variables: list[str] = Field(default_factory=list)
    job_keys: list[int] = Field(default_factory=list)
    jobs: list[JobRecordValue] = Field(default_factory=list)
    truncated: bool = False
    tenant_ids: list[str] = Field(default_factory=lambda: [DEFAULT_TENANT])


class DeploymentResource(RecordValue):
    resource_name: str
    resource: bytes


class ProcessMetadata(RecordValue):
    bpmn_process_id: str
    version: int
    process_definition_key: int
    resource_name: str
    checksum: bytes = b""
    duplicate: bool = False
    tenant_id: str = DEFAULT_TENANT


class DeploymentRecordValue(RecordValue):
    resources: list[DeploymentResource] = Field(default_factory=list)
    processes_metadata: list[ProcessMetadata] = Field(default_factory=list)
    tenant_id: str = DEFAULT_TENANT


class ProcessRecordValue(RecordValue):
    bpmn_process_id: str
    version: int
    process_definition_key: int
    resource_name: str
    checksum: bytes = b""
    resource: bytes = b""
    tenant_id: str = DEFAULT_TENANT


class ProcessInstanceRecordValue(RecordValue):
    bpmn_process_id: str = ""
    version: int = -1
    process_definition_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    element_id: str = ""
    flow_scope_key: int = NO_KEY
    bpmn_element_type: str = ""
    bpmn_event_type: str = ""
    parent_process_instance_key: int = NO_KEY
    parent_element_instance_key: int = NO_KEY
    tenant_id: str = DEFAULT_TENANT


class ProcessInstanceCreationRecordValue(RecordValue):
    bpmn_process_id: str = ""
    version: int = -1
    process_definition_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    variables: Variables = Field(default_factory=dict)
    fetch_variables: list[str] = Field(default_factory=list)
    start_element_ids: list[str] = Field(default_factory=list)
    tenant_id: str = DEFAULT_TENANT
    # Set on the CREATED event of CREATE_WITH_AWAITING_RESULT: the instance's result answers
    # the request (request ids of the event) when it completes.
    awaiting_result: bool = False


class ProcessInstanceResultRecordValue(RecordValue):
    bpmn_process_id: str = ""
    version: int = -1
    process_definition_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    variables: Variables = Field(default_factory=dict)
    tenant_id: str = DEFAULT_TENANT


class VariableRecordValue(RecordValue):
    name: str
    value: Any = None
    scope_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    process_definition_key: int = NO_KEY
    bpmn_process_id: str = ""
    tenant_id: str = DEFAULT_TENANT


class VariableDocumentRecordValue(RecordValue):
    scope_key: int = NO_KEY
    update_semantics: str = "PROPAGATE"  # or "LOCAL"
    variables: Variables = Field(default_factory=dict)
    tenant_id: str = DEFAULT_TENANT


class MessageRecordValue(RecordValue):
    name: str = ""
    correlation_key: str = ""
    time_to_live_ms: int = 0
    message_id: str = ""
    variables: Variables = Field(default_factory=dict)
    deadline_ms: int = -1
    tenant_id: str = DEFAULT_TENANT


class MessageSubscriptionRecordValue(RecordValue):
    process_instance_key: int = NO_KEY
    element_instance_key: int = NO_KEY
    bpmn_process_id: str = ""
    message_name: str = ""
    correlation_key: str = ""
    message_key: int = NO_KEY
    variables: Variables = Field(default_factory=dict)
    interrupting: bool = True
    tenant_id: str = DEFAULT_TENANT


class ProcessMessageSubscriptionRecordValue(RecordValue):
    process_instance_key: int = NO_KEY
    element_instance_key: int = NO_KEY
    element_id: str = ""
    bpmn_process_id: str = ""
    message_name: str = ""
    correlation_key: str = ""
    message_key: int = NO_KEY
    variables: Variables = Field(default_factory=dict)
    interrupting: bool = True
    tenant_id: str = DEFAULT_TENANT


class MessageStartEventSubscriptionRecordValue(RecordValue):
    process_definition_key: int = NO_KEY
    bpmn_process_id: str = ""
    start_event_id: str = ""
    message_name: str = ""
    message_key: int = NO_KEY
    correlation_key: str = ""
    process_instance_key: int = NO_KEY
    variables: Variables = Field(default_factory=dict)
    tenant_id: str = DEFAULT_TENANT


class TimerRecordValue(RecordValue):
    element_instance_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    process_definition_key: int = NO_KEY
    due_date_ms: int = -1
    target_element_id: str = ""
    repetitions: int = 1
    tenant_id: str = DEFAULT_TENANT


class IncidentRecordValue(RecordValue):
    error_type: str = "UNKNOWN"
    error_message: str = ""
    bpmn_process_id: str = ""
    process_definition_key: int = NO_KEY
    process_instance_key: int = NO_KEY
    element_id: str = ""
    element_instance_key: int = NO_KEY
    job_key: int = NO_KEY
    variable_scope_key: int = NO_KEY
    tenant_id: str = DEFAULT_TENANT


class ErrorRecordValue(RecordValue):
    exception_message: str = ""
    stacktrace: str = ""
    error_event_position: int = -1
    process_instance_key: int = NO_KEY


class CommandDistributionRecordValue(RecordValue):
    """A command sent from one partition to another (the record key is the send key, drawn
    on the sender): the receiving partition, and the command carried (its value type, intent,
    key and value as the record codec's JSON). RECEIVED, ACKNOWLEDGE and ACKNOWLEDGED carry the
    receiver's answer: how it rejected the command (a RejectionType; NONE: it took it) and why;
    they and RESEND / RESENT carry no command value."""

    partition_id: int = -1
    value_type: int = -1
    intent: int = -1
    command_key: int = NO_KEY
    command_value: str = ""
    rejection_type: int = 0
    rejection_reason: str = ""


VALUE_MODELS: dict[ValueType, type[RecordValue]] = {
    ValueType.JOB: JobRecordValue,
    ValueType.DEPLOYMENT: DeploymentRecordValue,
    ValueType.PROCESS: ProcessRecordValue,
    ValueType.PROCESS_INSTANCE: ProcessInstanceRecordValue,
    ValueType.PROCESS_INSTANCE_CREATION: ProcessInstanceCreationRecordValue,
    ValueType.INCIDENT: IncidentRecordValue,
    ValueType.MESSAGE: MessageRecordValue,
    ValueType.MESSAGE_SUBSCRIPTION: MessageSubscriptionRecordValue,
    ValueType.PROCESS_MESSAGE_SUBSCRIPTION: ProcessMessageSubscriptionRecordValue,
    ValueType.MESSAGE_START_EVENT_SUBSCRIPTION: MessageStartEventSubscriptionRecordValue,
    ValueType.JOB_BATCH: JobBatchRecordValue,
    ValueType.TIMER: TimerRecordValue,
    ValueType.VARIABLE: VariableRecordValue,
    ValueType.VARIABLE_DOCUMENT: VariableDocumentRecordValue,
    ValueType.ERROR: ErrorRecordValue,
    ValueType.PROCESS_INSTANCE_RESULT: ProcessInstanceResultRecordValue,
    ValueType.COMMAND_DISTRIBUTION: CommandDistributionRecordValue,
}
assert set(VALUE_MODELS) == set(ValueType), "every value type has a value model"
MODEL_VALUE_TYPES: dict[type[RecordValue], ValueType] = {m: vt for vt, m in VALUE_MODELS.items()}

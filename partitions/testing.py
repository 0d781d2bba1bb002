"""Helpers for tests and benchmarks: command builders and a fake clock."""

from raybee.partitions.protocol import (
    IncidentIntent,
    IncidentRecordValue,
    JobBatchIntent,
    JobBatchRecordValue,
    JobIntent,
    JobRecordValue,
    Record,
    ValueType,
)


def create(job_type="payment", retries=3, **fields) -> Record:
    return Record(
        ValueType.JOB, JobIntent.CREATE, JobRecordValue(type=job_type, retries=retries, **fields)
    )


def activate(job_type="payment", max_jobs=10, timeout_ms=1000, worker="w", **fields) -> Record:
    value = JobBatchRecordValue(
        type=job_type, worker=worker, max_jobs_to_activate=max_jobs, timeout_ms=timeout_ms, **fields
    )
    return Record(ValueType.JOB_BATCH, JobBatchIntent.ACTIVATE, value)


def job_command(intent: JobIntent, key: int, **fields) -> Record:
    return Record(ValueType.JOB, intent, JobRecordValue(**fields), key=key)


def resolve(incident_key: int) -> Record:
    return Record(
        ValueType.INCIDENT, IncidentIntent.RESOLVE, IncidentRecordValue(), key=incident_key
    )


class FakeClock:
    """Milliseconds that move only when a test says so."""

    def __init__(self, start_ms: int = 1_700_000_000_000):
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        assert ms >= 0
        self.now_ms += ms


def check_job_indexes(store) -> None:
    """Fail, naming every problem, unless each job of the store's committed state has exactly
    the one index entry its state implies and no index entry outlives its job."""
    from raybee.partitions.engine.stores.jobs import index_problems

    problems = index_problems(store.view())
    assert not problems, "job indexes disagree with the jobs:\n" + "\n".join(problems)


# ---------------------------------------------------------------------- BPMN
def deploy(*resources: tuple[str, bytes | str]) -> Record:
    """DEPLOYMENT CREATE of (resource name, BPMN XML) pairs."""
    from raybee.partitions.protocol import (
        DeploymentIntent,
        DeploymentRecordValue,
        DeploymentResource,
    )

    value = DeploymentRecordValue(
        resources=[
            DeploymentResource(
                resource_name=name, resource=xml.encode() if isinstance(xml, str) else xml
            )
            for name, xml in resources
        ]
    )
    return Record(ValueType.DEPLOYMENT, DeploymentIntent.CREATE, value)


def create_instance(
    bpmn_process_id: str = "",
    variables: dict | None = None,
    version: int = -1,
    process_definition_key: int = -1,
    await_result: bool = False,
    fetch_variables: list[str] | None = None,
) -> Record:
    """PROCESS_INSTANCE_CREATION CREATE (or CREATE_WITH_AWAITING_RESULT), by bpmn process id
    (latest version unless `version`) or by `process_definition_key`."""
    from raybee.partitions.protocol import (
        ProcessInstanceCreationIntent,
        ProcessInstanceCreationRecordValue,
    )

    intent = (
        ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT
        if await_result
        else ProcessInstanceCreationIntent.CREATE
    )
    value = ProcessInstanceCreationRecordValue(
        bpmn_process_id=bpmn_process_id,
        version=version,
        process_definition_key=process_definition_key,
        variables=variables or {},
        fetch_variables=fetch_variables or [],
    )
    return Record(ValueType.PROCESS_INSTANCE_CREATION, intent, value)


def cancel_instance(process_instance_key: int) -> Record:
    from raybee.partitions.protocol import ProcessInstanceIntent, ProcessInstanceRecordValue

    return Record(
        ValueType.PROCESS_INSTANCE,
        ProcessInstanceIntent.CANCEL,
        ProcessInstanceRecordValue(),
        key=process_instance_key,
    )


def set_variables(scope_key: int, variables: dict, local: bool = False) -> Record:
    """VARIABLE_DOCUMENT UPDATE on an element instance (LOCAL or PROPAGATE)."""
    from raybee.partitions.protocol import VariableDocumentIntent, VariableDocumentRecordValue

    value = VariableDocumentRecordValue(
        scope_key=scope_key,
        update_semantics="LOCAL" if local else "PROPAGATE",
        variables=variables,
    )
    return Record(ValueType.VARIABLE_DOCUMENT, VariableDocumentIntent.UPDATE, value)


BPMN_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="definitions"'
    ' targetNamespace="http://raybee.test">\n'
)


def bpmn_process(process_id: str, body: str, extra: str = "") -> str:
    """A BPMN document holding one executable process; `body` is its elements (written with the
    `bpmn:` and `zeebe:` prefixes), `extra` root elements (messages, errors)."""
    return (
        f'{BPMN_HEADER}<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n'
        f"</bpmn:process>\n{extra}</bpmn:definitions>\n"
    )


def one_task_process(process_id: str = "one-task", job_type: str = "work") -> str:
    """start -> a service task of `job_type` -> end: the benchmark's process."""
    return bpmn_process(
        process_id,
        '<bpmn:startEvent id="start"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>'
        '<bpmn:serviceTask id="task"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/></bpmn:extensionElements></bpmn:serviceTask>'
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>'
        '<bpmn:endEvent id="end"/>',
    )


# ---------------------------------------------------------------------- messages and events
def publish(
    name: str,
    correlation_key: str = "",
    variables: dict | None = None,
    time_to_live_ms: int = 60_000,
    message_id: str = "",
) -> Record:
    """MESSAGE PUBLISH (to the partition of the correlation key)."""
    from raybee.partitions.protocol import MessageIntent, MessageRecordValue

    value = MessageRecordValue(
        name=name,
        correlation_key=correlation_key,
        time_to_live_ms=time_to_live_ms,
        message_id=message_id,
        variables=variables or {},
    )
    return Record(ValueType.MESSAGE, MessageIntent.PUBLISH, value)


def bpmn_message(message_id: str, name: str, correlation_key: str | None = "=key") -> str:
    """A <bpmn:message> root element (for `bpmn_process(..., extra=...)`); no correlation key
    for a message that only starts processes."""
    if correlation_key is None:
        return f'<bpmn:message id="{message_id}" name="{name}"/>'
    return (
        f'<bpmn:message id="{message_id}" name="{name}"><bpmn:extensionElements>'
        f'<zeebe:subscription correlationKey="{correlation_key}"/></bpmn:extensionElements>'
        f"</bpmn:message>"
    )


def bpmn_error(error_id: str, code: str) -> str:
    """A <bpmn:error> root element."""
    return f'<bpmn:error id="{error_id}" errorCode="{code}"/>'


def timer_definition(kind: str, value: str) -> str:
    """A timerEventDefinition: kind is timeDate, timeDuration or timeCycle."""
    return (
        f"<bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>"
    )


def message_definition(message_ref: str) -> str:
    return f'<bpmn:messageEventDefinition messageRef="{message_ref}"/>'


def error_definition(error_ref: str | None = None) -> str:
    ref = f' errorRef="{error_ref}"' if error_ref else ""
    return f"<bpmn:errorEventDefinition{ref}/>"

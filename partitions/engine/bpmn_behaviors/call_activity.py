"""Call activities and what happens when a process instance ends.

A call activity creates a child instance of the latest version of the called process (its
child's ELEMENT_ACTIVATING names the call activity as its parent element instance), with the
variables the call activity sees (`propagateAllParentVariables`, the default) or only its local
ones (those its input mappings made). The call activity waits; when the child completes, the
call activity completes with the child's variables: set locally when it has output mappings (the
mappings read them, and only what they map goes up), else propagated from it when
`propagateAllChildVariables` (the default) says so. Terminating the call activity terminates
the child first (executor.terminate). Cancelling a child instance directly is refused.

A process instance created with CREATE_WITH_AWAITING_RESULT is answered when it completes with
a PROCESS_INSTANCE_RESULT record (its variables, or the ones asked for) - a response only, not
a record of the log. If it is terminated instead, the request is answered with a rejection.
"""

from raybee.partitions.protocol import (
    NO_KEY,
    ProcessInstanceCreationIntent,
    ProcessInstanceCreationRecordValue,
    ProcessInstanceIntent,
    ProcessInstanceRecordValue,
    ProcessInstanceResultIntent,
    ProcessInstanceResultRecordValue,
    Record,
    RecordType,
    RejectionType,
    ValueType,
)

from ..bpmn_entries import ElementState, replaced
from .elements import Automatic
from .expressions import CALLED_ELEMENT_ERROR, StepFailed, evaluate_string
from .variables import set_local

_INSTANCE = ProcessInstanceRecordValue()


class CallActivity(Automatic):
    def activate(self, executor, key, node, process) -> None:
        called = node.called_element
        view = executor.variables_of(key)
        process_id = evaluate_string(
            process, called.process_id, view, executor.now, "called process id"
        )
        child = executor.state.processes.latest(process_id)
        if child is None:
            raise StepFailed(
                CALLED_ELEMENT_ERROR,
                f"Expected process with BPMN process id '{process_id}' to be deployed, but not "
                f"found.",
            )
        if child.model.process.scope.none_start_event_id is None:
            raise StepFailed(
                CALLED_ELEMENT_ERROR,
                f"Expected process '{process_id}' to have a none start event to be called, but "
                f"it starts only by message or timer",
            )
        local = executor.state.variables.local(key)
        variables = view if called.propagate_all_parent_variables else dict(local)
        parent = executor.instances.get(key).value
        child_key = executor.ctx.next_key()
        executor.ctx.append_event(
            child_key,
            ProcessInstanceIntent.ELEMENT_ACTIVATING,
            instance_value(child, child_key, parent.process_instance_key, key),
        )
        set_local(executor, child_key, variables)
        executor.activated(key)
        executor.later(executor.continue_activation, child_key)


CALL_ACTIVITY = CallActivity()


def instance_value(
    process, key: int, parent_instance_key: int = NO_KEY, parent_element_key: int = NO_KEY
) -> ProcessInstanceRecordValue:
    """The record value of a new process instance (the PROCESS element instance)."""
    return replaced(
        _INSTANCE,
        bpmn_process_id=process.bpmn_process_id,
        version=process.version,
        process_definition_key=process.key,
        process_instance_key=key,
        element_id=process.bpmn_process_id,
        flow_scope_key=NO_KEY,
        bpmn_element_type="PROCESS",
        bpmn_event_type="UNSPECIFIED",
        parent_process_instance_key=parent_instance_key,
        parent_element_instance_key=parent_element_key,
        tenant_id=process.tenant_id,
    )


def process_completed(executor, key: int, entry, variables: dict, awaiting) -> None:
    """After a process instance's ELEMENT_COMPLETED: answer who awaits its result; complete
    the call activity that created it."""
    value = entry.value
    if awaiting is not None:
        fetched = awaiting.fetch_variables
        if fetched:
            variables = {name: variables[name] for name in fetched if name in variables}
        result = ProcessInstanceResultRecordValue(
            bpmn_process_id=value.bpmn_process_id,
            version=value.version,
            process_definition_key=value.process_definition_key,
            process_instance_key=key,
            variables=variables,
            tenant_id=value.tenant_id,
        )
        _answer(executor, awaiting, ValueType.PROCESS_INSTANCE_RESULT, key, result)
    parent_key = value.parent_element_instance_key
    if parent_key != NO_KEY:
        parent = executor.instances.get(parent_key)
        if parent is not None and parent.state == ElementState.ACTIVATED:
            executor.later(complete_call_activity, executor, parent_key, variables)


def complete_call_activity(executor, key: int, child_variables: dict) -> None:
    entry = executor.instances.get(key)
    if entry is None or entry.state != ElementState.ACTIVATED:
        return
    node = executor.process_of(entry).node(entry.value.element_id)
    if node.io_mapping.outputs or node.called_element.propagate_all_child_variables:
        executor.complete(key, child_variables)
    else:
        executor.complete(key)


def process_terminated(executor, key: int, entry, awaiting) -> None:
    if awaiting is not None:
        value = entry.value
        _answer(
            executor,
            awaiting,
            ValueType.PROCESS_INSTANCE_CREATION,
            key,
            ProcessInstanceCreationRecordValue(
                bpmn_process_id=value.bpmn_process_id,
                version=value.version,
                process_definition_key=value.process_definition_key,
                process_instance_key=key,
            ),
            rejection=(
                f"Expected process instance '{key}' to complete and give its result, but it "
                f"was terminated"
            ),
        )


def _answer(executor, awaiting, value_type, key, value, rejection: str = "") -> None:
    command = executor.ctx.command
    record = Record(
        value_type,
        ProcessInstanceCreationIntent.CREATE_WITH_AWAITING_RESULT
        if rejection
        else ProcessInstanceResultIntent.COMPLETED,
        value,
        RecordType.COMMAND_REJECTION if rejection else RecordType.EVENT,
        key=key,
        timestamp_ms=command.timestamp_ms,
        partition_id=command.partition_id,
        rejection_type=RejectionType.INVALID_STATE if rejection else RejectionType.NONE,
        rejection_reason=rejection,
        request_stream_id=awaiting.request_stream_id,
        request_id=awaiting.request_id,
    )
    executor.ctx.respond_to(awaiting.request_stream_id, awaiting.request_id, record)

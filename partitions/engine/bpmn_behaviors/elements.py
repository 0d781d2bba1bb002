"""What each kind of element does when it is activated (and, for a few, after it completed).

`behaviour_of(node)` picks the behaviour: an element with a job definition runs as a job
(service, send, user, business rule tasks; message throw and end events); otherwise by element
type (and event type for end and start events). A behaviour's `activate` runs after the
element's input mappings; it either stops in a wait state (ACTIVATED) or completes the element
at once. It raises StepFailed to leave an incident.

What an element waits for besides its own work (messages, timers, boundary events, event
sub-processes) is events.py's: prepared before the behaviour runs, opened when the element is
ACTIVATED. Catch events that something triggered (a boundary event, an event after an
event-based gateway, a start event of an event sub-process or of a process started by a
message or timer) find the trigger's variables in `executor.triggers` and complete with them.
"""

from raybee.partitions.engine.bpmn import BpmnElementType, BpmnEventType
from raybee.partitions.engine.feel import to_json_value

from ..bpmn_entries import ElementState
from .errors import throw_error
from .expressions import (
    CONDITION_ERROR,
    EXTRACT_VALUE_ERROR,
    StepFailed,
    condition_holds,
    evaluate,
    evaluate_string,
)
from .jobs import create_job

E = BpmnElementType


class Automatic:
    """None events, manual and undefined tasks: activated and completed at once."""

    def activate(self, executor, key, node, process) -> None:
        executor.activated(key)
        executor.complete(key)

    def after_completed(self, executor, key, entry, node, process) -> bool:
        """True when the behaviour took care of what follows the completion (no flows)."""
        return False


class Job(Automatic):
    def activate(self, executor, key, node, process) -> None:
        create_job(executor, key, node, process)


class Script(Automatic):
    """A FEEL script: its result is the element's result variable (propagated like a job's
    variables, or mapped by output mappings)."""

    def activate(self, executor, key, node, process) -> None:
        script = node.script
        value = evaluate(process, script.expression, executor.variables_of(key), executor.now)
        executor.activated(key)
        executor.complete(key, {script.result_variable: to_json_value(value)})


class Scope(Automatic):
    """Process, embedded sub-process and event sub-process: activated, then their start event -
    the none start event, the message or timer start event a process instance was started at,
    or an event sub-process's one start event (which completes with the trigger's
    variables)."""

    def activate(self, executor, key, node, process) -> None:
        entry = executor.activated(key)
        kind = node.element_type
        if kind is E.EVENT_SUB_PROCESS:
            start = node.scope.start_event_id
            variables = executor.triggers.pop((entry.value.flow_scope_key, node.id), {})
            executor.triggers[(key, start)] = variables
        elif kind is E.PROCESS:
            start = executor.start_events.pop(key, None) or node.scope.none_start_event_id
        else:
            start = node.scope.none_start_event_id
        if start is None:
            raise StepFailed(
                EXTRACT_VALUE_ERROR, f"Expected '{node.id}' to have a none start event"
            )  # pragma: no cover  (deployment refuses such a sub-process)
        executor.activate_later(key, start)


class Wait(Automatic):
    """Waits for what it holds (events.py); an event after an event-based gateway that was
    triggered completes at once with the trigger's variables."""

    def activate(self, executor, key, node, process) -> None:
        entry = executor.activated(key)
        variables = executor.triggers.pop((entry.value.flow_scope_key, node.id), None)
        if variables is not None:
            executor.complete(key, variables or None)


class Triggered(Automatic):
    """Boundary events and start events other than none start events: activated by their
    trigger, and completed with its variables (none when the activation is run again after an
    incident: the trigger's variables went with the command that failed)."""

    def activate(self, executor, key, node, process) -> None:
        entry = executor.activated(key)
        variables = executor.triggers.pop((entry.value.flow_scope_key, node.id), None)
        executor.complete(key, variables or None)


class TerminateEnd(Automatic):
    """Completes, then terminates every other element of its flow scope, which completes."""

    def after_completed(self, executor, key, entry, node, process) -> bool:
        scope_key = entry.value.flow_scope_key
        for child in executor.instances.children(scope_key):
            executor.terminate(child)
        scope = executor.instances.get(scope_key)
        if scope is not None and scope.state == ElementState.ACTIVATED:
            executor.complete(scope_key)
        return True


class ErrorEnd(Automatic):
    def activate(self, executor, key, node, process) -> None:
        code = node.error.error_code
        view = executor.variables_of(key)
        throw_error(executor, key, evaluate_string(process, code, view, executor.now, "error code"))


class ExclusiveGateway(Automatic):
    """Takes the first outgoing flow (in document order) whose condition holds, else the
    default flow, else an incident (CONDITION_ERROR)."""

    def activate(self, executor, key, node, process) -> None:
        flows = process.outgoing(node.id)
        if len(flows) > 1:
            view = executor.variables_of(key)
            chosen = None
            for flow in flows:
                if flow.id == node.default_flow_id:
                    continue
                if flow.condition is None or condition_holds(
                    process, flow.condition, view, executor.now, "condition"
                ):
                    chosen = flow
                    break
            flows = (chosen,) if chosen else _default_or_incident(node, process)
        executor.activated(key)
        executor.complete(key, flows=flows)


class InclusiveGateway(Automatic):
    """Takes every outgoing flow whose condition holds (a flow without one always), else the
    default flow, else an incident. Joining is the executor's (see executor.py)."""

    def activate(self, executor, key, node, process) -> None:
        flows = process.outgoing(node.id)
        if len(flows) > 1:
            view = executor.variables_of(key)
            chosen = tuple(
                flow
                for flow in flows
                if flow.id != node.default_flow_id
                and (
                    flow.condition is None
                    or condition_holds(process, flow.condition, view, executor.now, "condition")
                )
            )
            flows = chosen or _default_or_incident(node, process)
        executor.activated(key)
        executor.complete(key, flows=flows)


def _default_or_incident(node, process):
    if node.default_flow_id is not None:
        return (process.flow(node.default_flow_id),)
    raise StepFailed(
        CONDITION_ERROR,
        f"Expected at least one condition of the outgoing flows of '{node.id}' to evaluate to "
        f"true, or a default flow, but none held and there is no default flow",
    )


AUTOMATIC, JOB, WAIT, TRIGGERED = Automatic(), Job(), Wait(), Triggered()
_BY_TYPE = {
    E.PROCESS: Scope(),
    E.SUB_PROCESS: Scope(),
    E.START_EVENT: AUTOMATIC,
    E.INTERMEDIATE_THROW_EVENT: AUTOMATIC,
    E.MANUAL_TASK: AUTOMATIC,
    E.TASK: AUTOMATIC,
    E.SCRIPT_TASK: Script(),
    E.EXCLUSIVE_GATEWAY: ExclusiveGateway(),
    E.INCLUSIVE_GATEWAY: InclusiveGateway(),
    E.PARALLEL_GATEWAY: AUTOMATIC,
    E.RECEIVE_TASK: WAIT,
    E.INTERMEDIATE_CATCH_EVENT: WAIT,
    E.EVENT_BASED_GATEWAY: WAIT,
    E.BOUNDARY_EVENT: TRIGGERED,
    E.EVENT_SUB_PROCESS: Scope(),
}
_END_EVENTS = {
    BpmnEventType.NONE: AUTOMATIC,
    BpmnEventType.TERMINATE: TerminateEnd(),
    BpmnEventType.ERROR: ErrorEnd(),
}


def behaviour_of(node) -> Automatic:
    if node.job is not None:
        return JOB
    kind = node.element_type
    if kind is E.END_EVENT:
        return _END_EVENTS[node.event_type]
    if kind is E.CALL_ACTIVITY:
        from .call_activity import CALL_ACTIVITY

        return CALL_ACTIVITY
    if kind is E.START_EVENT and node.event_type is not BpmnEventType.NONE:
        return TRIGGERED
    return _BY_TYPE[kind]

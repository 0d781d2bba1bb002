"""What each kind of element does when it is activated (and, for a few, after it completed).

`behaviour_of(node)` picks the behaviour: an element with a job definition runs as a job
(service, send, user, business rule tasks; message throw and end events); otherwise by element
type (and event type for end events). A behaviour's `activate` runs after the element's input
mappings; it either stops in a wait state (ACTIVATED) or completes the element at once. It
raises StepFailed to leave an incident.

Wait states of the next step of issue 8 (receive tasks, message and timer catch events,
event-based gateways) are ACTIVATED here and register what waits for them through
`WAITS_ON_ACTIVATION` (a subscription, a timer); nothing is registered yet, so they wait
forever. Scopes call `ON_SCOPE_ACTIVATED` hooks (event sub-processes will open their start
events there).
"""

from collections.abc import Callable

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

# element type -> hooks(executor, key, node, process) run once the element is ACTIVATED.
WAITS_ON_ACTIVATION: dict[BpmnElementType, list[Callable]] = {}
# hooks(executor, key, node, process) run once a scope (process, sub-process) is ACTIVATED.
ON_SCOPE_ACTIVATED: list[Callable] = []


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
    """Process and embedded sub-process: activated, then their none start event."""

    def activate(self, executor, key, node, process) -> None:
        executor.activated(key)
        for hook in ON_SCOPE_ACTIVATED:
            hook(executor, key, node, process)
        start = node.scope.none_start_event_id
        if start is None:
            raise StepFailed(
                EXTRACT_VALUE_ERROR, f"Expected '{node.id}' to have a none start event"
            )  # pragma: no cover  (deployment refuses such a sub-process)
        executor.activate_later(key, start)


class Wait(Automatic):
    """Activated, then waits for what registered itself in WAITS_ON_ACTIVATION."""

    def activate(self, executor, key, node, process) -> None:
        executor.activated(key)
        for hook in WAITS_ON_ACTIVATION.get(node.element_type, ()):
            hook(executor, key, node, process)


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


class NotActivated(Automatic):
    """Elements no flow leads to (boundary events, event sub-processes, message and timer
    start events): activated by their triggers, which are the next step of issue 8."""

    def activate(self, executor, key, node, process) -> None:
        raise AssertionError(f"'{node.id}' ({node.element_type}) is not activated by a flow")


AUTOMATIC, JOB, WAIT = Automatic(), Job(), Wait()
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
    E.BOUNDARY_EVENT: NotActivated(),
    E.EVENT_SUB_PROCESS: NotActivated(),
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
        return _BY_TYPE[E.BOUNDARY_EVENT]
    return _BY_TYPE[kind]

"""BPMN errors: thrown by a job worker (JOB THROW_ERROR) or by an error end event, caught by
the nearest matching catch event in the scope chain of the element that threw it.

`find_catch_event` walks up from the throwing element instance: at each instance it looks at
- the error start events of the event sub-processes directly inside it (a scope: process,
  sub-process, event sub-process) - they are nearer to the thrower than the scope's own
  boundary events;
- its error boundary events (an activity; for a multi-instance activity, its body's, never the
  inner instance's);
and, at a process instance called by a call activity, goes on with the call activity in the
parent process (as Zeebe does). At each place an exact error code is preferred to a catch-all
(an error event without a code). Nothing found: the error is unhandled - an
UNHANDLED_ERROR_EVENT incident (on the job for a job's error, on the end event for an error end
event).

Caught: error catch events always interrupt. A boundary event terminates its activity and is
activated in the activity's flow scope; an event sub-process terminates the rest of its scope
and is activated in it (events.py). The variables of a job's THROW_ERROR go to the catch event
(local with output mappings, else propagated), as a message's do.
"""

from dataclasses import dataclass

from raybee.partitions.engine.bpmn import BpmnElementType, BpmnEventType
from raybee.partitions.protocol import NO_KEY, JobRecordValue

from .expressions import UNHANDLED_ERROR_EVENT, StepFailed

BODY = BpmnElementType.MULTI_INSTANCE_BODY.value


@dataclass(frozen=True)
class CatchEvent:
    """Where an error is caught: the catch event's id and the element instance it is
    attached to (a boundary event) or the scope that holds it (an event sub-process)."""

    element_id: str
    scope_key: int


def _matching(process, event_ids, error_code: str):
    catch_all = None
    for event_id in event_ids:
        event = process.node(event_id)
        if event.event_type is not BpmnEventType.ERROR or event.error is None:
            continue
        code = event.error.error_code
        if code is None:
            catch_all = catch_all or event
        elif code.static_value == error_code:
            return event
    return catch_all


def find_catch_event(state, element_instance_key: int, error_code: str) -> CatchEvent | None:
    """The catch event for `error_code` nearest to the element in its scope chain (walking up
    through call activities into parent processes), or None."""
    instances = state.element_instances
    key = element_instance_key
    # An error thrown inside an event sub-process is not caught by the event sub-processes of
    # the scope it runs in (that would start it again), only further up.
    from_event_sub_process = False
    while key != NO_KEY:
        entry = instances.get(key)
        if entry is None:
            return None
        value = entry.value
        process = state.processes.get(value.process_definition_key)
        node = process.node(value.element_id)
        is_body = value.bpmn_element_type == BODY
        if node.scope is not None and not is_body and not from_event_sub_process:
            event = _matching(process, node.scope.event_sub_process_start_event_ids, error_code)
            if event is not None:
                return CatchEvent(event.id, key)
        if node.boundary_event_ids and (node.multi_instance is None or is_body):
            event = _matching(process, node.boundary_event_ids, error_code)
            if event is not None:
                return CatchEvent(event.id, key)
        from_event_sub_process = node.element_type is BpmnElementType.EVENT_SUB_PROCESS
        key = value.flow_scope_key
        if key == NO_KEY:
            key = value.parent_element_instance_key  # on into the calling process
    return None


def catch(executor, caught: CatchEvent, variables: dict | None) -> None:
    from .events import trigger

    trigger(executor, caught.scope_key, caught.element_id, variables)


def throw_job_error(ctx, job_key: int, job: JobRecordValue) -> bool:
    """JOB ERROR_THROWN: True when a catch event took the error (the caller then raises no
    incident)."""
    from .executor import Executor

    if job.element_instance_key == NO_KEY:
        return False
    caught = find_catch_event(ctx.state, job.element_instance_key, job.error_code)
    if caught is None:
        return False
    executor = Executor(ctx)
    catch(executor, caught, job.variables)
    executor.drain()
    return True


def throw_error(executor, key: int, error_code: str) -> None:
    """An error end event throws `error_code`: caught, or StepFailed (an incident)."""
    caught = find_catch_event(executor.state, key, error_code)
    if caught is None:
        raise StepFailed(
            UNHANDLED_ERROR_EVENT,
            f"Expected to throw an error event with the code '{error_code}', but it was not "
            f"caught: no catch event for it in the scope of the element",
        )
    catch(executor, caught, None)

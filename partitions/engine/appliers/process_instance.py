"""Appliers of process instance, process instance creation, variable and variable document
events: the element instance entries, their flow scopes' counters, and variables.

- ELEMENT_ACTIVATING creates the entry (state ACTIVATING) and counts it in its flow scope (a
  multi-instance body also counts the inner instances it created); when the element is a join
  the scope counts tokens for, it consumes one token of each incoming flow that has one. A
  process instance called by a call activity is linked from it.
- ELEMENT_ACTIVATED / COMPLETING / TERMINATING set the state.
- ELEMENT_COMPLETED / TERMINATED remove the entry and its variables and uncount it from its
  scope; a process instance's request awaiting its result goes with it.
- SEQUENCE_FLOW_TAKEN towards a joining gateway counts a token for it in the flow scope.
"""

from raybee.partitions.protocol import (
    NO_KEY,
    ValueType,
)

from ..bpmn_entries import ElementState, new_entry, replaced
from ..stores.element_instances import AwaitingResult

PI = ValueType.PROCESS_INSTANCE
BODY = "MULTI_INSTANCE_BODY"


def element_activating(state, record):
    value = record.value
    instances = state.element_instances
    instances.create(record.key, new_entry(value))
    scope_key = value.flow_scope_key
    if scope_key != NO_KEY:
        scope = instances.get(scope_key)
        changes = {"children": scope.children + 1}
        if scope.value.bpmn_element_type == BODY:
            changes["loop_counter"] = scope.loop_counter + 1
        taken = scope.joins.get(value.element_id)
        if taken:
            joins = dict(scope.joins)
            left = {flow: count - 1 for flow, count in taken.items() if count > 1}
            if left:
                joins[value.element_id] = left
            else:
                del joins[value.element_id]
            changes["joins"] = joins
        instances.put(scope_key, replaced(scope, **changes))
    elif value.parent_element_instance_key != NO_KEY:
        parent = instances.get(value.parent_element_instance_key)
        instances.put(value.parent_element_instance_key, replaced(parent, called_key=record.key))


def _set_state(element_state: ElementState):
    def apply(state, record):
        instances = state.element_instances
        instances.put(record.key, replaced(instances.get(record.key), state=element_state))

    return apply


element_activated = _set_state(ElementState.ACTIVATED)
element_completing = _set_state(ElementState.COMPLETING)
element_terminating = _set_state(ElementState.TERMINATING)


def element_ended(state, record):
    """ELEMENT_COMPLETED and ELEMENT_TERMINATED alike."""
    instances = state.element_instances
    value = record.value
    state.variables.remove_scope(record.key)
    instances.remove(record.key)
    scope_key = value.flow_scope_key
    if scope_key != NO_KEY:
        scope = instances.get(scope_key)
        instances.put(scope_key, replaced(scope, children=scope.children - 1))
    elif instances.awaiting_result(record.key) is not None:
        instances.forget_awaiting(record.key)


def sequence_flow_taken(state, record):
    value = record.value
    process = state.processes.get(value.process_definition_key)
    target = process.flow(value.element_id).target_id
    if process.is_join(target):
        instances = state.element_instances
        scope = instances.get(value.flow_scope_key)
        taken = dict(scope.joins.get(target, {}))
        taken[value.element_id] = taken.get(value.element_id, 0) + 1
        instances.put(value.flow_scope_key, replaced(scope, joins={**scope.joins, target: taken}))


def instance_created(state, record):
    created = record.value
    if created.awaiting_result:
        state.element_instances.await_result(
            created.process_instance_key,
            AwaitingResult(record.request_stream_id, record.request_id, created.fetch_variables),
        )


def variable_set(state, record):
    variable = record.value
    state.variables.set(variable.scope_key, variable.name, record.key, variable.value)


def document_updated(state, record):
    pass  # the VARIABLE events of the update change state


def element_ended_v2(state, record):
    """Version 2 of ELEMENT_COMPLETED / ELEMENT_TERMINATED: as version 1, and a process
    instance that a message with a correlation key started releases that key (another message
    with it may start the next instance; see bpmn_behaviors/start_events.py)."""
    element_ended(state, record)
    value = record.value
    if value.flow_scope_key == NO_KEY and value.bpmn_element_type == "PROCESS":
        process = state.processes.get(value.process_definition_key)
        if process is not None and process.model.process.scope.message_start_event_ids:
            state.messages.release_start(record.key)

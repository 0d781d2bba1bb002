"""What an element instance waits for besides its own work, and what happens when it comes.

An instance waits for the messages and timers of (`ExecutableProcess.catch_events`):
- itself, when it is an intermediate message or timer catch event or a receive task;
- its boundary events (a multi-instance activity's belong to its body, not the inner ones);
- the events after it, when it is an event-based gateway;
- the start events of the event sub-processes directly inside it, when it is a scope.

Lifecycle
---------
- `prepare` runs while the instance is ACTIVATING (after its input mappings): it evaluates
  every message name, correlation key and timer of them. A failure is an incident on the
  instance, which stays ACTIVATING (resolving it prepares again).
- `open` runs right after ELEMENT_ACTIVATED (the executor's `activated`): a subscription per
  message (subscriptions.py) and a timer per timer (timers.py), owned by the instance.
- `close` runs when the instance leaves, at ELEMENT_COMPLETING and at ELEMENT_TERMINATING:
  everything it still holds is closed.
- `trigger` runs when a message is correlated or a timer fires for one of them:
  * the instance's own catch event: it completes with the message's variables;
  * a boundary event: an interrupting one terminates the instance first; the boundary event is
    activated in the instance's flow scope and completes with the variables;
  * an event after an event-based gateway: the gateway completes, taking the flow to that event
    (closing the others), and the event is activated and completes with the variables at once;
  * an event sub-process start event: an interrupting one closes what the scope waits for and
    terminates the scope's children first; the event sub-process is activated in the scope,
    and its start event completes with the variables.
  Variables given with the trigger follow the rule of a job's variables (see executor.complete):
  local to the catch event when it has output mappings, else propagated from it.

A trigger is "one shot" (the subscription or timer closes when it fires) except for
non-interrupting boundary events and event sub-process start events, which fire again (a timer
cycle repeats, a subscription stays open) while their instance is active.
"""

from dataclasses import dataclass
from decimal import Decimal

from raybee.partitions.engine.bpmn import BpmnElementType, FlowNode

from .expressions import EXTRACT_VALUE_ERROR, StepFailed, evaluate, evaluate_string, type_name
from .termination import closes_on_termination

E = BpmnElementType
BODY = BpmnElementType.MULTI_INSTANCE_BODY.value
# Limits of what the partition of a correlation key stores under them (key bytes are bounded).
MESSAGE_NAME_CHARS_MAX = 1024
CORRELATION_KEY_CHARS_MAX = 1024


@dataclass(frozen=True, slots=True)
class Trigger:
    """One event an instance waits for, evaluated: a message (name, correlation key) or a timer
    (due time, repetitions left; -1 repeats forever)."""

    element_id: str
    one_shot: bool
    message_name: str | None = None
    correlation_key: str | None = None
    due_ms: int = -1
    repetitions: int = 1


def is_one_shot(node: FlowNode) -> bool:
    if node.element_type is E.BOUNDARY_EVENT or node.element_type is E.START_EVENT:
        return node.interrupting
    return True


def correlation_key_text(process, expression, view, now) -> str:
    """A correlation key is a string or a number (as its text), as in Zeebe."""
    value = evaluate(process, expression, view, now)
    if type(value) is str:
        text = value
    elif type(value) is int:
        text = str(value)
    elif type(value) is Decimal and value.is_finite():
        whole = value == value.to_integral_value()
        text = str(int(value)) if whole else format(value.normalize(), "f")
    else:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the correlation key '{expression.source}' to be a STRING or a NUMBER, but "
            f"it was {type_name(value)} ({value!r:.100})",
        )
    if len(text) > CORRELATION_KEY_CHARS_MAX:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the correlation key '{expression.source}' to be at most "
            f"{CORRELATION_KEY_CHARS_MAX} characters, but it has {len(text)}",
        )
    return text


def message_name_text(process, expression, view, now) -> str:
    name = evaluate_string(process, expression, view, now, "message name")
    if not name or len(name) > MESSAGE_NAME_CHARS_MAX:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the message name '{expression.source}' to have 1 to "
            f"{MESSAGE_NAME_CHARS_MAX} characters, but it has {len(name)}",
        )
    return name


def prepare(executor, key: int, node: FlowNode, process, body: bool) -> list[Trigger] | None:
    """Evaluate what the instance will wait for (StepFailed when something cannot be)."""
    from .timers import timer_due

    catches = process.catch_events(node.id, body)
    if not catches:
        return None
    scope_key = executor.instances.get(key).value.flow_scope_key
    if (scope_key, node.id) in executor.triggers:
        return None  # an event after an event-based gateway, triggered already
    view = executor.variables_of(key)
    now = executor.now
    triggers = []
    names: dict[str, str] = {}
    for catch in catches:
        one_shot = is_one_shot(catch)
        if catch.message is not None:
            name = message_name_text(process, catch.message.name, view, now)
            if name in names:
                raise StepFailed(
                    EXTRACT_VALUE_ERROR,
                    f"Expected the events '{names[name]}' and '{catch.id}' that wait together to "
                    f"wait for different messages, but both wait for '{name}'",
                )
            names[name] = catch.id
            correlation_key = correlation_key_text(
                process, catch.message.correlation_key, view, now
            )
            triggers.append(Trigger(catch.id, one_shot, name, correlation_key))
        else:
            due_ms, repetitions = timer_due(process, catch.timer, view, now, executor.ctx.now_ms)
            if one_shot:
                repetitions = 1
            triggers.append(Trigger(catch.id, one_shot, due_ms=due_ms, repetitions=repetitions))
    return triggers


def open_triggers(executor, key: int, triggers: list[Trigger]) -> None:
    from .subscriptions import open_subscription
    from .timers import create_timer

    entry = executor.instances.get(key)
    for trigger in triggers:
        if trigger.message_name is not None:
            open_subscription(executor, key, entry.value, trigger)
        else:
            create_timer(executor, key, entry.value, trigger)


def holds_events(executor, entry) -> bool:
    process = executor.process_of(entry)
    return bool(process.catch_events(entry.value.element_id, entry.value.bpmn_element_type == BODY))


@closes_on_termination
def close(executor, key: int, entry) -> None:
    """Close every subscription and timer the instance holds (when it leaves)."""
    if not holds_events(executor, entry):
        return
    from .subscriptions import close_subscriptions
    from .timers import cancel_timers

    close_subscriptions(executor, key)
    cancel_timers(executor, key)


# ---------------------------------------------------------------------- triggers
def trigger(executor, owner_key: int, element_id: str, variables: dict | None) -> None:
    """A message or timer for `element_id` came for the ACTIVATED instance `owner_key`."""
    owner = executor.instances.get(owner_key)
    process = executor.process_of(owner)
    node = process.node(element_id)
    variables = variables or {}
    if element_id == owner.value.element_id:
        executor.complete(owner_key, variables or None)
    elif node.element_type is E.BOUNDARY_EVENT:
        activate_boundary_event(executor, owner_key, owner, node, process, variables)
    elif owner.value.bpmn_element_type == E.EVENT_BASED_GATEWAY.value:
        (flow,) = [f for f in process.outgoing(owner.value.element_id) if f.target_id == node.id]
        executor.triggers[(owner.value.flow_scope_key, node.id)] = variables
        executor.complete(owner_key, flows=(flow,))
    else:
        assert node.element_type is E.START_EVENT, node
        start_event_sub_process(executor, owner_key, owner, node, process, variables)


def activate_boundary_event(executor, owner_key, owner, node, process, variables) -> None:
    scope_key = owner.value.flow_scope_key
    if node.interrupting:
        executor.terminate(owner_key)
    scope = executor.instances.get(scope_key)
    executor.triggers[(scope_key, node.id)] = variables
    executor.activate(process, scope_key, scope.value, node)


def start_event_sub_process(executor, scope_key, scope, start, process, variables) -> None:
    sub_process = process.node(start.flow_scope_id)
    if start.interrupting:
        interrupt(executor, scope_key, scope)
    executor.triggers[(scope_key, sub_process.id)] = variables
    executor.activate(process, scope_key, scope.value, sub_process)


def interrupt(executor, scope_key: int, scope) -> None:
    """An interrupting event sub-process takes over its scope: nothing else of the scope runs
    or waits from now on."""
    close(executor, scope_key, scope)
    for child in executor.instances.children(scope_key):
        executor.terminate(child)
    executor.interrupted.add(scope_key)

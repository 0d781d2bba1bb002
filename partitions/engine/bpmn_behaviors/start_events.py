"""Message and timer start events: instances that start by themselves.

- When a process version becomes the latest on a partition (deployed there, or distributed to
  it), the message start events of the previous latest version are closed
  (MESSAGE_START_EVENT_SUBSCRIPTION DELETED) and the new version's opened (CREATED), on every
  partition: a message is published on the partition of its correlation key and starts the
  instance there. Messages buffered before are not correlated to the new subscriptions (Zeebe:
  "messages are not correlated if they were published before the process was deployed").
- Timer start events live on the partition the deployment was created on (one instance per
  due time in the cluster): the previous latest version's timers are cancelled and the new
  version's created (a date, or a cycle's first repetition).
- A published message starts an instance of each process with a message start event for its
  name, unless the message has a correlation key and an instance that a message with that key
  started is still active (MESSAGE_START_EVENT_SUBSCRIPTION CORRELATED holds the key for the
  instance; ELEMENT_COMPLETED / ELEMENT_TERMINATED of the instance release it). When such an
  instance ends, the oldest live buffered message with that key starts the next one.
- An instance started at a start event is created as by PROCESS_INSTANCE_CREATION, but begins
  at that start event, which completes with the message's variables (propagated to the
  process instance unless the start event has output mappings).
"""

from raybee.partitions.protocol import (
    NO_KEY,
    MessageStartEventSubscriptionIntent,
    MessageStartEventSubscriptionRecordValue,
    ProcessInstanceIntent,
    TimerIntent,
    TimerRecordValue,
)

from .call_activity import instance_value
from .events import message_name_text
from .expressions import StepFailed
from .messages import is_live
from .timers import cancel_timers, timer_due

MSE = MessageStartEventSubscriptionIntent


def start_instance(
    executor, process, start_event_id: str, variables: dict | None, key: int = NO_KEY
) -> int:
    """Create an instance of `process` (with `key`, or a new one) that begins at
    `start_event_id`, which completes with `variables`; its key."""
    ctx = executor.ctx
    if key == NO_KEY:
        key = ctx.next_key()
    ctx.append_event(key, ProcessInstanceIntent.ELEMENT_ACTIVATING, instance_value(process, key))
    executor.start_events[key] = start_event_id
    executor.triggers[(key, start_event_id)] = variables or {}
    executor.continue_activation(key)
    return key


# ---------------------------------------------------------------------- deployment
def process_became_latest(executor, process, previous, deploying: bool) -> None:
    """`process` is the latest version of its id on this partition now (`previous` was)."""
    ctx = executor.ctx
    messages = ctx.state.messages
    for subscription in messages.start_subscriptions_of(process.bpmn_process_id):
        ctx.append_event(subscription.process_definition_key, MSE.DELETED, subscription)
    scope = process.model.process.scope
    for start_id in scope.message_start_event_ids:
        try:
            name = message_name_text(process, process.node(start_id).message.name, {}, executor.now)
        except StepFailed:
            continue  # a FEEL name that needs variables names no message
        ctx.append_event(
            process.key,
            MSE.CREATED,
            MessageStartEventSubscriptionRecordValue(
                process_definition_key=process.key,
                bpmn_process_id=process.bpmn_process_id,
                start_event_id=start_id,
                message_name=name,
                tenant_id=process.tenant_id,
            ),
        )
    if not deploying:
        return
    if previous is not None:
        cancel_timers(executor, previous.key)
    for start_id in scope.timer_start_event_ids:
        node = process.node(start_id)
        try:
            due_ms, repetitions = timer_due(process, node.timer, {}, executor.now, ctx.now_ms)
        except StepFailed:
            continue  # a FEEL timer that needs variables cannot start anything
        ctx.append_event(
            ctx.next_key(),
            TimerIntent.CREATED,
            TimerRecordValue(
                process_definition_key=process.key,
                due_date_ms=due_ms,
                target_element_id=start_id,
                repetitions=repetitions,
                tenant_id=process.tenant_id,
            ),
        )


# ---------------------------------------------------------------------- messages
def correlate_to_start_events(executor, message_key: int, message) -> None:
    """A published message starts an instance of each process waiting for its name."""
    messages = executor.state.messages
    for subscription in messages.start_subscriptions(message.name):
        if (
            message.correlation_key
            and messages.started_instance(subscription.bpmn_process_id, message.correlation_key)
            is not None
        ):
            continue
        start_by_message(executor, subscription, message_key, message)


def start_by_message(executor, subscription, message_key: int, message) -> None:
    ctx = executor.ctx
    process = ctx.state.processes.get(subscription.process_definition_key)
    assert process is not None, subscription
    instance_key = ctx.next_key()
    ctx.append_event(
        subscription.process_definition_key,
        MSE.CORRELATED,
        MessageStartEventSubscriptionRecordValue(
            process_definition_key=subscription.process_definition_key,
            bpmn_process_id=subscription.bpmn_process_id,
            start_event_id=subscription.start_event_id,
            message_name=subscription.message_name,
            message_key=message_key,
            correlation_key=message.correlation_key,
            process_instance_key=instance_key,
            variables=message.variables,
            tenant_id=subscription.tenant_id,
        ),
    )
    start_instance(executor, process, subscription.start_event_id, message.variables, instance_key)


def message_start_of(executor, key: int, entry) -> tuple[str, str] | None:
    """(bpmn process id, correlation key) held by a process instance a keyed message started
    (read before the instance's end event releases it)."""
    if entry.value.flow_scope_key != NO_KEY:
        return None
    process = executor.process_of(entry)
    if not process.model.process.scope.message_start_event_ids:
        return None
    return executor.state.messages.start_of(key)


def start_next(executor, bpmn_process_id: str, correlation_key: str) -> None:
    """The instance holding (process, correlation key) ended: the oldest live buffered message
    with that key for one of the process's start events starts the next instance."""
    messages = executor.state.messages
    if messages.started_instance(bpmn_process_id, correlation_key) is not None:
        return
    candidates = []
    for subscription in messages.start_subscriptions_of(bpmn_process_id):
        for message_key in messages.buffered(subscription.message_name, correlation_key):
            message = messages.get(message_key)
            if is_live(message, executor.ctx.now_ms) and not messages.correlated(
                message_key, bpmn_process_id
            ):
                candidates.append((message_key, subscription, message))
                break
    if candidates:
        message_key, subscription, message = min(candidates, key=lambda c: c[0])
        start_by_message(executor, subscription, message_key, message)

"""Message subscriptions, on the partition of the waiting process instance.

- Open (after the element is ACTIVATED): PROCESS_MESSAGE_SUBSCRIPTION CREATING (OPENING), and
  MESSAGE_SUBSCRIPTION CREATE sent to the partition of the correlation key
  (`partition_for_correlation_key`), which registers it.
- Registered (the CREATE was processed there; `registered`, its acknowledgement hook):
  PROCESS_MESSAGE_SUBSCRIPTION CREATED (OPEN) - or, if the element left meanwhile (CLOSING),
  DELETED and the DELETE sent now.
- Correlate (PROCESS_MESSAGE_SUBSCRIPTION CORRELATE from the message's partition; `correlate`):
  accepted when the subscription is OPEN or OPENING, its element instance ACTIVATED and the
  message newer than the last one correlated through it: CORRELATED, and the element's event
  is triggered (events.trigger) with the message's variables. Otherwise rejected, which tells
  the message's partition to offer the message elsewhere. A one-shot subscription is gone once
  correlated (the message's partition removes its side when it hears the answer).
- Close (the element leaves; `close_subscriptions`): an OPEN subscription is DELETED and
  MESSAGE_SUBSCRIPTION DELETE is sent; an OPENING one becomes CLOSING (DELETING), and is
  deleted once its CREATE is answered, so DELETE never overtakes CREATE.
"""

from raybee.partitions.protocol import (
    MessageSubscriptionIntent,
    MessageSubscriptionRecordValue,
    ProcessMessageSubscriptionIntent,
    ProcessMessageSubscriptionRecordValue,
    RejectionType,
    partition_for_correlation_key,
)

from ..bpmn_entries import ElementState
from ..distribution import send
from ..stores.subscriptions import CLOSING, OPEN

PMS = ProcessMessageSubscriptionIntent


def _message_partition(ctx, value) -> int:
    return partition_for_correlation_key(value.correlation_key, ctx.partition_count)


def _registration(value: ProcessMessageSubscriptionRecordValue) -> MessageSubscriptionRecordValue:
    return MessageSubscriptionRecordValue(
        process_instance_key=value.process_instance_key,
        element_instance_key=value.element_instance_key,
        bpmn_process_id=value.bpmn_process_id,
        message_name=value.message_name,
        correlation_key=value.correlation_key,
        interrupting=value.interrupting,
        tenant_id=value.tenant_id,
    )


def open_subscription(executor, owner_key: int, owner_value, trigger) -> None:
    ctx = executor.ctx
    value = ProcessMessageSubscriptionRecordValue(
        process_instance_key=owner_value.process_instance_key,
        element_instance_key=owner_key,
        element_id=trigger.element_id,
        bpmn_process_id=owner_value.bpmn_process_id,
        message_name=trigger.message_name,
        correlation_key=trigger.correlation_key,
        interrupting=trigger.one_shot,
        tenant_id=owner_value.tenant_id,
    )
    ctx.append_event(owner_key, PMS.CREATING, value)
    send(ctx, _message_partition(ctx, value), MessageSubscriptionIntent.CREATE, owner_key,
         _registration(value))  # fmt: skip


def close_subscriptions(executor, owner_key: int) -> None:
    ctx = executor.ctx
    for subscription in ctx.state.subscriptions.of_element(owner_key):
        value = subscription.value
        if subscription.state == OPEN:
            ctx.append_event(owner_key, PMS.DELETED, value)
            _send_delete(ctx, value)
        elif subscription.state != CLOSING:
            ctx.append_event(owner_key, PMS.DELETING, value)


def _send_delete(ctx, value) -> None:
    send(ctx, _message_partition(ctx, value), MessageSubscriptionIntent.DELETE,
         value.element_instance_key, _registration(value))  # fmt: skip


def registered(ctx, registration: MessageSubscriptionRecordValue, rejection, reason) -> None:
    """The acknowledgement hook of MESSAGE_SUBSCRIPTION CREATE (a rejection means it was
    registered before: the same for us)."""
    subscription = ctx.state.subscriptions.get(
        registration.element_instance_key, registration.message_name
    )
    if subscription is None or subscription.state == OPEN:
        return
    value = subscription.value
    if subscription.state == CLOSING:
        ctx.append_event(value.element_instance_key, PMS.DELETED, value)
        _send_delete(ctx, value)
    else:
        ctx.append_event(value.element_instance_key, PMS.CREATED, value)


def correlate(ctx, command) -> None:
    """PROCESS_MESSAGE_SUBSCRIPTION CORRELATE: a message for a subscription of this partition."""
    from .events import trigger
    from .executor import Executor

    request = command.value
    key = request.element_instance_key
    subscription = ctx.state.subscriptions.get(key, request.message_name)
    if subscription is None or subscription.state == CLOSING:
        return ctx.reject(
            RejectionType.NOT_FOUND,
            f"Expected to correlate message '{request.message_key}' to a subscription of element "
            f"instance '{key}' for '{request.message_name}', but it is closed",
        )
    if request.message_key <= subscription.last_message_key:
        return ctx.reject(
            RejectionType.INVALID_STATE,
            f"Expected message '{request.message_key}' to be newer than the last message "
            f"correlated to element instance '{key}' ('{subscription.last_message_key}')",
        )
    entry = ctx.state.element_instances.get(key)
    if entry is None or entry.state != ElementState.ACTIVATED:
        # NOT_FOUND: the message's partition drops its side of a subscription that cannot
        # take anything any more.
        return ctx.reject(
            RejectionType.NOT_FOUND if entry is None else RejectionType.INVALID_STATE,
            f"Expected element instance '{key}' to wait for message '{request.message_name}', "
            f"but it is {'gone' if entry is None else entry.state.value}",
        )
    value = subscription.value
    correlated = ProcessMessageSubscriptionRecordValue(
        process_instance_key=value.process_instance_key,
        element_instance_key=key,
        element_id=value.element_id,
        bpmn_process_id=value.bpmn_process_id,
        message_name=value.message_name,
        correlation_key=value.correlation_key,
        message_key=request.message_key,
        variables=request.variables,
        interrupting=value.interrupting,
        tenant_id=value.tenant_id,
    )
    ctx.append_event(key, PMS.CORRELATED, correlated)
    executor = Executor(ctx)
    trigger(executor, key, value.element_id, request.variables)
    executor.drain()

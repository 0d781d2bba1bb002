"""Messages, on the partition of their correlation key (`partition_for_correlation_key`).

Correlation follows Zeebe's documented rules ("Messages", "Message correlation"):
- A message is correlated to at most ONE subscription per process (bpmn process id, over all
  versions), and to each process at most once - a start event and a catch event of the same
  process included. Subscriptions of different processes each get it.
- A published message goes to the subscriptions open now (oldest element instance first);
  a subscription that opens later takes the oldest buffered message not expired and not
  correlated to its process yet. A message whose time-to-live is over (deadline at or before
  the command's time) is never correlated again, even before MESSAGE EXPIRE removed it.
- One message at a time per subscription: while a correlation is answered (the subscription's
  `message_key`), the subscription takes no other message; a non-interrupting subscription
  takes the next buffered one once the answer came.
- The instance's partition answers each correlation: accepted (the subscription's event was
  triggered; a one-shot subscription is removed here too) or rejected (its element left): the
  message's mark for that process is removed and the message is offered to that process's other
  subscriptions (if it is still within its time-to-live).
- A message id is unique per (name, correlation key) while a message with it is buffered:
  another PUBLISH with it is rejected ALREADY_EXISTS.
- Message start events (message_start.py) are correlated before the subscriptions.
"""

from raybee.partitions.protocol import (
    NO_KEY,
    MessageIntent,
    MessageRecordValue,
    MessageSubscriptionIntent,
    MessageSubscriptionRecordValue,
    ProcessMessageSubscriptionIntent,
    ProcessMessageSubscriptionRecordValue,
    Record,
    RejectionType,
    ValueType,
    partition_for_correlation_key,
    partition_of_key,
)

from ..distribution import send

MS = MessageSubscriptionIntent
MESSAGE_ID_CHARS_MAX = 1024
# 100 years: keeps deadlines far inside int64 milliseconds and a typo from buffering forever.
TIME_TO_LIVE_MS_MAX = 100 * 366 * 24 * 3600 * 1000


def publish_problem(ctx, message) -> tuple[RejectionType, str] | None:
    """Why a PUBLISH cannot be taken, or None."""
    from ..processors.variable_document import variables_problem
    from .events import CORRELATION_KEY_CHARS_MAX, MESSAGE_NAME_CHARS_MAX

    if not message.name or len(message.name) > MESSAGE_NAME_CHARS_MAX:
        return (
            RejectionType.INVALID_ARGUMENT,
            f"Expected a message name of 1 to {MESSAGE_NAME_CHARS_MAX} characters, but it has "
            f"{len(message.name)}",
        )
    if len(message.correlation_key) > CORRELATION_KEY_CHARS_MAX:
        return (
            RejectionType.INVALID_ARGUMENT,
            f"Expected a correlation key of at most {CORRELATION_KEY_CHARS_MAX} characters, but "
            f"it has {len(message.correlation_key)}",
        )
    if len(message.message_id) > MESSAGE_ID_CHARS_MAX:
        return (
            RejectionType.INVALID_ARGUMENT,
            f"Expected a message id of at most {MESSAGE_ID_CHARS_MAX} characters, but it has "
            f"{len(message.message_id)}",
        )
    if not 0 <= message.time_to_live_ms <= TIME_TO_LIVE_MS_MAX:
        return (
            RejectionType.INVALID_ARGUMENT,
            f"Expected a time-to-live of 0 to {TIME_TO_LIVE_MS_MAX} ms, but it is "
            f"{message.time_to_live_ms}",
        )
    home = partition_for_correlation_key(message.correlation_key, ctx.partition_count)
    if home != ctx.partition_id:
        return (
            RejectionType.INVALID_ARGUMENT,
            f"Expected the message to be published on partition {home} (the partition of its "
            f"correlation key), but it was published on partition {ctx.partition_id}",
        )
    return variables_problem(message.variables)


def is_live(message, now_ms: int) -> bool:
    """Within its time-to-live: still correlated to subscriptions that open."""
    return message is not None and message.deadline_ms > now_ms


def correlate_to_subscriptions(ctx, message_key: int, message, excluded=None) -> None:
    """Offer a message to the subscriptions waiting for it: the first idle one of each process
    it was not correlated to yet."""
    messages = ctx.state.messages
    taken: set[str] = set()
    for subscription in messages.subscriptions_for(message.name, message.correlation_key):
        process_id = subscription.bpmn_process_id
        if subscription.message_key != NO_KEY or process_id in taken:
            continue
        if excluded == (subscription.element_instance_key, subscription.message_name):
            continue
        if messages.correlated(message_key, process_id):
            continue
        start_correlation(ctx, subscription, message_key, message)
        taken.add(process_id)


def poll(ctx, subscription) -> None:
    """An idle subscription takes the oldest live buffered message not yet correlated to its
    process."""
    messages = ctx.state.messages
    for message_key in messages.buffered(subscription.message_name, subscription.correlation_key):
        message = messages.get(message_key)
        if not is_live(message, ctx.now_ms):
            continue
        if messages.correlated(message_key, subscription.bpmn_process_id):
            continue
        start_correlation(ctx, subscription, message_key, message)
        return


def start_correlation(ctx, subscription, message_key: int, message) -> None:
    key = subscription.element_instance_key
    ctx.append_event(
        key,
        MS.CORRELATING,
        MessageSubscriptionRecordValue(
            process_instance_key=subscription.process_instance_key,
            element_instance_key=key,
            bpmn_process_id=subscription.bpmn_process_id,
            message_name=subscription.message_name,
            correlation_key=subscription.correlation_key,
            message_key=message_key,
            variables=message.variables,
            interrupting=subscription.interrupting,
            tenant_id=subscription.tenant_id,
        ),
    )
    send(
        ctx,
        partition_of_key(key),
        ProcessMessageSubscriptionIntent.CORRELATE,
        key,
        ProcessMessageSubscriptionRecordValue(
            process_instance_key=subscription.process_instance_key,
            element_instance_key=key,
            bpmn_process_id=subscription.bpmn_process_id,
            message_name=subscription.message_name,
            correlation_key=subscription.correlation_key,
            message_key=message_key,
            variables=message.variables,
            interrupting=subscription.interrupting,
            tenant_id=subscription.tenant_id,
        ),
    )


def correlation_answered(ctx, request, rejection: RejectionType, reason: str) -> None:
    """The acknowledgement hook of PROCESS_MESSAGE_SUBSCRIPTION CORRELATE. A subscription the
    instance's partition says is closed (NOT_FOUND: its element left) is removed here at once
    - its DELETE may still be on its way - so the message is not offered to it again."""
    messages = ctx.state.messages
    key, name = request.element_instance_key, request.message_name
    answered = MessageSubscriptionRecordValue(
        process_instance_key=request.process_instance_key,
        element_instance_key=key,
        bpmn_process_id=request.bpmn_process_id,
        message_name=name,
        correlation_key=request.correlation_key,
        message_key=request.message_key,
        interrupting=request.interrupting,
        tenant_id=request.tenant_id,
    )
    if rejection == RejectionType.NONE:
        ctx.append_event(key, MS.CORRELATED, answered)
        subscription = messages.subscription(key, name)
        if subscription is not None and subscription.message_key == NO_KEY:
            poll(ctx, subscription)  # a subscription that stays open takes the next message
        return
    ctx.append_event(key, MS.REJECTED, answered)
    subscription = messages.subscription(key, name)
    if rejection == RejectionType.NOT_FOUND and subscription is not None:
        ctx.append_event(key, MS.DELETED, subscription)
    message = messages.get(request.message_key)
    if is_live(message, ctx.now_ms):
        correlate_to_subscriptions(ctx, request.message_key, message, excluded=(key, name))


# ---------------------------------------------------------------------- registration
def create_subscription(ctx, command) -> None:
    """MESSAGE_SUBSCRIPTION CREATE (sent by the instance's partition)."""
    value = command.value
    messages = ctx.state.messages
    home = partition_for_correlation_key(value.correlation_key, ctx.partition_count)
    if home != ctx.partition_id:
        return ctx.reject(
            RejectionType.INVALID_ARGUMENT,
            f"Expected the subscription for correlation key '{value.correlation_key}' on "
            f"partition {home}, but it reached partition {ctx.partition_id}",
        )
    if messages.subscription(value.element_instance_key, value.message_name) is not None:
        return ctx.reject(
            RejectionType.ALREADY_EXISTS,
            f"Expected to open a subscription of element instance "
            f"'{value.element_instance_key}' for '{value.message_name}', but it is open",
        )
    ctx.append_event(value.element_instance_key, MS.CREATED, value)
    poll(ctx, value)


def delete_subscription(ctx, command) -> None:
    """MESSAGE_SUBSCRIPTION DELETE (the element left on the instance's partition)."""
    value = command.value
    subscription = ctx.state.messages.subscription(value.element_instance_key, value.message_name)
    if subscription is None:
        return ctx.reject(
            RejectionType.NOT_FOUND,
            f"Expected to delete the subscription of element instance "
            f"'{value.element_instance_key}' for '{value.message_name}', but there is none",
        )
    ctx.append_event(value.element_instance_key, MS.DELETED, subscription)


def expire(ctx, command) -> None:
    message = ctx.state.messages.get(command.key)
    if message is None:
        return ctx.reject(
            RejectionType.NOT_FOUND,
            f"Expected to expire message '{command.key}', but it does not exist",
        )
    if message.deadline_ms > ctx.now_ms:
        return ctx.reject(
            RejectionType.INVALID_STATE,
            f"Expected message '{command.key}' to have lived its time-to-live, but it expires at "
            f"{message.deadline_ms}, after {ctx.now_ms}",
        )
    ctx.append_event(command.key, MessageIntent.EXPIRED, message)


class MessageDeadlines:
    """Due work: MESSAGE EXPIRE for every message whose time-to-live is over."""

    name = "message deadlines"

    def due(self, state, now_ms: int):
        for deadline_ms, key in state.messages.deadlines_before(now_ms):
            yield (
                deadline_ms,
                Record(ValueType.MESSAGE, MessageIntent.EXPIRE, MessageRecordValue(), key=key),
            )

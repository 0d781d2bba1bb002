"""Appliers of MESSAGE, MESSAGE_SUBSCRIPTION, PROCESS_MESSAGE_SUBSCRIPTION and
MESSAGE_START_EVENT_SUBSCRIPTION events (bpmn_behaviors/messages.py, subscriptions.py,
start_events.py say when each is written)."""

from raybee.partitions.protocol import NO_KEY, evolve

from ..stores.subscriptions import CLOSING, OPEN, OPENING, ProcessSubscription


# ---------------------------------------------------------------------- MESSAGE
def published(state, record):
    state.messages.publish(record.key, record.value)


def expired(state, record):
    state.messages.expire(record.key)


# ---------------------------------------------------------------------- MESSAGE_SUBSCRIPTION
def subscription_created(state, record):
    state.messages.put_subscription(evolve(record.value, message_key=NO_KEY, variables={}))


def subscription_correlating(state, record):
    value = record.value
    messages = state.messages
    messages.put_subscription(evolve(value, variables={}))
    messages.mark_correlated(value.message_key, value.bpmn_process_id)


def subscription_correlated(state, record):
    """The instance's partition took the message: a one-shot subscription is done, another
    one waits for the next message."""
    value = record.value
    messages = state.messages
    stored = messages.subscription(value.element_instance_key, value.message_name)
    if stored is None or stored.message_key != value.message_key:
        return
    if stored.interrupting:
        messages.remove_subscription(value.element_instance_key, value.message_name)
    else:
        messages.put_subscription(evolve(stored, message_key=NO_KEY))


def subscription_rejected(state, record):
    """The instance's partition did not take the message: its process may get it again."""
    value = record.value
    messages = state.messages
    messages.unmark_correlated(value.message_key, value.bpmn_process_id)
    stored = messages.subscription(value.element_instance_key, value.message_name)
    if stored is not None and stored.message_key == value.message_key:
        messages.put_subscription(evolve(stored, message_key=NO_KEY))


def subscription_deleted(state, record):
    value = record.value
    state.messages.remove_subscription(value.element_instance_key, value.message_name)


# ---------------------------------------------------------------------- PROCESS_MESSAGE_SUBSCRIPTION
def process_subscription_creating(state, record):
    state.subscriptions.put(ProcessSubscription(record.value, OPENING))


def _moved(state, record, new_state):
    value = record.value
    stored = state.subscriptions.get(value.element_instance_key, value.message_name)
    state.subscriptions.put(stored._replace(state=new_state))


def process_subscription_created(state, record):
    _moved(state, record, OPEN)


def process_subscription_deleting(state, record):
    _moved(state, record, CLOSING)


def process_subscription_deleted(state, record):
    value = record.value
    state.subscriptions.remove(value.element_instance_key, value.message_name)


def process_subscription_correlated(state, record):
    """A one-shot subscription is gone once correlated; another one remembers the message."""
    value = record.value
    subscriptions = state.subscriptions
    if value.interrupting:
        subscriptions.remove(value.element_instance_key, value.message_name)
        return
    stored = subscriptions.get(value.element_instance_key, value.message_name)
    subscriptions.put(stored._replace(last_message_key=value.message_key))


# ---------------------------------------------------------------------- MESSAGE_START_EVENT_SUBSCRIPTION
def start_subscription_created(state, record):
    state.messages.put_start_subscription(record.value)


def start_subscription_deleted(state, record):
    value = record.value
    state.messages.remove_start_subscription(value.message_name, value.bpmn_process_id)


def start_subscription_correlated(state, record):
    value = record.value
    messages = state.messages
    messages.mark_correlated(value.message_key, value.bpmn_process_id)
    if value.correlation_key:
        messages.hold_start(
            value.bpmn_process_id, value.correlation_key, value.process_instance_key
        )

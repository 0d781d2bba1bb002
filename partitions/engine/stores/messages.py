"""What the partition of a correlation key keeps about messages:

- published messages until they expire: by key, by (name, correlation key) oldest first, by
  deadline, by (name, correlation key, message id) while one with that id is buffered;
- the processes (bpmn process ids) each message was correlated to, or is being correlated to:
  a message goes to at most one subscription per process;
- the subscriptions registered here by the partitions of waiting instances, by (element
  instance key, message name) and by (message name, correlation key); a subscription's
  `message_key` is the message being correlated through it (NO_KEY when none is);
- message start events of the latest version of each process (on every partition), and the
  instance a correlation key started while it is active (one at a time per process and key).
"""

from collections.abc import Iterator

from raybee.partitions.protocol import (
    NO_KEY,
    MessageRecordValue,
    MessageStartEventSubscriptionRecordValue,
    MessageSubscriptionRecordValue,
)

from ..families import (
    EMPTY,
    MESSAGE_CORRELATIONS,
    MESSAGE_DEADLINES,
    MESSAGE_IDS,
    MESSAGE_START_BY_PROCESS,
    MESSAGE_START_INSTANCES,
    MESSAGE_START_KEYS,
    MESSAGE_START_SUBSCRIPTIONS,
    MESSAGE_SUBSCRIPTIONS,
    MESSAGE_SUBSCRIPTIONS_BY_NAME,
    MESSAGES,
    MESSAGES_BY_NAME,
)


class MessageStore:
    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    # ------------------------------------------------------------------ messages
    def get(self, key: int) -> MessageRecordValue | None:
        return self._reader.get(MESSAGES, key)

    def by_id(self, name: str, correlation_key: str, message_id: str) -> int | None:
        return self._reader.get(MESSAGE_IDS, (name, correlation_key, message_id))

    def buffered(self, name: str, correlation_key: str) -> Iterator[int]:
        """Keys of the messages with this name and correlation key, oldest first."""
        for (_, _, key), _ in self._reader.prefix(MESSAGES_BY_NAME, (name, correlation_key)):
            yield key

    def deadlines_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        """(deadline ms, key) of messages whose deadline is at or before time_ms."""
        for (deadline_ms, key), _ in self._reader.range(MESSAGE_DEADLINES, None, (time_ms + 1,)):
            yield deadline_ms, key

    def correlated(self, message_key: int, bpmn_process_id: str) -> bool:
        return self._reader.get(MESSAGE_CORRELATIONS, (message_key, bpmn_process_id)) is not None

    def publish(self, key: int, message: MessageRecordValue) -> None:
        assert self.get(key) is None, f"message {key} published twice"
        self._writer.put(MESSAGES, key, message)
        self._writer.put(MESSAGES_BY_NAME, (message.name, message.correlation_key, key), EMPTY)
        self._writer.put(MESSAGE_DEADLINES, (message.deadline_ms, key), EMPTY)
        if message.message_id:
            slot = (message.name, message.correlation_key, message.message_id)
            self._writer.put(MESSAGE_IDS, slot, key)

    def expire(self, key: int) -> None:
        message = self.get(key)
        assert message is not None, f"message {key} does not exist"
        self._writer.delete(MESSAGES, key)
        self._writer.delete(MESSAGES_BY_NAME, (message.name, message.correlation_key, key))
        self._writer.delete(MESSAGE_DEADLINES, (message.deadline_ms, key))
        if message.message_id:
            slot = (message.name, message.correlation_key, message.message_id)
            if self._reader.get(MESSAGE_IDS, slot) == key:
                self._writer.delete(MESSAGE_IDS, slot)
        for (_, process_id), _ in list(self._reader.prefix(MESSAGE_CORRELATIONS, (key,))):
            self._writer.delete(MESSAGE_CORRELATIONS, (key, process_id))

    def mark_correlated(self, message_key: int, bpmn_process_id: str) -> None:
        if self.get(message_key) is not None:  # an expired message needs no mark
            self._writer.put(MESSAGE_CORRELATIONS, (message_key, bpmn_process_id), EMPTY)

    def unmark_correlated(self, message_key: int, bpmn_process_id: str) -> None:
        self._writer.delete(MESSAGE_CORRELATIONS, (message_key, bpmn_process_id))

    # ------------------------------------------------------------------ subscriptions
    def subscription(
        self, element_instance_key: int, message_name: str
    ) -> MessageSubscriptionRecordValue | None:
        return self._reader.get(MESSAGE_SUBSCRIPTIONS, (element_instance_key, message_name))

    def subscriptions_for(
        self, message_name: str, correlation_key: str
    ) -> list[MessageSubscriptionRecordValue]:
        """The subscriptions waiting for this name and correlation key (by element key)."""
        found = []
        for (_, _, element_key), _ in self._reader.prefix(
            MESSAGE_SUBSCRIPTIONS_BY_NAME, (message_name, correlation_key)
        ):
            found.append(self.subscription(element_key, message_name))
        return found

    def put_subscription(self, subscription: MessageSubscriptionRecordValue) -> None:
        value = subscription
        self._writer.put(
            MESSAGE_SUBSCRIPTIONS, (value.element_instance_key, value.message_name), value
        )
        self._writer.put(
            MESSAGE_SUBSCRIPTIONS_BY_NAME,
            (value.message_name, value.correlation_key, value.element_instance_key),
            EMPTY,
        )

    def remove_subscription(self, element_instance_key: int, message_name: str) -> None:
        value = self.subscription(element_instance_key, message_name)
        assert value is not None, (element_instance_key, message_name)
        self._writer.delete(MESSAGE_SUBSCRIPTIONS, (element_instance_key, message_name))
        self._writer.delete(
            MESSAGE_SUBSCRIPTIONS_BY_NAME,
            (message_name, value.correlation_key, element_instance_key),
        )

    # ------------------------------------------------------------------ start events
    def start_subscriptions(self, message_name: str) -> list:
        """Message start event subscriptions for this message name, by bpmn process id."""
        return [v for _, v in self._reader.prefix(MESSAGE_START_SUBSCRIPTIONS, (message_name,))]

    def start_subscriptions_of(self, bpmn_process_id: str) -> list:
        return [
            self._reader.get(MESSAGE_START_SUBSCRIPTIONS, (name, bpmn_process_id))
            for (_, name), _ in self._reader.prefix(MESSAGE_START_BY_PROCESS, (bpmn_process_id,))
        ]

    def put_start_subscription(self, value: MessageStartEventSubscriptionRecordValue) -> None:
        slot = (value.message_name, value.bpmn_process_id)
        self._writer.put(MESSAGE_START_SUBSCRIPTIONS, slot, value)
        self._writer.put(
            MESSAGE_START_BY_PROCESS, (value.bpmn_process_id, value.message_name), EMPTY
        )

    def remove_start_subscription(self, message_name: str, bpmn_process_id: str) -> None:
        self._writer.delete(MESSAGE_START_SUBSCRIPTIONS, (message_name, bpmn_process_id))
        self._writer.delete(MESSAGE_START_BY_PROCESS, (bpmn_process_id, message_name))

    def started_instance(self, bpmn_process_id: str, correlation_key: str) -> int | None:
        """The active instance a message with this correlation key started, if any."""
        return self._reader.get(MESSAGE_START_INSTANCES, (bpmn_process_id, correlation_key))

    def start_of(self, process_instance_key: int) -> tuple[str, str] | None:
        """(bpmn process id, correlation key) of an instance a keyed message started."""
        raw = self._reader.get(MESSAGE_START_KEYS, process_instance_key)
        return None if raw is None else (raw[0], raw[1])

    def hold_start(self, bpmn_process_id: str, correlation_key: str, instance_key: int) -> None:
        assert instance_key != NO_KEY
        self._writer.put(MESSAGE_START_INSTANCES, (bpmn_process_id, correlation_key), instance_key)
        self._writer.put(MESSAGE_START_KEYS, instance_key, [bpmn_process_id, correlation_key])

    def release_start(self, instance_key: int) -> None:
        held = self.start_of(instance_key)
        if held is not None:
            self._writer.delete(MESSAGE_START_INSTANCES, held)
            self._writer.delete(MESSAGE_START_KEYS, instance_key)

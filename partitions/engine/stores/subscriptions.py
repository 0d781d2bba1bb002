"""Message subscriptions on the partition of the waiting process instance: one per (element
instance key, message name), with where it stands:

- OPENING: registered on the message's partition by a send not answered yet;
- OPEN: registered there (its CREATE was processed);
- CLOSING: the element left while it was OPENING; it is deleted there once the CREATE is
  answered (never both in flight, see engine/distribution.py).

`last_message_key` is the last message correlated through it (NO_KEY before any): a message at
or below it is never correlated again (messages of one subscription are correlated in the order
of their keys, one at a time)."""

from typing import NamedTuple

from raybee.partitions.protocol import NO_KEY, ProcessMessageSubscriptionRecordValue

from ..families import PROCESS_SUBSCRIPTIONS

OPENING, OPEN, CLOSING = "OPENING", "OPEN", "CLOSING"
_validate = ProcessMessageSubscriptionRecordValue.model_validate


class ProcessSubscription(NamedTuple):
    value: ProcessMessageSubscriptionRecordValue
    state: str = OPENING
    last_message_key: int = NO_KEY


class SubscriptionStore:
    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    def get(self, element_instance_key: int, message_name: str) -> ProcessSubscription | None:
        raw = self._reader.get(PROCESS_SUBSCRIPTIONS, (element_instance_key, message_name))
        return None if raw is None else _decode(raw)

    def of_element(self, element_instance_key: int) -> list[ProcessSubscription]:
        return [
            _decode(raw)
            for _, raw in self._reader.prefix(PROCESS_SUBSCRIPTIONS, (element_instance_key,))
        ]

    def put(self, subscription: ProcessSubscription) -> None:
        value = subscription.value
        self._writer.put(
            PROCESS_SUBSCRIPTIONS,
            (value.element_instance_key, value.message_name),
            [value.model_dump(mode="json"), subscription.state, subscription.last_message_key],
        )

    def remove(self, element_instance_key: int, message_name: str) -> None:
        slot = (element_instance_key, message_name)
        assert self._reader.get(PROCESS_SUBSCRIPTIONS, slot) is not None, slot
        self._writer.delete(PROCESS_SUBSCRIPTIONS, slot)


def _decode(raw) -> ProcessSubscription:
    value, state, last = raw
    return ProcessSubscription(_validate(value), state, last)

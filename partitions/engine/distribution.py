"""Between partitions: send this command to that partition, until it has been processed there.

The one interface: `send(ctx, partition_id, intent, key, value)` from any processor. Deployment
distribution and message correlation use it; the host only delivers the records a processed
batch hands it in `ProcessingResult.partition_commands`, after commit, best effort (a delivery
may be lost, repeated or late).

How a send arrives exactly once
-------------------------------
- The sender draws a send key and writes `COMMAND_DISTRIBUTION STARTED` (its applier keeps the
  send, due to be sent again at the command's time + `RESEND_INTERVAL_MS`), and hands the host
  a `DISTRIBUTE` command carrying the command (its value type, intent, key and value JSON).
- The receiver processes `DISTRIBUTE` by running the carried command's processor (the
  `DISTRIBUTED_PROCESSORS` table: only those commands may arrive this way) as if the command
  had been written to its own log; what that writes is the answer. It then writes `RECEIVED`
  (a receipt: the send key and the answer - how the command was rejected, NONE if it was not,
  and why - kept for `RECEIPT_RETENTION_MS`) and hands the host an `ACKNOWLEDGE` with the
  answer for the sender (the partition of the send key).
- A repeated `DISTRIBUTE` whose receipt is kept is not processed again: it is rejected
  (ALREADY_EXISTS, naming the first answer) and acknowledged again with the first answer. So
  every receiver is idempotent, whatever its command, and the sender hears one answer.
- The sender processes `ACKNOWLEDGE`: `ACKNOWLEDGED` removes the send, and the acknowledgement
  hook of the carried command (`ACKNOWLEDGEMENT_HOOKS` in processors/command_distribution.py)
  runs with the answer. A repeated acknowledgement finds nothing pending and is rejected
  (NOT_FOUND), changing nothing.
- `PendingSends` (due work) proposes `RESEND` for every send due: `RESENT` moves its next due
  time on, and the `DISTRIBUTE` goes out again - until it is acknowledged.

A send to the partition itself is a follow-up `DISTRIBUTE` command (no send key): processed in
the same batch (atomically), with the hook run right after the carried command; nothing is kept,
received or acknowledged.

What this assumes: a delivery arrives within `RECEIPT_RETENTION_MS` of the first copy being
processed, or not at all (a copy later than that would be processed again). Commands whose
order matters are sent one after the other's acknowledgement (a subscription's DELETE after its
CREATE), never both in flight.
"""

from collections.abc import Iterator
from enum import IntEnum

from raybee.partitions.protocol import (
    MODEL_VALUE_TYPES,
    NO_KEY,
    CommandDistributionIntent,
    CommandDistributionRecordValue,
    Record,
    RecordValue,
    ValueType,
    partition_of_key,
)

RESEND_INTERVAL_MS = 5_000
RECEIPT_RETENTION_MS = 10 * 60_000
# Each new receipt forgets at most this many expired ones (in its applier, so replay forgets
# the same): receipts never pile up beyond what arrives within the retention.
RECEIPTS_FORGOTTEN_PER_RECEIPT_MAX = 8
assert RECEIPT_RETENTION_MS > 10 * RESEND_INTERVAL_MS, "a receipt outlives many resends"

DISTRIBUTION = ValueType.COMMAND_DISTRIBUTION
_EMPTY = CommandDistributionRecordValue()


def send(ctx, partition_id: int, intent: IntEnum, key: int, value: RecordValue) -> int:
    """Send the command (value type of `value`, `intent`, `key`) to partition `partition_id`
    until it is processed there; the send key."""
    assert 1 <= partition_id <= ctx.partition_count, (partition_id, ctx.partition_count)
    value_type = MODEL_VALUE_TYPES[type(value)]
    carried = CommandDistributionRecordValue(
        partition_id=partition_id,
        value_type=int(value_type),
        intent=int(intent),
        command_key=key,
        command_value=type(value).__pydantic_serializer__.to_json(value).decode(),
    )
    if partition_id == ctx.partition_id:
        # No send key: nothing is kept, and a key no event carries would be a key replay
        # does not know was issued.
        ctx.append_command(NO_KEY, CommandDistributionIntent.DISTRIBUTE, carried)
        return NO_KEY
    send_key = ctx.next_key()
    ctx.append_event(send_key, CommandDistributionIntent.STARTED, carried)
    ctx.send_to_partition(partition_id, distribute_command(send_key, carried))
    return send_key


def distribute_command(send_key: int, carried: CommandDistributionRecordValue) -> Record:
    return Record(DISTRIBUTION, CommandDistributionIntent.DISTRIBUTE, carried, key=send_key)


def acknowledge_command(
    send_key: int, receiver: int, carried, rejection_type: int, reason: str
) -> Record:
    """What the receiver sends back: the send key and the answer (not the command value)."""
    value = CommandDistributionRecordValue(
        partition_id=receiver,
        value_type=carried.value_type,
        intent=carried.intent,
        command_key=carried.command_key,
        rejection_type=int(rejection_type),
        rejection_reason=reason,
    )
    return Record(DISTRIBUTION, CommandDistributionIntent.ACKNOWLEDGE, value, key=send_key)


def sender_of(send_key: int) -> int:
    """The partition that sent it: send keys are drawn from the sender's key space."""
    return partition_of_key(send_key)


def without_command(carried: CommandDistributionRecordValue) -> CommandDistributionRecordValue:
    """The value with its command left out (for records that need only the header)."""
    return CommandDistributionRecordValue(
        partition_id=carried.partition_id,
        value_type=carried.value_type,
        intent=carried.intent,
        command_key=carried.command_key,
        rejection_type=carried.rejection_type,
        rejection_reason=carried.rejection_reason,
    )


class PendingSends:
    """Due work: every send not acknowledged by its due time is sent again."""

    name = "pending sends"

    def due(self, state, now_ms: int) -> Iterator[tuple[int, Record]]:
        for due_ms, send_key in state.distribution.due_before(now_ms):
            yield (
                due_ms,
                Record(DISTRIBUTION, CommandDistributionIntent.RESEND, _EMPTY, key=send_key),
            )

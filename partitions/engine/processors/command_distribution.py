"""COMMAND_DISTRIBUTION DISTRIBUTE (on the receiver), ACKNOWLEDGE and RESEND (on the sender): a
command sent to another partition until processed there. See engine/distribution.py."""

from raybee.partitions.protocol import (
    VALUE_MODELS,
    CommandDistributionIntent,
    MessageSubscriptionIntent,
    ProcessMessageSubscriptionIntent,
    Record,
    RejectionType,
    ValueType,
    evolve,
    intent_of,
)

from ..bpmn_behaviors import messages, subscriptions
from ..context import ProcessingContext
from ..distribution import (
    acknowledge_command,
    distribute_command,
    sender_of,
    without_command,
)

I = CommandDistributionIntent  # noqa: E741

# What the sender does once a command it sent was processed: hook(ctx, command value, rejection
# type (NONE: taken), reason), by (value type, intent) of the command. Commands without a hook
# need nothing more.
ACKNOWLEDGEMENT_HOOKS = {
    (ValueType.MESSAGE_SUBSCRIPTION, MessageSubscriptionIntent.CREATE): subscriptions.registered,
    (ValueType.PROCESS_MESSAGE_SUBSCRIPTION, ProcessMessageSubscriptionIntent.CORRELATE): (
        messages.correlation_answered
    ),
}


def _carried(value):
    """(value type, intent) of the carried command; ValueError when they do not exist."""
    value_type = ValueType(value.value_type)
    return value_type, intent_of(value_type, value.intent)


def _run_hook(ctx, carried, rejection_type: int, reason: str) -> None:
    value_type, intent = _carried(carried)
    hook = ACKNOWLEDGEMENT_HOOKS.get((value_type, intent))
    if hook is not None:
        command_value = VALUE_MODELS[value_type].model_validate_json(carried.command_value)
        hook(ctx, command_value, RejectionType(rejection_type), reason)


class Distribute:
    def __init__(self) -> None:
        self._processors: dict = {}

    def _processor(self, value_type, intent):
        from . import DISTRIBUTED_PROCESSORS  # the table imports this module

        cls = DISTRIBUTED_PROCESSORS.get((value_type, intent))
        if cls is None:
            return None
        processor = self._processors.get(cls)
        if processor is None:
            processor = self._processors[cls] = cls()
        return processor

    def process(self, command, ctx: ProcessingContext) -> None:
        carried = command.value
        send_key = command.key
        # A send to this partition is a follow-up command of the batch that sent it.
        local = command.source_record_position >= 0
        try:
            value_type, intent = _carried(carried)
        except ValueError:
            value_type = intent = None
        processor = None if intent is None else self._processor(value_type, intent)
        if processor is None:
            reason = (
                f"Expected a command another partition may send, but value type "
                f"{carried.value_type} intent {carried.intent} is none"
            )
            ctx.reject(RejectionType.INVALID_ARGUMENT, reason)
            if not local:
                self._acknowledge(ctx, send_key, carried, RejectionType.INVALID_ARGUMENT, reason)
            return
        if not local:
            receipt = ctx.state.distribution.receipt(send_key)
            if receipt is not None:
                answer = RejectionType(receipt.rejection_type).name
                ctx.reject(
                    RejectionType.ALREADY_EXISTS,
                    f"Expected a send not processed yet, but send '{send_key}' from partition "
                    f"{sender_of(send_key)} was processed before (rejection: {answer})",
                )
                self._acknowledge(
                    ctx, send_key, carried, receipt.rejection_type, receipt.rejection_reason
                )
                return
        inner = Record(
            value_type,
            intent,
            VALUE_MODELS[value_type].model_validate_json(carried.command_value),
            key=carried.command_key,
            position=command.position,
            timestamp_ms=command.timestamp_ms,
            partition_id=command.partition_id,
        )
        inner_ctx = ctx.inner(inner)
        processor.process(inner, inner_ctx)
        rejection = inner_ctx.rejection
        rejection_type = RejectionType.NONE if rejection is None else rejection.rejection_type
        reason = "" if rejection is None else rejection.rejection_reason
        if local:
            _run_hook(ctx, carried, rejection_type, reason)
            return
        ctx.append_event(
            send_key,
            I.RECEIVED,
            evolve(
                without_command(carried),
                rejection_type=int(rejection_type),
                rejection_reason=reason,
            ),
        )
        self._acknowledge(ctx, send_key, carried, rejection_type, reason)

    def _acknowledge(self, ctx, send_key, carried, rejection_type, reason) -> None:
        ack = acknowledge_command(send_key, ctx.partition_id, carried, rejection_type, reason)
        ctx.send_to_partition(sender_of(send_key), ack)


class Acknowledge:
    def process(self, command, ctx: ProcessingContext) -> None:
        pending = ctx.state.distribution.pending(command.key)
        if pending is None:
            return ctx.reject(
                RejectionType.NOT_FOUND,
                f"Expected a pending send with key '{command.key}' to acknowledge, but there is "
                f"none (acknowledged before?)",
            )
        answer = command.value
        ctx.append_event(
            command.key,
            I.ACKNOWLEDGED,
            evolve(
                without_command(pending.value),
                rejection_type=answer.rejection_type,
                rejection_reason=answer.rejection_reason,
            ),
        )
        _run_hook(ctx, pending.value, answer.rejection_type, answer.rejection_reason)


class Resend:
    def process(self, command, ctx: ProcessingContext) -> None:
        pending = ctx.state.distribution.pending(command.key)
        if pending is None:
            return ctx.reject(
                RejectionType.NOT_FOUND,
                f"Expected a pending send with key '{command.key}' to send again, but there is "
                f"none (acknowledged meanwhile?)",
            )
        if pending.due_ms > ctx.now_ms:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected send '{command.key}' to be due, but it is due at {pending.due_ms}, "
                f"after {ctx.now_ms}",
            )
        ctx.append_event(command.key, I.RESENT, without_command(pending.value))
        ctx.send_to_partition(
            pending.value.partition_id, distribute_command(command.key, pending.value)
        )

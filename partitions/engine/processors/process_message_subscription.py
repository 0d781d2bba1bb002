"""PROCESS_MESSAGE_SUBSCRIPTION CORRELATE: a message for a subscription of this partition, sent
by the partition of the message (it arrives only inside COMMAND_DISTRIBUTION DISTRIBUTE)."""

from ..bpmn_behaviors import subscriptions
from ..context import ProcessingContext


class CorrelateProcessMessageSubscription:
    def process(self, command, ctx: ProcessingContext) -> None:
        subscriptions.correlate(ctx, command)

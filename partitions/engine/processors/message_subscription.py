"""MESSAGE_SUBSCRIPTION CREATE and DELETE: sent by the partition of a waiting instance to the
partition of the correlation key (they arrive only inside COMMAND_DISTRIBUTION DISTRIBUTE)."""

from ..bpmn_behaviors import messages
from ..context import ProcessingContext


class CreateMessageSubscription:
    def process(self, command, ctx: ProcessingContext) -> None:
        messages.create_subscription(ctx, command)


class DeleteMessageSubscription:
    def process(self, command, ctx: ProcessingContext) -> None:
        messages.delete_subscription(ctx, command)
